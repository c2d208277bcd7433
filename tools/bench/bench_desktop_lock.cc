// Desktop lock benchmark: how long a teacher waits for a *verified* lock on a real Linux
// desktop, against the same command on the simulated platform, in the same run.
//
//   bench_desktop_lock [runs=30]
//
// One real server (in-process, SQLite file, mTLS on 127.0.0.1:0), two agents in their
// own event loops: one on the `linux` platform with `preau-session` in an Xvfb display
// run by openbox (the lock is acked DONE only once the session verified it: window on
// top of every screen, keyboard and pointer grabbed), one on the simulated platform.
// Each run sends ClassService.Run(lock) to one device's class and times the call until
// the device's ack, then unlocks (timed too). Linux and sim rounds alternate (and which
// goes first alternates), so load on the machine falls on both alike. Prints p50/p90/max per platform and the ratio.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include "agent/platform/platform.h"
#include "common/files.h"
#include "preau/v1/command.grpc.pb.h"
#include "tests/support/harness.h"
#include "tests/support/x_desktop.h"
#include "tools/bench/stats.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
using preau::testing::TempDir;
using preau::testing::TestAgent;
using preau::testing::TestServer;

using preau::bench::Ms;
using preau::bench::Percentile;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_desktop_lock: %s\n", what.c_str());
  std::exit(1);
}

// One ClassService.Run; dies unless the one device acked DONE. Returns its duration.
double Run(preau::v1::ClassService::Stub& cls, const std::string& group,
           preau::v1::CommandKind kind) {
  preau::v1::ClassCommandRequest req;
  req.set_group(group);
  req.set_kind(kind);
  req.set_message("Regardez le tableau");
  req.set_wait_ms(10'000);
  preau::v1::ClassCommandResponse resp;
  grpc::ClientContext ctx;
  auto start = SteadyClock::now();
  auto st = cls.Run(&ctx, req, &resp);
  double ms = Ms(SteadyClock::now() - start);
  if (!st.ok()) Die(group + ": " + st.error_message());
  if (resp.results_size() != 1 || resp.results(0).outcome() != preau::v1::DEVICE_DONE) {
    Die(group + ": not done: " +
        (resp.results_size() ? resp.results(0).detail() : std::string("no device")));
  }
  return ms;
}

void Print(const char* what, const std::vector<double>& v) {
  std::printf("%-28s p50 %7.2f ms   p90 %7.2f ms   max %7.2f ms\n", what, Percentile(v, 0.5),
              Percentile(v, 0.9), *std::max_element(v.begin(), v.end()));
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 30;
  if (runs <= 0) Die("runs must be a positive number");
  TempDir dir;
  TestServer server(dir.path());
  const std::string linux_class = "bench/ecole/linux", sim_class = "bench/ecole/sim";
  server.CreateGroup(linux_class);
  server.CreateGroup(sim_class);
  std::string teacher =
      server.CreateOperator(dir.path(), "bench.teacher", preau::v1::ROLE_TEACHER, {"bench"});

  // The Linux device: its own X display and window manager, its session program.
  if (mkdir((dir / "x").c_str(), 0755) != 0) Die("mkdir");
  auto desktop = preau::testing::XDesktop::Start(dir / "x");
  if (!desktop.ok()) Die("desktop: " + desktop.status().message());
  preau::testing::TestAgentOptions lo;
  preau::agent::LinuxCommands c;
  c.lock = c.unlock = "true";  // the session locker fallback: never used while verified
  c.is_locked = "";
  c.wifi_on = c.wifi_off = c.wifi_state = c.open_url = "";
  preau::agent::LinuxSessionOptions s;
  s.socket_path = dir / "session.sock";
  uid_t me = getuid();
  s.allow_peer = [me](uint32_t uid) { return uid == me ? "" : "another user"; };
  lo.platform = preau::agent::MakeLinuxPlatform(c, "/", s);
  auto linux_agent = TestAgent::Start(server, dir / "linux", server.CreateToken(linux_class, 1),
                                      std::move(lo));
  if (!linux_agent.ok()) Die("linux agent: " + linux_agent.status().message());
  auto session = (*desktop)->Launch(
      {std::string(PREAU_BENCH_BINARY_DIR) + "/preau-session", "--socket", s.socket_path},
      "session.log");
  if (!session.ok()) Die("preau-session: " + session.status().message());
  auto sim_agent = TestAgent::Start(server, dir / "sim", server.CreateToken(sim_class, 1), 7);
  if (!sim_agent.ok()) Die("sim agent: " + sim_agent.status().message());
  if (!(*linux_agent)->WaitConnected() || !(*sim_agent)->WaitConnected()) Die("not connected");
  if (!preau::testing::WaitUntil([&] {
        auto log = preau::ReadFile(dir / "x/session.log");
        return log.ok() && log->find("connected to the agent") != std::string::npos;
      })) {
    Die("preau-session did not connect");
  }

  auto channel = preau::testing::OperatorChannel(teacher, server.port());
  preau::v1::ClassService::Stub cls(channel);
  // One warm-up round each (first X window, first SQLite pages).
  Run(cls, linux_class, preau::v1::COMMAND_LOCK);
  Run(cls, linux_class, preau::v1::COMMAND_UNLOCK);
  Run(cls, sim_class, preau::v1::COMMAND_LOCK);
  Run(cls, sim_class, preau::v1::COMMAND_UNLOCK);

  std::vector<double> linux_lock, linux_unlock, sim_lock, sim_unlock;
  auto round = [&](const std::string& group, std::vector<double>* lock,
                   std::vector<double>* unlock) {
    lock->push_back(Run(cls, group, preau::v1::COMMAND_LOCK));
    unlock->push_back(Run(cls, group, preau::v1::COMMAND_UNLOCK));
  };
  for (int i = 0; i < runs; ++i) {
    // Which platform goes first changes every round: neither gets the warmer turn.
    if (i % 2 == 0) {
      round(linux_class, &linux_lock, &linux_unlock);
      round(sim_class, &sim_lock, &sim_unlock);
    } else {
      round(sim_class, &sim_lock, &sim_unlock);
      round(linux_class, &linux_lock, &linux_unlock);
    }
  }
  std::printf("bench_desktop_lock: %d runs each, one device per class\n", runs);
  Print("linux (Xvfb) lock, verified", linux_lock);
  Print("sim lock", sim_lock);
  Print("linux (Xvfb) unlock", linux_unlock);
  Print("sim unlock", sim_unlock);
  std::printf("ratio linux/sim lock p50: x%.2f   unlock p50: x%.2f\n",
              Percentile(linux_lock, 0.5) / Percentile(sim_lock, 0.5),
              Percentile(linux_unlock, 0.5) / Percentile(sim_unlock, 0.5));
  return 0;
}
