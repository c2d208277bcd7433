// preau-agent: the unattended Préau agent (see CLI.md).
#include <signal.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <CLI/CLI.hpp>

#include "common/mutex_checks.h"
#include "common/stop_signals.h"
#include "agent/config/agent_config.h"
#include "agent/core/agent.h"
#include "agent/core/standard_features.h"
#include "agent/filter/filter_guard.h"
#include "agent/filter/system_path.h"
#include "common/files.h"

namespace {

constexpr const char* kDefaultState = "/var/lib/preau-agent";

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "preau-agent";
}

// --uninstall, --after-stop, --filter-guard: the system's DNS path only, no server.
int RunSystemStep(const preau::agent::AgentConfig& config, const std::string& state,
                  bool uninstall, bool after_stop, int guard_fd) {
  auto path = preau::agent::SystemPathForState(config, state);
  if (!path.ok()) {
    std::fprintf(stderr, "preau-agent: %s\n", path.status().message().c_str());
    return 1;
  }
  if (guard_fd >= 0) return preau::agent::RunFilterGuard(guard_fd, **path);
  bool engaged = (*path)->Engaged();
  preau::Status st = uninstall ? (*path)->Disengage() : (*path)->AfterStop();
  if (!st.ok()) {
    std::fprintf(stderr, "preau-agent: %s\n", st.message().c_str());
    return 1;
  }
  if (uninstall) {
    std::printf(engaged ? "restored the system's DNS resolver and removed the firewall table\n"
                        : "nothing to restore: the agent had not changed the system\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  preau::TurnOffMutexDeadlockDetection();  // before gRPC takes its first mutex
  CLI::App app{"Préau agent: enforces the school's policies on this device"};
  preau::agent::AgentOptions opts;
  std::string ca_file, platform_kind = "linux", dns_listen, config_file;
  bool uninstall = false, after_stop = false;
  int guard_fd = -1;
  app.add_option("--state", opts.state_dir,
                 std::string("State folder (identity, last policy, outbox); default ") + kDefaultState);
  std::string session_socket = "/run/preau/session.sock";
  app.add_option("--server", opts.server,
                 "Server HOST:PORT, or replicas of it HOST:PORT,HOST:PORT,... (the agent is on "
                 "one and moves to the next when it loses it); default: the one(s) enrolled with");
  app.add_option("--enroll", opts.enroll_token, "One-time enrollment token (first run)");
  app.add_option("--ca", ca_file, "The server's CA certificate (first run)");
  app.add_option("--platform", platform_kind, "linux or sim")->check(CLI::IsMember({"linux", "sim"}));
  app.add_option("--name", opts.name, "Device name to ask for at enrolment");
  app.add_option("--dns-listen", dns_listen,
                 std::string("Address of the web filter's resolver (default: agent.conf's "
                             "dns_listen, else ") + preau::agent::kDefaultDnsListen + ")");
  app.add_option("--config", config_file,
                 std::string("The agent's config file (default ") +
                     preau::agent::kDefaultAgentConfig + ", optional there)");
  app.add_flag("--uninstall", uninstall, "Restore what the agent changed on the system, then exit");
  app.add_flag("--after-stop", after_stop,
               "Apply the web filter's fail mode after the agent stopped (the unit's ExecStopPost)")
      ->group("");
  app.add_option("--filter-guard", guard_fd, "internal: the filter guard process")->group("");
  app.add_option("--session-socket", session_socket,
                 "Socket for preau-session, the desktop side (linux platform)");
  int renew_days = 60;
  app.add_option("--renew-before", renew_days,
                 "Renew the device certificate when it has fewer days left than this")
      ->check(CLI::Range(1, 800));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  bool system_step = uninstall || after_stop || guard_fd >= 0;
  if (opts.state_dir.empty()) {
    if (!system_step) {
      std::fprintf(stderr, "preau-agent: --state is required\n");
      return 2;
    }
    opts.state_dir = kDefaultState;
  }
  // Read strictly before anything is done: a bad file changes nothing on the system.
  auto config = preau::agent::LoadAgentConfig(
      config_file.empty() ? preau::agent::kDefaultAgentConfig : config_file,
      /*must_exist=*/!config_file.empty());
  if (!config.ok()) {
    std::fprintf(stderr, "preau-agent: %s\n", config.status().message().c_str());
    return 1;
  }
  if (!dns_listen.empty()) {
    auto parsed = preau::agent::ParseListenAddress(dns_listen);
    if (!parsed.ok()) {
      std::fprintf(stderr, "preau-agent: --dns-listen: %s\n", parsed.status().message().c_str());
      return 2;
    }
    config->dns_listen = dns_listen;
  }
  if (system_step) return RunSystemStep(*config, opts.state_dir, uninstall, after_stop, guard_fd);
  opts.renew_before = std::chrono::hours(24 * renew_days);
  if (!ca_file.empty()) {
    auto ca = preau::ReadFile(ca_file);
    if (!ca.ok()) {
      std::fprintf(stderr, "preau-agent: --ca: %s\n", ca.status().message().c_str());
      return 1;
    }
    opts.ca_pem = *ca;
  }

  sigset_t set = preau::BlockStopSignals();

  boost::asio::io_context io(1);
  bool sim = platform_kind == "sim";
  preau::agent::LinuxSessionOptions session;
  session.socket_path = session_socket;
  auto platform = sim ? preau::agent::MakeSimPlatform(std::hash<std::string>{}(opts.state_dir))
                      : preau::agent::MakeLinuxPlatform({}, "/", session);
  auto agent = preau::agent::Agent::Create(io, opts, std::move(platform));
  if (!agent.ok()) {
    std::fprintf(stderr, "preau-agent: %s\n", agent.status().message().c_str());
    return 1;
  }
  std::fprintf(stderr, "preau-agent: device %s, server %s\n", (*agent)->device_id().c_str(),
               opts.server.empty() ? "(enrolled)" : opts.server.c_str());
  preau::agent::FeatureOptions features;
  features.dns_listen = config->dns_listen;
  features.state_dir = opts.state_dir;
  if (!sim) {  // a simulated device never touches this machine's DNS
    features.config = &*config;
    features.filter_guard = {SelfExe(), "--filter-guard", "{fd}", "--state", opts.state_dir};
    if (!config_file.empty()) {
      features.filter_guard.push_back("--config");
      features.filter_guard.push_back(config_file);
    }
  }
  preau::agent::AddStandardFeatures(**agent, features);
  auto work = boost::asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  (*agent)->Start();
  int sig = 0;
  sigwait(&set, &sig);
  (*agent)->Stop();
  work.reset();
  io.stop();
  loop.join();
  return 0;
}
