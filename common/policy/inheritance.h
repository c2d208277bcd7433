// Inheritance: a device's effective policy from the chain authority → school → class →
// device.
//
// The rule ("the closest level wins, key by key"): walking from the farthest level to the
// closest, every leaf key a level sets replaces the value inherited so far; a key it does not
// set is inherited unchanged. Leaves are scalars (wifi.idle_off_minutes, kiosk.app…), whole
// lists (apps.blocked, web_filter.categories, schedule.holidays, updates.days…), one
// weekday's slots (schedule.school_hours.monday, wifi.slots.friday), a time slot
// (updates.window) and the time zone. Lists are replaced, never merged: "[]" at a closer
// level clears the list. Blocks (apps, schedule, schedule.curfew, wifi…) are not leaves:
// their keys inherit one by one. docs/policy.md states the same rule for the README.
//
// The effective policy is validated again, since levels that are each valid may conflict
// once combined; each error points at the file and line of the level that set the key.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "common/policy/policy_error.h"
#include "common/policy/policy_validator.h"
#include "preau/v1/policy_spec.pb.h"

namespace preau::policy {

struct PolicyLevel {
  std::string level;   // "authority", "school", "class", "device" (a label)
  std::string source;  // named in errors: a file ("ecole-jaures.yaml") or a group name
  v1::PolicySpec spec;
  SourceMap lines;  // where `source` wrote each key, if known (from ParsedPolicy)
};

struct ResolvedPolicy {
  v1::PolicySpec spec;
  // Leaf key path -> index in the chain of the level whose value won ("explain" output).
  std::map<std::string, size_t> origin;
  std::vector<PolicyError> errors;  // conflicts in the effective policy
  bool ok() const { return errors.empty(); }
};

// Overlays `closer` on `effective` by the rule above; records winning leaves in `origin`
// under `level_index` when `origin` is not null.
void OverlaySpec(const v1::PolicySpec& closer, v1::PolicySpec* effective, size_t level_index,
                 std::map<std::string, size_t>* origin);

// Resolves `chain`, farthest level first (authority, then school, class, device), and
// validates the result with `completeness` (kEffective for what a device will run).
ResolvedPolicy ResolvePolicy(const std::vector<PolicyLevel>& chain,
                             Completeness completeness = Completeness::kEffective);

}  // namespace preau::policy
