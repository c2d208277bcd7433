// preau-server: `init` creates a data folder, `run` serves it (see CLI.md).
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>

#include "common/mutex_checks.h"
#include "common/stop_signals.h"
#include "common/duration.h"
#include "common/files.h"
#include "server/pki/server_keys.h"
#include "server/server.h"

namespace {

int Fail(const preau::Status& st) {
  std::fprintf(stderr, "preau-server: %s\n", st.message().c_str());
  return 1;
}

// Each connection costs a descriptor: take the whole file limit the system allows (the
// soft limit is often 1024 while the hard one is far higher), and say what it is.
void RaiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t before = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
  }
  if (rl.rlim_cur != before) {
    std::fprintf(stderr, "preau-server: file limit raised from %llu to %llu\n",
                 static_cast<unsigned long long>(before),
                 static_cast<unsigned long long>(rl.rlim_cur));
  } else {
    std::fprintf(stderr, "preau-server: file limit %llu (already the most allowed)\n",
                 static_cast<unsigned long long>(rl.rlim_cur));
  }
}

int RunServer(const preau::server::RunOptions& opts, const std::string& port_file) {
  // Block the stop signals in every thread; one waits for them below.
  sigset_t set = preau::BlockStopSignals();
  RaiseFileLimit();

  auto server = preau::server::Server::Start(opts);
  if (!server.ok()) return Fail(server.status());
  std::fprintf(stderr, "preau-server: listening on port %d (at most %zu connections at once)\n",
               (*server)->port(), (*server)->connection_stats().cap);
  if ((*server)->console_port() != 0) {
    std::fprintf(stderr, "preau-server: teachers' console on https port %d\n",
                 (*server)->console_port());
  }
  if (!port_file.empty()) {
    auto st = preau::WriteFileAtomic(port_file, std::to_string((*server)->port()) + "\n");
    if (!st.ok()) return Fail(st);
  }
  int sig = 0;
  sigwait(&set, &sig);
  std::fprintf(stderr, "preau-server: %s received, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Shutdown();
  (*server)->Wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  preau::TurnOffMutexDeadlockDetection();  // before gRPC takes its first mutex
  CLI::App app{"Préau server: fleet manager for school devices"};
  app.require_subcommand(1);

  preau::server::InitOptions init;
  auto* init_cmd = app.add_subcommand("init", "Create a data folder (store, CA, keys, admin credentials)");
  init_cmd->add_option("--data", init.data_dir, "Data folder to create")->required();
  init_cmd->add_option("--name", init.authority_name, "Name of the authority");
  init_cmd->add_option("--host", init.hosts, "Extra host name or address for the server certificate");
  init_cmd->add_option("--server-address", init.admin_server_address,
                       "Address written into admin.credentials (default localhost:7443)");
  init_cmd->add_option("--store", init.store,
                       "Keep the store in PostgreSQL (default: SQLite in --data)")
      ->type_name("postgresql://USER@HOST:PORT/DB");

  preau::server::RunOptions run;
  std::string port_file;
  auto* run_cmd = app.add_subcommand("run", "Serve a data folder");
  run_cmd->add_option("--data", run.data_dir, "Data folder")->required();
  run_cmd->add_option("--listen", run.listen, "Address to listen on (port 0 picks one)");
  run_cmd->add_option("--port-file", port_file, "Write the chosen port here once listening");
  run_cmd->add_option("--max-connections", run.max_connections,
                      "Connections served at once (default 50000, lowered to fit the file limit)");
  run_cmd->add_option("--admit-connects", run.admit_connects_per_s,
                      "Device connections let in per second; more are told to retry later "
                      "(0: no limit)")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option("--admit-enrolments", run.admit_enrolments_per_s,
                      "Enrolments let in per second; more are told to retry later (0: no limit)")
      ->check(CLI::NonNegativeNumber);
  run_cmd->add_option("--handshake-timeout-ms", run.handshake_timeout_ms,
                      "Close a connection that has not finished its TLS handshake by then");
  run_cmd->add_option("--idle-timeout-ms", run.idle_timeout_ms,
                      "Close a connection with no call in flight for this long");
  run_cmd->add_option("--console-listen", run.console_listen,
                      "Serve the teachers' console over HTTPS here (off unless given)")
      ->type_name("ADDR:PORT");

  std::string rotate_dir;
  std::vector<std::string> rotate_hosts;
  auto* rotate_cmd = app.add_subcommand(
      "rotate-cert", "Replace the server's TLS certificate and key (same CA; restart the "
                     "server to use them)");
  rotate_cmd->add_option("--data", rotate_dir, "Data folder")->required();
  rotate_cmd->add_option("--host", rotate_hosts, "Extra host name or address to name");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*init_cmd) {
    auto st = preau::server::InitDataDir(init);
    if (!st.ok()) return Fail(st);
    std::printf("Created %s\n  CA for agents:        %s/ca.pem\n  admin credentials:    %s/admin.credentials\n",
                init.data_dir.c_str(), init.data_dir.c_str(), init.data_dir.c_str());
    return 0;
  }
  if (*rotate_cmd) {
    auto cert = preau::server::RotateServerCertificate(rotate_dir, rotate_hosts);
    if (!cert.ok()) return Fail(cert.status());
    std::printf("New server certificate %s in %s/server.pem, valid until %s; restart the "
                "server to use it (agents trust the CA and reconnect by themselves)\n",
                cert->serial_hex.c_str(), rotate_dir.c_str(),
                preau::FormatLocalTime(cert->not_after_unix * 1000).c_str());
    return 0;
  }
  return RunServer(run, port_file);
}
