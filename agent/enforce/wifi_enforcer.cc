#include "agent/enforce/wifi_enforcer.h"

namespace preau::agent {

v1::RuleResult WifiEnforcer::Apply(const DesiredState& desired) {
  if (!desired.wifi_on.has_value()) return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  if (!platform_->GetCapabilities().wifi_radio) {
    return MakeRule(name(), v1::RULE_NOT_SUPPORTED, "this platform cannot switch the Wi-Fi radio");
  }
  const bool on = *desired.wifi_on;
  Status st = platform_->SetWifiRadio(on);
  if (!st.ok()) {
    return MakeRule(
        name(), v1::RULE_FAILED,
        std::string("switching the radio ") + (on ? "on" : "off") + ": " + st.message());
  }
  return MakeRule(name(), v1::RULE_APPLIED,
                  std::string(on ? "on" : "off") + " (" + desired.wifi_reason + ")");
}

}  // namespace preau::agent
