#include "agent/enforce/focus_enforcer.h"

namespace preau::agent {

v1::RuleResult FocusEnforcer::Apply(const DesiredState& desired) {
  const bool wanted = !desired.focus_app.empty() || !desired.focus_url.empty();
  if (!wanted && (!applied_ || (app_.empty() && url_.empty()))) {
    return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  }
  if (!platform_->GetCapabilities().focus) {
    return MakeRule(
        name(), v1::RULE_NOT_SUPPORTED,
        "this platform cannot keep the device on one app ('" + desired.focus_app + "')");
  }
  if (applied_ && wanted) {
    // Verified when applied; it must still hold to be reported applied.
    std::string why = platform_->WhyFocusNotHeld();
    if (!why.empty()) {
      applied_ = false;  // the next pass applies it again
      return MakeRule(name(), v1::RULE_FAILED, "focus on '" + desired.focus_app + "': " + why);
    }
  }
  if (!applied_ || desired.focus_app != app_ || desired.focus_url != url_) {
    Status st = platform_->Focus(desired.focus_app, desired.focus_url);
    if (!st.ok()) {
      return MakeRule(
          name(), v1::RULE_FAILED,
          (wanted ? "focus on '" + desired.focus_app + "': " : "ending focus: ") + st.message());
    }
    applied_ = true;
    app_ = desired.focus_app;
    url_ = desired.focus_url;
  }
  if (!wanted) return MakeRule(name(), v1::RULE_APPLIED, "no focus");
  return MakeRule(name(), v1::RULE_APPLIED, "focus on '" + desired.focus_app + "'");
}

}  // namespace preau::agent
