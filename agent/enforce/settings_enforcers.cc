#include "agent/enforce/settings_enforcers.h"

namespace preau::agent {

v1::RuleResult ScreenLockSettingsEnforcer::Apply(const DesiredState& desired) {
  const v1::ScreenLock& s = desired.screen_lock;
  if (!s.has_idle_minutes() && !s.has_pin_required()) {
    return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  }
  std::string wanted;
  if (s.has_idle_minutes()) wanted = "idle lock after " + std::to_string(s.idle_minutes()) + " min";
  if (s.has_pin_required()) {
    wanted +=
        std::string(wanted.empty() ? "" : ", ") + (s.pin_required() ? "PIN required" : "no PIN");
  }
  return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                  "the " + platform_->Kind() + " platform has no call to set " + wanted);
}

v1::RuleResult RestrictionsEnforcer::Apply(const DesiredState& desired) {
  const v1::Restrictions& r = desired.restrictions;
  std::string wanted;
  auto add = [&wanted](bool has, bool allow, const char* what) {
    if (has)
      wanted += std::string(wanted.empty() ? "" : ", ") + what + (allow ? " allowed" : " off");
  };
  add(r.has_allow_camera(), r.allow_camera(), "camera");
  add(r.has_allow_usb_storage(), r.allow_usb_storage(), "USB storage");
  add(r.has_allow_unknown_sources(), r.allow_unknown_sources(), "unknown sources");
  if (wanted.empty()) return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  if (!platform_->GetCapabilities().restrictions) {
    return MakeRule(
        name(), v1::RULE_NOT_SUPPORTED,
        "the " + platform_->Kind() + " platform cannot apply restrictions (" + wanted + ")");
  }
  return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                  "the platform interface has no restrictions call yet (" + wanted + ")");
}

v1::RuleResult UpdatesEnforcer::Apply(const DesiredState& desired) {
  if (!desired.has_update_window) return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  std::string now = desired.updates_allowed ? "inside the update window" : "outside the update window";
  if (!platform_->GetCapabilities().update_window) {
    return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                    "this platform cannot hold the device's updates to a window (now " + now + ")");
  }
  return MakeRule(name(), v1::RULE_APPLIED, now);
}

}  // namespace preau::agent
