#include "agent/enforce/updates_enforcer.h"

namespace preau::agent {

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
