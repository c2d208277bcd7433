// preau-sim: runs N simulated devices in one process against a Préau server, for demos
// and load. Each device enrols with the token the first time (keeping its identity under
// --state-root if given), then holds its own mTLS stream until SIGTERM / SIGINT.
#include <signal.h>

#include <cstdio>

#include <CLI/CLI.hpp>

#include "common/mutex_checks.h"
#include "common/stop_signals.h"
#include "common/files.h"
#include "tools/sim/fleet.h"

int main(int argc, char** argv) {
  preau::TurnOffMutexDeadlockDetection();  // before gRPC takes its first mutex
  CLI::App app{"Préau fleet simulator: N simulated tablets and displays in one process"};
  preau::sim::FleetOptions opts;
  std::string ca_file;
  double run_for = 0;
  app.add_option("--server", opts.server,
                 "Server HOST:PORT, or replicas HOST:PORT,HOST:PORT,... (each device starts on "
                 "one, in turn, and moves to the next when it loses it)")->required();
  app.add_option("--ca", ca_file, "The server's CA certificate")->required();
  app.add_option("--enroll", opts.token, "Enrollment token (with enough uses for --count)");
  app.add_option("--count,-n", opts.count, "Number of devices");
  app.add_option("--state-root", opts.state_root, "Keep each device's state under this folder");
  app.add_option("--first-seed", opts.first_seed, "Seed of the first device (models, serials)");
  app.add_option("--threads", opts.threads, "Event-loop threads");
  app.add_option("--for", run_for, "Stop after this many seconds once all are connected (0: until a signal)");
  std::string status_file;
  app.add_option("--status-file", status_file,
                 "Rewrite FILE every second with 'CONNECTED COUNT' (for benchmarks)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto ca = preau::ReadFile(ca_file);
  if (!ca.ok()) {
    std::fprintf(stderr, "preau-sim: --ca: %s\n", ca.status().message().c_str());
    return 1;
  }
  opts.ca_pem = *ca;
  sigset_t set = preau::BlockStopSignals();

  auto fleet = preau::sim::Fleet::Start(opts);
  if (!fleet.ok()) {
    std::fprintf(stderr, "preau-sim: %s\n", fleet.status().message().c_str());
    return 1;
  }
  std::fprintf(stderr, "preau-sim: %zu devices ready in %.2f s (%.0f devices/s)\n", (*fleet)->size(),
               (*fleet)->enroll_seconds(), (*fleet)->size() / std::max(1e-9, (*fleet)->enroll_seconds()));
  auto write_status = [&] {
    if (status_file.empty()) return;
    (void)preau::WriteFileAtomic(status_file, std::to_string((*fleet)->Connected()) + " " +
                                                  std::to_string((*fleet)->size()) + "\n");
  };
  // Waits up to `seconds` for a stop signal, rewriting the status file every second;
  // true if a signal came.
  auto wait_signal = [&](double seconds) {
    auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
      write_status();
      struct timespec ts = {1, 0};
      siginfo_t info;
      if (sigtimedwait(&set, &info, &ts) > 0) return true;
    }
    return false;
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (int i = 0; (*fleet)->Connected() < (*fleet)->size() &&
                  std::chrono::steady_clock::now() < deadline; ++i) {
    if (i % 20 == 0) write_status();
    struct timespec ts = {0, 50'000'000};
    siginfo_t info;
    if (sigtimedwait(&set, &info, &ts) > 0) {
      (*fleet)->Stop();
      return 0;
    }
  }
  std::fprintf(stderr, "preau-sim: %zu/%zu connected\n", (*fleet)->Connected(), (*fleet)->size());
  wait_signal(run_for > 0 ? run_for : 1e12);
  (*fleet)->Stop();
  return 0;
}
