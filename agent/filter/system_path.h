// FilterSystemPath: puts the web filter in the device's DNS path and takes it out again —
// the system resolver pointed at the agent (SystemResolver) and the firewall that keeps
// every other resolver out (LinuxFirewall) — with the fail mode recorded beside them, so
// that what happens when the agent is gone is decided on disk, not in a process that may
// have been killed.
//
// Engage: firewall first (the moment the system asks the agent, nothing can walk around
// it), then the resolver. Disengage: the resolver back first, then the firewall removed.
// AfterStop (the agent stopped or died; run by the guard process and by the unit's
// ExecStopPost): fail open puts the system back to its own upstreams; fail closed leaves
// the firewall refusing other resolvers and the system asking an agent that no longer
// answers. Every step is idempotent; the records live in `record_dir`.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/platform/linux_firewall.h"
#include "agent/platform/system_resolver.h"
#include "common/status.h"

namespace preau::agent {

struct AgentConfig;

struct FilterSystemPathOptions {
  SystemResolverOptions resolver;  // its record_dir is set from record_dir
  bool firewall = true;
  LinuxFirewallOptions firewall_options;
  std::string record_dir;
};

// The options agent.conf describes, recording under `filter_dir`/system.
Result<FilterSystemPathOptions> SystemPathOptionsFrom(const AgentConfig& config,
                                                      const std::string& filter_dir);

class FilterSystemPath;
// The system path of the agent whose state folder is `state_dir` (records under
// STATE/filter/system), as `config` describes it.
Result<std::unique_ptr<FilterSystemPath>> SystemPathForState(const AgentConfig& config,
                                                             const std::string& state_dir);

class FilterSystemPath {
 public:
  explicit FilterSystemPath(FilterSystemPathOptions options);

  // Points the system at `address` (the agent answers there on port 53) and loads the
  // firewall. `fail_open` is recorded for AfterStop.
  Status Engage(const std::string& address, bool fail_open);
  Status SetFailOpen(bool fail_open);
  // The addresses refused on 443 (DoH endpoints, agent/filter/doh_addresses.h); reloads
  // the table when in the path and they changed. Kept for the next Engage too.
  Status SetDohAddresses(const std::string& address, std::vector<std::string> doh);
  // Puts everything back as it was before Engage.
  Status Disengage();
  // The agent is gone: fail open disengages, fail closed leaves things as they are.
  Status AfterStop();

  // Whether a record says the filter is in the system's path.
  bool Engaged() const;
  // The cause when the filter is not fully in the path (firewall missing, another
  // resolver in the path); Ok when it is.
  Status Check(const std::string& address) const;
  std::vector<std::string> OriginalUpstreams(const std::string& self) const {
    return resolver_.OriginalUpstreams(self);
  }

 private:
  std::string FailOpenPath() const { return options_.record_dir + "/fail-open"; }
  std::string FirewallPath() const { return options_.record_dir + "/firewall"; }

  FirewallRules Rules(const std::string& address, SystemResolver::Way way) const;
  Status DisengageLocked();

  FilterSystemPathOptions options_;
  // Engage, Disengage, AfterStop and SetDohAddresses run from the agent's strand and from
  // the self-test thread: one at a time.
  mutable std::mutex mu_;
  std::vector<std::string> doh_;
  bool doh_loaded_ = false;  // the table holds doh_
  SystemResolver resolver_;
  LinuxFirewall firewall_;
};

}  // namespace preau::agent
