#include "server/policy/compliance.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "server/admin/authz.h"

namespace preau::server {

namespace {
constexpr size_t kMaxReasonBytes = 1000;
constexpr int kMaxFailuresListed = 100;

std::string Clip(std::string s) {
  if (s.size() > kMaxReasonBytes) s = s.substr(0, kMaxReasonBytes) + "…";
  return s;
}
}  // namespace

namespace {
std::string RulesWith(const v1::ComplianceReport& report, v1::RuleOutcome outcome) {
  std::string out;
  for (const auto& rule : report.rules()) {
    if (rule.outcome() != outcome) continue;
    out += (out.empty() ? "" : "; ") + rule.rule() + ": " + rule.reason();
  }
  return Clip(out);
}
}  // namespace

std::string FailureReason(const v1::ComplianceReport& report) {
  if (!report.accepted()) {
    return Clip("refused: " + (report.refusal().empty() ? "no reason given" : report.refusal()));
  }
  return RulesWith(report, v1::RULE_FAILED);
}

std::string UnsupportedRules(const v1::ComplianceReport& report) {
  return report.accepted() ? RulesWith(report, v1::RULE_NOT_SUPPORTED) : "";
}

Status ComplianceLedger::Record(const std::string& device_id, const v1::ComplianceReport& report) {
  // Version 0: the agent holds no policy and names none; nothing to count.
  if (report.policy_version() == 0) return Status::Ok();
  ComplianceRecord r;
  r.device_id = device_id;
  r.version = report.policy_version();
  r.accepted = report.accepted();
  r.reason = FailureReason(report);
  r.unsupported = UnsupportedRules(report);
  r.reported_ms = core_.Now();
  PREAU_RETURN_IF_ERROR(records_.SaveCompliance(r, report.SerializeAsString()));

  PREAU_ASSIGN_OR_RETURN(uint64_t held, records_.AcceptedVersion(device_id));
  uint64_t version = held;
  std::string state;
  if (r.accepted) {
    if (r.version < held) return Status::Ok();  // a late report about an older bundle
    version = r.version;
    state = !r.reason.empty()      ? "failed: " + r.reason
            : !r.unsupported.empty() ? "not supported: " + r.unsupported
                                     : "applied";
  } else {
    state = "refused v" + std::to_string(r.version) + ": " + report.refusal();
  }
  PREAU_ASSIGN_OR_RETURN(auto device, core_.store->GetDevice(device_id));
  if (device.policy_version == version && device.policy_state == state) return Status::Ok();
  return core_.store->SetDevicePolicy(device_id, version, Clip(state));
}

Result<v1::PolicyStatusResponse> ComplianceLedger::Summarize(const OperatorRecord& op,
                                                             const v1::PolicyStatusRequest& req) {
  PREAU_ASSIGN_OR_RETURN(auto versions, records_.Versions({}));
  PREAU_ASSIGN_OR_RETURN(auto bundles, records_.Bundles());
  PREAU_ASSIGN_OR_RETURN(auto reports, records_.Compliance());
  PREAU_ASSIGN_OR_RETURN(auto devices, core_.store->ListDevices("", /*include_retired=*/false));

  std::map<int64_t, v1::PolicyVersionStatus> by_revision;
  for (const auto& v : versions) {
    if (!req.name().empty() && v.name != req.name()) continue;
    if (!req.group().empty() && !PathWithin(v.group, req.group())) continue;
    if (!InScope(op, v.group)) continue;
    v1::PolicyVersionStatus& s = by_revision[v.revision];
    s.set_group(v.group);
    s.set_name(v.name);
    s.set_version(v.version);
    s.set_revision(static_cast<uint64_t>(v.revision));
    s.set_rollout_percent(v.rollout_percent);
    s.set_applied_unix_ms(v.applied_ms);
    s.set_applied_by(v.applied_by);
  }
  for (const auto& d : devices) {
    auto b = bundles.find(d.id);
    if (b == bundles.end()) continue;
    auto rep = reports.find({d.id, b->second.version});
    for (int64_t revision : b->second.chain) {
      auto it = by_revision.find(revision);
      if (it == by_revision.end()) continue;
      v1::PolicyVersionStatus& s = it->second;
      s.set_targeted(s.targeted() + 1);
      if (rep == reports.end()) {
        s.set_pending(s.pending() + 1);
      } else if (rep->second.accepted && rep->second.reason.empty() &&
                 rep->second.unsupported.empty()) {
        s.set_applied(s.applied() + 1);
      } else if (rep->second.accepted && rep->second.reason.empty()) {
        // Nothing failed, but some rule cannot be enforced here: never counted as applied.
        s.set_not_supported(s.not_supported() + 1);
        if (s.unsupported_size() < kMaxFailuresListed) {
          auto* f = s.add_unsupported();
          f->set_device_id(d.id);
          f->set_device_name(d.name);
          f->set_reason(rep->second.unsupported);
        }
      } else {
        s.set_failed(s.failed() + 1);
        if (s.failures_size() < kMaxFailuresListed) {
          auto* f = s.add_failures();
          f->set_device_id(d.id);
          f->set_device_name(d.name);
          f->set_reason(rep->second.reason);
        }
      }
    }
  }
  std::vector<v1::PolicyVersionStatus> out;
  for (auto& [revision, s] : by_revision) out.push_back(std::move(s));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::make_tuple(a.group(), a.name(), a.version()) <
           std::make_tuple(b.group(), b.name(), b.version());
  });
  v1::PolicyStatusResponse resp;
  for (auto& s : out) *resp.add_versions() = std::move(s);
  return resp;
}

}  // namespace preau::server
