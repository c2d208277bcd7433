// StandardFeatures: the plugins every agent runs (policy engine, class control, app
// installer, web filter, usage collector), added in one place so that preau-agent, the
// fleet simulator and the tests run the same agent. Adding a plugin is one line in
// standard_features.cc.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "agent/config/agent_config.h"

#include "agent/control/teacher_state.h"
#include "agent/core/agent.h"

namespace preau::agent {

struct FeatureOptions {
  // Where the web filter's resolver listens; empty: no resolver (simulated fleets).
  std::string dns_listen;
  // The agent's state folder, where plugins keep files (app downloads resume from there);
  // empty: a per-device folder under the system's temporary directory.
  std::string state_dir;
  // The device's agent.conf (preau-agent on a real device): the filter then manages the
  // system's DNS path when the policy enables it. Null: the system is never touched.
  const AgentConfig* config = nullptr;
  // The filter guard's argv (see agent/filter/filter_guard.h); empty: none.
  std::vector<std::string> filter_guard;
  // How often the policy is enforced again.
  std::chrono::milliseconds policy_enforce_every{60'000};
  // How often usage is collected and ended days looked for.
  std::chrono::milliseconds usage_check_every{60'000};
};

// Plugins that must agree (class control and the policy engine) share `teacher`, which
// lives as long as the agent.
void AddStandardFeatures(Agent& agent, const FeatureOptions& opts);

}  // namespace preau::agent
