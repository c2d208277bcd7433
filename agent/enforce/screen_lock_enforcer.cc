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
    if (!platform_->IsLocked() || !locked_by_us_ || message_ != desired.lock_message ||
        until_ != desired.lock_until_unix_ms) {
      Status st = platform_->Lock(desired.lock_message, desired.lock_until_unix_ms);
      if (!st.ok()) return MakeRule(name(), v1::RULE_FAILED, "lock: " + st.message());
      locked_by_us_ = true;
      message_ = desired.lock_message;
      until_ = desired.lock_until_unix_ms;
    }
    // Applied only while the platform can vouch for the lock.
    Platform::LockCheck check = platform_->CheckLock();
    if (!check.verified) {
      return MakeRule(name(), v1::RULE_FAILED,
                      "lock: unverified: " + (check.reason.empty() ? "not locked" : check.reason));
    }
    return MakeRule(name(), v1::RULE_APPLIED, "locked and verified (" + desired.period + ")");
  }
  if (locked_by_us_) {
    if (platform_->IsLocked()) {
      Status st = platform_->Unlock();
      if (!st.ok()) return MakeRule(name(), v1::RULE_FAILED, "unlock: " + st.message());
    }
    locked_by_us_ = false;
    message_.clear();
    until_ = 0;
  }
  return MakeRule(name(), v1::RULE_APPLIED, "unlocked (" + desired.period + ")");
}

}  // namespace preau::agent
