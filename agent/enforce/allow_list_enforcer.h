// AllowListEnforcer: reports on "only these apps" (apps.allowed, or a period in listed_apps
// mode). The Platform interface can keep a device on one app (focus, applied by
// FocusEnforcer) but has no call to limit it to a list, so a list of several apps is
// reported as not supported on this platform rather than silently ignored.
#pragma once

#include "agent/enforce/enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {

class AllowListEnforcer final : public Enforcer {
 public:
  explicit AllowListEnforcer(Platform* platform) : platform_(platform) {}
  std::string name() const override { return "apps.allowed"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
};

}  // namespace preau::agent
