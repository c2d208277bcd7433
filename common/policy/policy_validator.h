// PolicyValidator: finds impossible schedules and conflicting rules in a compiled PolicySpec.
//
// It runs on what the parser produced from one file and again on a device's effective
// policy after inheritance, since two levels that are each fine may conflict once combined
// (the authority blocks an app that a class makes its kiosk). Each issue names the key path
// and explains the conflict in words a person can act on; callers add file and line.
#pragma once

#include <string>
#include <vector>

#include "preau/v1/policy_spec.pb.h"

namespace preau::policy {

struct ValidationIssue {
  std::string key;  // "schedule.curfew.start", "wifi.slots.monday[1]"
  std::string message;
};

enum class Completeness {
  // One level of a chain (a class override): only what it sets is checked, and pairs are
  // checked when both halves are there.
  kFragment,
  // The policy a device will run: everything must be complete (a curfew has a start and an
  // end, a scheduled Wi-Fi has slots, an update window has hours).
  kEffective,
};

std::vector<ValidationIssue> ValidateSpec(const v1::PolicySpec& spec, Completeness completeness);

}  // namespace preau::policy
