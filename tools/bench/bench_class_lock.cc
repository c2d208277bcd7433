// Class lock benchmark: how long a teacher waits, from `class lock` on a class of 30 to
// the last device's ack, with a whole fleet connected to the same server.
//
//   bench_class_lock [devices=5000] [runs=100] [class_size=30]
//
// A real server (SQLite file, mTLS) on 127.0.0.1:0, in a child process of the benchmark,
// and a Fleet of simulated agents in the benchmark's process (in-memory state, each with
// its own key, TLS connection and stream).
// Alternates lock and unlock on the class; each ClassService.Run returns when every
// device acked, so its round trip is the teacher's wait. Beside it, in the same run and
// on the same channel, the round trip of a bare unary call (AdminService.WhoAmI) gives
// the floor that gRPC + TLS + loopback cost on this machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "common/credentials.h"
#include "common/files.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/command.grpc.pb.h"
#include "server/server.h"
#include "tools/bench/admin_calls.h"
#include "tools/bench/child_server.h"
#include "tools/bench/class_lock_runs.h"
#include "tools/bench/stats.h"
#include "tools/sim/fleet.h"

namespace {

using SteadyClock = std::chrono::steady_clock;

using preau::bench::Ms;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_class_lock: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<preau::sim::Fleet> StartFleet(int port, const std::string& ca,
                                              const std::string& token, size_t count,
                                              size_t first_seed) {
  preau::sim::FleetOptions o;
  o.server = "127.0.0.1:" + std::to_string(port);
  o.ca_pem = ca;
  o.token = token;
  o.count = count;
  o.first_seed = first_seed;
  auto f = preau::sim::Fleet::Start(o);
  if (!f.ok()) Die("fleet: " + f.status().message());
  return std::move(f).value();
}

}  // namespace

int main(int argc, char** argv) {
  size_t devices = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 5000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 100;
  size_t class_size = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 30;
  if (devices < class_size || runs < 2 || class_size == 0) Die("usage: bench_class_lock [devices] [runs] [class_size]");
  preau::sim::RaiseFileLimit();

  char tmpl[] = "/tmp/bench-class-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  std::string data = std::string(tmpl) + "/server";
  preau::server::InitOptions init;
  init.data_dir = data;
  if (auto st = preau::server::InitDataDir(init); !st.ok()) Die(st.message());
  // The server runs in a child process, forked before gRPC starts in either: one process
  // holding both ends of 5,000 connections would exceed this machine's file limit (20,000).
  preau::bench::ChildServer child(data, [](preau::server::Server& server) {
    return uint64_t{server.core().connections.Count()};  // streams the server holds
  });
  const int port = child.port();
  auto server_streams = [&] { return static_cast<size_t>(child.Ask()); };

  auto creds = preau::LoadCredentials(data + "/admin.credentials");
  if (!creds.ok()) Die(creds.status().message());
  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                          preau::MtlsCredentials(creds->ca_pem, creds->cert_pem, creds->key_pem));
  auto admin = preau::v1::AdminService::NewStub(channel);
  auto klass = preau::v1::ClassService::NewStub(channel);

  const std::string kClass = "ville/jules-ferry/cm2-a", kRest = "ville/autres/ecoles";
  preau::bench::MustCreateGroup(*admin, kClass);
  preau::bench::MustCreateGroup(*admin, kRest);
  auto t0 = SteadyClock::now();
  auto in_class = StartFleet(port, creds->ca_pem, preau::bench::MustCreateToken(*admin, kClass, class_size),
                             class_size, 1);
  std::unique_ptr<preau::sim::Fleet> rest;
  size_t others = devices - class_size;
  if (others > 0) {
    rest = StartFleet(port, creds->ca_pem, preau::bench::MustCreateToken(*admin, kRest, others), others,
                      class_size + 1);
  }
  auto connected = [&] {
    return in_class->Connected() + (rest ? rest->Connected() : 0);
  };
  while (connected() < devices) {
    if (SteadyClock::now() - t0 > std::chrono::minutes(10)) Die("devices did not all connect");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  size_t fds = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++fds;
  std::printf("%zu devices enrolled and connected in %.1f s (server sees %zu streams, %zu fds)\n",
              devices, Ms(SteadyClock::now() - t0) / 1000, server_streams(),
              fds);

  auto times = preau::bench::RunClassLocks(*admin, *klass, kClass, class_size, runs);
  if (!times.ok()) Die(times.status().message());
  preau::bench::PrintClassLocks(*times, class_size, devices, runs);

  in_class->Stop();
  if (rest) rest->Stop();
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return 0;
}
