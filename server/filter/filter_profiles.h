// FilterProfiles: which web-filter profile (blocked categories, allow and deny lists, safe
// search) applies to a device or a group, read from the policy domain's records.
//
// A device runs the profile of the policy bundle last issued to it (so the filter follows
// the same rollout as the rest of its policy); a group — for `preau filter test --group` —
// runs the combination of the newest policy applied at each level of its chain, combined
// by the policy's own inheritance rule (policy::OverlaySpec). When the policy says
// nothing of `web_filter.categories`, the default categories below apply: a school device
// is never unfiltered by omission. These read the policy tables read-only.
#pragma once

#include <string>
#include <vector>

#include "common/filter/matcher.h"
#include "common/status.h"
#include "preau/v1/policy_spec.pb.h"
#include "server/policy/policy_records.h"

namespace preau::server {

struct ResolvedFilterProfile {
  filter::FilterProfile profile;  // normalised: sorted, deduplicated, lowercase
  bool fail_closed = true;        // web_filter.fail_open: false unless the policy says so
  std::string source;             // "policy ecole-a v3" or "default"
};

// The categories blocked when a policy names none (those absent from the import are
// dropped when a snapshot is built).
const std::vector<std::string>& DefaultBlockedCategories();

// The profile a resolved PolicySpec describes (the default where it is silent).
ResolvedFilterProfile ProfileFromSpec(const v1::PolicySpec& spec, const std::string& source);

// The profile of the bundle issued to `device_id`; the default when it has none.
Result<ResolvedFilterProfile> DeviceFilterProfile(PolicyRecords& records,
                                                  const std::string& device_id);
// The profile a device of `group` gets once each level's newest policy reaches everyone;
// the default for "" or a group without policies.
Result<ResolvedFilterProfile> GroupFilterProfile(PolicyRecords& records,
                                                 const std::string& group);

// A stable key for a profile (SHA-256 hex of its normalised form): one snapshot per key
// and import.
std::string ProfileKey(const filter::FilterProfile& profile);

}  // namespace preau::server
