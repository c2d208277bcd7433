// UpdatesEnforcer: reports on the policy's update window (`updates.window`). Knowing
// whether the clock is inside the window is not holding updates to it, so the rule is
// APPLIED only on a platform that says it holds the system's and apps' updates to the
// window (Capabilities::update_window), and NOT_SUPPORTED elsewhere.
#pragma once

#include "agent/enforce/enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {

class UpdatesEnforcer final : public Enforcer {
 public:
  explicit UpdatesEnforcer(Platform* platform) : platform_(platform) {}
  std::string name() const override { return "updates"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
};

}  // namespace preau::agent
