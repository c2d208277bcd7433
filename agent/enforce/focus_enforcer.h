// FocusEnforcer: keeps the device on one app (kiosk, a period that allows a single app, or a
// teacher's focus) and ends the focus when none is wanted any more. Only a focus it set is
// ended, and only when it changes, since focusing restarts the app on some platforms.
#pragma once

#include "agent/enforce/enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {

class FocusEnforcer final : public Enforcer {
 public:
  explicit FocusEnforcer(Platform* platform) : platform_(platform) {}
  std::string name() const override { return "kiosk"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
  bool applied_ = false;  // false until the first successful Focus call
  std::string app_, url_;
};

}  // namespace preau::agent
