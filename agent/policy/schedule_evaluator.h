// ScheduleEvaluator: the pure function at the heart of the policy engine — given a policy,
// its time zone, a moment and the Wi-Fi inputs, what should the device be?
//
// It has no clock and no state of its own, so every rule can be checked at any minute
// (curfew across midnight, a holiday, a DST change) by passing the moment in. Periods: the
// curfew (every day, holidays included) wins over school hours, which apply on their
// weekdays except on holidays; the rest of the time is "outside school hours".
//
// Wi-Fi (loi Abeille): with mode scheduled the radio is on during a slot of the day (not on
// holidays) or while a teacher's demand holds; with always_off only a teacher's demand
// turns it on; always_on keeps it on. With idle_off_minutes N, the radio goes off once N
// minutes pass without activity, counted from the latest of: the slot's start, the teacher's
// demand, the last activity reported. An expired demand is dropped (a later activity does
// not revive it); a slot comes back on at the next activity while it lasts.
#pragma once

#include <cstdint>
#include <optional>

#include "agent/policy/desired_state.h"
#include "common/policy/local_time.h"
#include "preau/v1/policy_spec.pb.h"

namespace preau::agent {

struct WifiInputs {
  std::optional<int64_t> teacher_demand_since_ms;  // a teacher switched the radio on
  int64_t last_activity_ms = 0;                    // the latest use of the device
  int64_t teacher_demand_until_ms = 0;             // the demand's end (0: none)
};

struct Evaluation {
  DesiredState state;
  bool teacher_demand_expired = false;  // the caller should forget the demand
};

Evaluation EvaluatePolicy(const v1::PolicySpec& spec, const policy::TimeZoneRule& zone,
                          int64_t now_ms, const WifiInputs& wifi);

}  // namespace preau::agent
