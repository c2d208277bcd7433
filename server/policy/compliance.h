// Compliance: what devices reported about their policy bundles, kept per device and bundle
// version, and the per-version counts `preau policy status` shows.
//
// A report is stored idempotently (the same report twice leaves the same row) under
// (device, bundle version), so a refused bundle that the server never issued (forged,
// replayed) is recorded without hiding the state of the bundle the device holds. The
// device's row in the fleet (policy_version, policy_state, shown by `devices list`) follows
// its newest accepted bundle: "applied", "failed: <rule>: <reason>", "not supported:
// <rule>: <reason>", or, after a refusal, "refused v<N>: <reason>".
//
// Counts, per policy version (one `policy apply` at one group): the devices whose current
// bundle was resolved from it are targeted; each is applied (it reported that bundle
// accepted and every rule applied), not supported (no rule failed, but one or more cannot
// be enforced on its platform: listed, never counted as applied), failed (refused it, or
// a rule failed: the reason is listed), or pending (no report yet).
#pragma once

#include <string>

#include "preau/v1/policy.pb.h"
#include "server/policy/policy_records.h"
#include "server/server_core.h"

namespace preau::server {

class ComplianceLedger {
 public:
  ComplianceLedger(ServerCore& core, PolicyRecords& records) : core_(core), records_(records) {}

  // Stores one report from `device_id`; ok only once durable.
  Status Record(const std::string& device_id, const v1::ComplianceReport& report);

  // Per-version counts for the versions matching `req`, restricted to `op`'s scopes.
  Result<v1::PolicyStatusResponse> Summarize(const OperatorRecord& op,
                                             const v1::PolicyStatusRequest& req);

 private:
  ServerCore& core_;
  PolicyRecords& records_;
};

// The reason a report counts as failed; empty when no rule failed.
std::string FailureReason(const v1::ComplianceReport& report);
// The rules the device reported it cannot enforce, "rule: why; ..."; empty if none.
std::string UnsupportedRules(const v1::ComplianceReport& report);

}  // namespace preau::server
