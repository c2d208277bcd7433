// PolicyPlugin: the policy engine joined to the agent. It verifies and applies the bundles
// the server pushes (pinned key from enrolment), keeps the last valid one in the agent's
// SQLite state, reports compliance reliably (through the outbox: a report made offline
// reaches the server on reconnection), and keeps enforcing without the server: at start
// from the persisted bundle, then every minute on the agent's strand and whenever a
// teacher's class control changes (TeacherState, shared with the class-control plugin).
//
// Reports: every bundle received (applied or refused, with the reason) is reported; the
// minute ticks report only when a rule's outcome changed since the last report, so an
// idle fleet sends nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "agent/control/teacher_state.h"
#include "agent/core/agent_feature.h"
#include "agent/enforce/app_enforcer.h"
#include "agent/policy/policy_engine.h"
#include "agent/policy/state_policy_store.h"

namespace preau::agent {

struct PolicyPluginOptions {
  std::chrono::milliseconds enforce_every{60'000};  // schedules have minute granularity
  AppInstaller installer;                           // may be empty (see AppEnforcer)
  // Rules beyond the default enforcers (the web filter's), applied after them.
  std::vector<std::unique_ptr<Enforcer>> extra_rules;
  // Given, at Start, a function that enforces and reports again at once (thread-safe): for
  // rules whose outcome changes between ticks, such as the web filter's self-test.
  std::function<void(std::function<void()>)> on_start;
};

class PolicyPlugin final : public AgentFeature {
 public:
  explicit PolicyPlugin(std::shared_ptr<TeacherState> teacher, PolicyPluginOptions options = {});
  ~PolicyPlugin() override;

  std::string Name() const override { return "policy"; }
  void Start(AgentContext& ctx) override;
  void FillHello(v1::Hello* hello) override;
  bool OnServerMessage(const v1::ServerMessage& msg) override;
  void Stop() override;

 private:
  void Tick();
  void ArmTimer();
  // Enforces now (policy combined with class control) and reports if anything changed.
  void EnforceAndReport();
  void Report(const v1::ComplianceReport& report, bool periodic);
  // Gives the engine the teacher's Wi-Fi demand held by class control, if it changed.
  void SyncWifiDemand();

  std::shared_ptr<TeacherState> teacher_;
  PolicyPluginOptions options_;
  AgentContext* ctx_ = nullptr;
  std::unique_ptr<StatePolicyStore> store_;
  std::unique_ptr<PolicyEngine> engine_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::string last_outcomes_;  // what the last report said, rule by rule
  int64_t synced_wifi_until_ = 0;  // the teacher's Wi-Fi demand the engine has
  // Shared with the TeacherState listener, which may outlive this plugin.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace preau::agent
