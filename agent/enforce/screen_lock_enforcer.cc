#include "agent/enforce/screen_lock_enforcer.h"

namespace preau::agent {

v1::RuleResult ScreenLockEnforcer::Apply(const DesiredState& desired) {
  if (!platform_->GetCapabilities().screen_lock) {
    if (!desired.locked) return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
    return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                    "this platform cannot lock the screen (" + desired.period + ")");
  }
  if (desired.locked) {
    // Lock again if a pupil lifted it or the message changed (teacher vs curfew).
    if (!platform_->IsLocked() || !locked_by_us_ || message_ != desired.lock_message) {
      Status st = platform_->Lock(desired.lock_message);
      if (!st.ok()) return MakeRule(name(), v1::RULE_FAILED, "lock: " + st.message());
      locked_by_us_ = true;
      message_ = desired.lock_message;
    }
    return MakeRule(name(), v1::RULE_APPLIED, "locked (" + desired.period + ")");
  }
  if (locked_by_us_) {
    if (platform_->IsLocked()) {
      Status st = platform_->Unlock();
      if (!st.ok()) return MakeRule(name(), v1::RULE_FAILED, "unlock: " + st.message());
    }
    locked_by_us_ = false;
    message_.clear();
  }
  return MakeRule(name(), v1::RULE_APPLIED, "unlocked (" + desired.period + ")");
}

}  // namespace preau::agent
