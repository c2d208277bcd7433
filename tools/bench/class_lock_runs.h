// ClassLockRuns: what a teacher waits for, measured the same way by every benchmark that
// has a class among a connected fleet: `runs` class commands alternating lock and unlock,
// each returning once every device of the class acked, with five bare unary calls
// (AdminService.WhoAmI) on the same channel before each, the floor of gRPC + TLS +
// loopback on this machine in the same run.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/command.grpc.pb.h"
#include "tools/bench/stats.h"

namespace preau::bench {

struct ClassLockTimes {
  std::vector<double> class_ms;  // one per run: the call to the last ack
  std::vector<double> unary_ms;  // five per run
};

// Fails if a call fails or a run has fewer than `class_size` devices done.
inline Result<ClassLockTimes> RunClassLocks(v1::AdminService::Stub& admin,
                                            v1::ClassService::Stub& klass,
                                            const std::string& group, size_t class_size,
                                            int runs) {
  using Steady = std::chrono::steady_clock;
  // Warm the channel (TLS handshake, HTTP/2 settings) before measuring.
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    v1::Operator me;
    (void)admin.WhoAmI(&ctx, v1::WhoAmIRequest(), &me);
  }
  ClassLockTimes t;
  for (int i = 0; i < runs; ++i) {
    for (int k = 0; k < 5; ++k) {
      grpc::ClientContext ctx;
      v1::Operator me;
      auto a = Steady::now();
      auto st = admin.WhoAmI(&ctx, v1::WhoAmIRequest(), &me);
      t.unary_ms.push_back(Ms(Steady::now() - a));
      if (!st.ok()) return Unavailable("WhoAmI: " + st.error_message());
    }
    v1::ClassCommandRequest req;
    req.set_group(group);
    req.set_kind(i % 2 == 0 ? v1::COMMAND_LOCK : v1::COMMAND_UNLOCK);
    if (i % 2 == 0) req.set_message("Regardez le tableau");
    v1::ClassCommandResponse resp;
    grpc::ClientContext ctx;
    auto a = Steady::now();
    auto st = klass.Run(&ctx, req, &resp);
    t.class_ms.push_back(Ms(Steady::now() - a));
    if (!st.ok()) return Unavailable("class command: " + st.error_message());
    size_t done = 0;
    for (const auto& r : resp.results()) done += r.outcome() == v1::DEVICE_DONE;
    if (done != class_size) {
      return Unavailable("run " + std::to_string(i) + ": only " + std::to_string(done) +
                         " of " + std::to_string(class_size) + " devices acked");
    }
  }
  return t;
}

inline void PrintClassLocks(const ClassLockTimes& t, size_t class_size, size_t devices,
                            int runs) {
  double lp50 = Percentile(t.class_ms, 0.5), lp99 = Percentile(t.class_ms, 0.99);
  double up50 = Percentile(t.unary_ms, 0.5), up99 = Percentile(t.unary_ms, 0.99);
  std::printf("class of %zu among %zu connected devices, %d runs (lock/unlock alternating)\n",
              class_size, devices, runs);
  std::printf("  class command to last ack:  p50 %7.2f ms   p99 %7.2f ms   max %7.2f ms\n", lp50,
              lp99, *std::max_element(t.class_ms.begin(), t.class_ms.end()));
  std::printf("  bare unary call (WhoAmI):   p50 %7.2f ms   p99 %7.2f ms   (%zu calls)\n", up50,
              up99, t.unary_ms.size());
  std::printf("  ratio class/unary:          p50 %7.1fx     p99 %7.1fx\n", lp50 / up50,
              lp99 / up99);
  std::printf("  target p99 < 100 ms: %s\n", lp99 < 100 ? "met" : "NOT met");
}

}  // namespace preau::bench
