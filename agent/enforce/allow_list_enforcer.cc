#include "agent/enforce/allow_list_enforcer.h"

namespace preau::agent {

v1::RuleResult AllowListEnforcer::Apply(const DesiredState& desired) {
  if (!desired.apps_restricted || desired.locked) {
    return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  }
  if (desired.allowed_apps.size() == 1 && desired.focus_app == desired.allowed_apps[0]) {
    if (!platform_->GetCapabilities().focus) {
      return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                      "this platform cannot keep the device on one app");
    }
    return MakeRule(name(), v1::RULE_APPLIED, "kept on '" + desired.focus_app + "' (focus)");
  }
  if (!desired.focus_app.empty()) {
    return MakeRule(name(), v1::RULE_APPLIED, "kept on '" + desired.focus_app + "' (focus)");
  }
  return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                  "this platform cannot limit the device to a list of " +
                      std::to_string(desired.allowed_apps.size()) + " apps (" + desired.period +
                      ")");
}

}  // namespace preau::agent
