// Enforcers for device settings the Platform interface cannot set yet: the screen lock's
// idle timeout and PIN, the restrictions (camera, USB storage, unknown sources) and the
// update window. They report each such rule as not supported on this platform, with the
// reason, so compliance reports say plainly what is not enforced; when Platform grows the
// calls, these are the places to fill in.
#pragma once

#include "agent/enforce/enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {

class ScreenLockSettingsEnforcer final : public Enforcer {
 public:
  explicit ScreenLockSettingsEnforcer(Platform* platform) : platform_(platform) {}
  std::string name() const override { return "screen_lock.settings"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
};

class RestrictionsEnforcer final : public Enforcer {
 public:
  explicit RestrictionsEnforcer(Platform* platform) : platform_(platform) {}
  std::string name() const override { return "restrictions"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
};

// The policy's update window (`updates.window`). Knowing whether the clock is inside the
// window is not holding updates to it, so the rule is APPLIED only on a platform that says
// it holds the system's and apps' updates to the window (Capabilities::update_window).
class UpdatesEnforcer final : public Enforcer {
 public:
  explicit UpdatesEnforcer(Platform* platform) : platform_(platform) {}
  std::string name() const override { return "updates"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
};

}  // namespace preau::agent
