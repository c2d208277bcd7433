// preau-agent: the unattended Préau agent (see CLI.md).
#include <signal.h>

#include <cstdio>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <CLI/CLI.hpp>

#include "common/stop_signals.h"
#include "agent/core/agent.h"
#include "agent/core/standard_features.h"
#include "common/files.h"

int main(int argc, char** argv) {
  CLI::App app{"Préau agent: enforces the school's policies on this device"};
  preau::agent::AgentOptions opts;
  std::string ca_file, platform_kind = "linux", dns_listen = "127.0.0.53:53";
  app.add_option("--state", opts.state_dir, "State folder (identity, last policy, outbox)")->required();
  app.add_option("--server", opts.server, "Server HOST:PORT (default: the one enrolled with)");
  app.add_option("--enroll", opts.enroll_token, "One-time enrollment token (first run)");
  app.add_option("--ca", ca_file, "The server's CA certificate (first run)");
  app.add_option("--platform", platform_kind, "linux or sim")->check(CLI::IsMember({"linux", "sim"}));
  app.add_option("--name", opts.name, "Device name to ask for at enrolment");
  app.add_option("--dns-listen", dns_listen, "Address of the web filter's resolver");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
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
  auto platform = platform_kind == "sim"
                      ? preau::agent::MakeSimPlatform(std::hash<std::string>{}(opts.state_dir))
                      : preau::agent::MakeLinuxPlatform();
  auto agent = preau::agent::Agent::Create(io, opts, std::move(platform));
  if (!agent.ok()) {
    std::fprintf(stderr, "preau-agent: %s\n", agent.status().message().c_str());
    return 1;
  }
  std::fprintf(stderr, "preau-agent: device %s, server %s\n", (*agent)->device_id().c_str(),
               opts.server.empty() ? "(enrolled)" : opts.server.c_str());
  preau::agent::FeatureOptions features;
  features.dns_listen = dns_listen;
  features.state_dir = opts.state_dir;
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
