// WifiEnforcer: switches the Wi-Fi radio on or off as the policy's Wi-Fi rule (loi Abeille
// slots, a teacher's demand, the idle timeout) wants. The radio is set at every Apply, since
// the platform cannot say whether a pupil switched it back on.
#pragma once

#include "agent/enforce/enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {

class WifiEnforcer final : public Enforcer {
 public:
  explicit WifiEnforcer(Platform* platform) : platform_(platform) {}
  std::string name() const override { return "wifi"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
};

}  // namespace preau::agent
