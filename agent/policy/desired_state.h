// DesiredState: what the policy wants the device to be right now, and how a teacher's class
// control is laid over it.
//
// The policy engine computes a DesiredState from the held policy and the clock; enforcers
// make the device match it. A teacher's class control (lock, focus) is not part of the
// policy, so enforcers never fight it: the agent core passes its class-control state to
// PolicyEngine::Enforce, which combines the two with CombineWithClassControl before any
// enforcer runs. The rule: a lock from either side locks (the policy's curfew cannot be
// lifted by a teacher's unlock, and a teacher's lock holds outside the curfew); a teacher's
// focus replaces the policy's kiosk for the lesson; Wi-Fi demand goes through
// PolicyEngine::SetTeacherWifiDemand so that the loi Abeille idle timeout applies to it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "preau/v1/policy_spec.pb.h"

namespace preau::agent {

struct DesiredState {
  bool has_policy = false;  // false: no valid policy held; enforcers leave the device
  std::string period;       // "curfew", "school_hours", "outside_school_hours",
                            // "holiday" (outside school hours on a holiday), or ""
  bool locked = false;
  std::string lock_message;
  int64_t lock_until_unix_ms = 0;  // a teacher's --for: shown on the lock (0: none)

  // Focus on one app (kiosk, a teacher's focus, or a period that allows a single app).
  std::string focus_app;
  std::string focus_url;

  // When restricted, only allowed_apps may run; otherwise any app that is not blocked.
  bool apps_restricted = false;
  std::vector<std::string> allowed_apps;
  std::vector<std::string> required_apps;
  std::vector<std::string> blocked_apps;

  std::optional<bool> wifi_on;  // nullopt: the policy says nothing, leave the radio alone
  std::string wifi_reason;      // "slot monday 09:00-09:45", "teacher demand", "idle 15 min"…

  bool has_update_window = false;  // the policy sets updates.window
  bool updates_allowed = true;  // inside the update window (or no window set)

  v1::ScreenLock screen_lock;  // settings as in the policy (unset fields: leave as is)
  v1::Restrictions restrictions;

  // The policy has a web_filter block not switched off: the filter goes in the DNS path.
  bool web_filter = false;
};

// What a teacher's class control currently imposes on this device (kept by the agent core,
// which also persists it so that a lock survives a restart).
struct ClassControl {
  bool locked = false;
  std::string lock_message;
  std::string focus_app;
  std::string focus_url;
  int64_t lock_until_unix_ms = 0;  // a teacher's --for (0: until lifted)
  int64_t wifi_until_unix_ms = 0;  // a teacher's Wi-Fi demand ends then (0: none)
};

DesiredState CombineWithClassControl(const DesiredState& policy, const ClassControl& teacher);

}  // namespace preau::agent
