// PolicyRecords: the policy domain's tables in the server's store (migration 2) — every
// applied policy version with its YAML source and pilot devices, the bundle last issued to
// each device, and the compliance each device reported per bundle version. Each method is
// one transaction under the store's mutex, durable when it returns.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/store/store.h"

namespace preau::server {

// One `policy apply`: a version of the policy `name` assigned to `group`.
struct PolicyVersionRecord {
  int64_t revision = 0;  // server-wide order of applies
  std::string group;
  std::string name;
  uint64_t version = 0;  // per (group, name)
  std::string file;
  std::string source;  // YAML
  std::string spec;    // serialized PolicySpec
  uint32_t rollout_percent = 100;
  std::string applied_by;
  int64_t applied_ms = 0;
  std::set<std::string> pilot;  // devices targeted while rollout_percent < 100

  bool Targets(const std::string& device_id) const {
    return rollout_percent >= 100 || pilot.count(device_id) > 0;
  }
};

struct IssuedBundle {
  std::string device_id;
  uint64_t version = 0;
  std::vector<int64_t> chain;  // revisions, farthest level first
  std::string signed_bundle;   // serialized SignedPolicyBundle
  int64_t issued_ms = 0;
};

struct ComplianceRecord {
  std::string device_id;
  uint64_t version = 0;
  bool accepted = false;
  std::string reason;       // empty: no rule failed
  std::string unsupported;  // rules this platform cannot enforce ("rule: why; ...")
  int64_t reported_ms = 0;
};

class PolicyRecords {
 public:
  explicit PolicyRecords(Store& store) : store_(store) {}

  // Every version assigned to one of `groups` (all groups when empty), newest first, with
  // their pilots.
  Result<std::vector<PolicyVersionRecord>> Versions(const std::vector<std::string>& groups);
  // Stores a new version; its revision is the next one. Returns the revision.
  Result<int64_t> AddVersion(const PolicyVersionRecord& record);
  // Widens a version's rollout to `percent`, adding `pilot` to its pilot devices.
  Status Widen(int64_t revision, uint32_t percent, const std::set<std::string>& pilot);
  Result<int64_t> NextRevision();

  Result<std::optional<IssuedBundle>> Bundle(const std::string& device_id);
  Result<std::map<std::string, IssuedBundle>> Bundles();  // by device; chain and version only
  Status SaveBundles(const std::vector<IssuedBundle>& bundles);

  // Replaces the device's record for that version, except that a refusal never replaces
  // an acceptance (a replayed bundle is refused under the version the device holds).
  Status SaveCompliance(const ComplianceRecord& record, const std::string& report_bytes);
  // (device, version) -> record.
  Result<std::map<std::pair<std::string, uint64_t>, ComplianceRecord>> Compliance();
  // The newest bundle version this device reported accepting; 0 if none.
  Result<uint64_t> AcceptedVersion(const std::string& device_id);

 private:
  Store& store_;
};

// "3,7,9" <-> {3, 7, 9}.
std::string ChainText(const std::vector<int64_t>& chain);
std::vector<int64_t> ParseChain(const std::string& text);

}  // namespace preau::server
