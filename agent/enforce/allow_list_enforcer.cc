#include "agent/enforce/allow_list_enforcer.h"

namespace preau::agent {

v1::RuleResult AllowListEnforcer::Apply(const DesiredState& desired) {
  if (!desired.apps_restricted || desired.locked) {
    return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  }
  if (!desired.focus_app.empty()) {
    // A focus on one app keeps the device narrower than any list, but only where the
    // platform can focus; the focus rule then reports whether it held, so this rule
    // claims nothing of its own.
    if (!platform_->GetCapabilities().focus) {
      return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                      "this platform cannot keep the device on one app ('" + desired.focus_app +
                          "'), so the list of allowed apps is not enforced");
    }
    return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  }
  return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                  "this platform cannot limit the device to a list of " +
                      std::to_string(desired.allowed_apps.size()) + " apps (" + desired.period +
                      ")");
}

}  // namespace preau::agent
