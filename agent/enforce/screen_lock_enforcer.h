// ScreenLockEnforcer: locks the screen while the desired state says so (curfew, a period in
// lock mode, or a teacher's lock) and unlocks it afterwards — but only a lock it set itself,
// so that a user's own screen lock (PIN) is never lifted by the agent. A lock a pupil managed
// to lift is set again at the next Apply.
#pragma once

#include "agent/enforce/enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {

class ScreenLockEnforcer final : public Enforcer {
 public:
  explicit ScreenLockEnforcer(Platform* platform) : platform_(platform) {}
  std::string name() const override { return "screen_lock"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
  bool locked_by_us_ = false;
  std::string message_;
  int64_t until_ = 0;
};

}  // namespace preau::agent
