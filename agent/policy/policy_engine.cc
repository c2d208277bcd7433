#include "agent/policy/policy_engine.h"

#include "agent/policy/schedule_evaluator.h"
#include "common/policy/bundle.h"

namespace preau::agent {

PolicyEngine::PolicyEngine(PolicyEngineOptions options, PolicyStore* store,
                           std::vector<std::unique_ptr<Enforcer>> enforcers)
    : options_(std::move(options)), store_(store), enforcers_(std::move(enforcers)) {}

Result<PolicyEngine::Held> PolicyEngine::Adopt(const v1::PolicyBundle& bundle,
                                               const v1::PolicySpec& spec) const {
  const std::string& posix =
      spec.timezone().posix().empty() ? options_.default_timezone : spec.timezone().posix();
  auto zone = policy::TimeZoneRule::Parse(posix);
  if (!zone.ok()) return zone.status().Context("policy '" + bundle.name() + "' timezone");
  return Held{bundle, spec, *zone};
}

Status PolicyEngine::Load() {
  std::optional<std::string> bytes = store_->LoadBundle();
  if (!bytes) return NotFound("no policy bundle persisted yet");
  v1::SignedPolicyBundle signed_bundle;
  if (!signed_bundle.ParseFromString(*bytes)) {
    return DataLoss("persisted policy bundle: not a SignedPolicyBundle");
  }
  policy::BundleCheck check =
      policy::VerifyBundle(signed_bundle, options_.pinned_key_pem, options_.device_id, 0);
  if (!check.ok()) return check.status().Context("persisted policy bundle");
  PREAU_ASSIGN_OR_RETURN(Held held, Adopt(check.bundle, check.spec));
  std::lock_guard<std::mutex> lock(mu_);
  held_ = std::move(held);
  return Status::Ok();
}

v1::ComplianceReport PolicyEngine::Apply(const v1::SignedPolicyBundle& signed_bundle) {
  std::lock_guard<std::mutex> enforce_lock(enforce_mu_);
  v1::ComplianceReport report;
  auto refuse = [&report](const std::string& reason) {
    report.set_accepted(false);
    report.set_refusal(reason);
    return report;
  };
  {
    // Name the bundle in the report even when refused, so the server can count it; these
    // fields are informative only until the signature is checked.
    v1::PolicyBundle claimed;
    if (claimed.ParseFromString(signed_bundle.bundle())) {
      report.set_policy_name(claimed.name());
      report.set_policy_version(claimed.version());
    }
  }
  uint64_t held_version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_version = held_ ? held_->bundle.version() : 0;
  }
  policy::BundleCheck check = policy::VerifyBundle(signed_bundle, options_.pinned_key_pem,
                                                   options_.device_id, held_version);
  if (!check.ok()) return refuse(check.reason);
  auto held = Adopt(check.bundle, check.spec);
  if (!held.ok()) return refuse("policy bundle refused: " + held.status().message());
  // Durable first: if the agent dies right after, it restarts with this bundle.
  Status saved = store_->SaveBundle(signed_bundle.SerializeAsString());
  if (!saved.ok()) return refuse("policy bundle not kept: saving it failed: " + saved.message());

  DesiredState desired;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = std::move(*held);
    desired = EvaluateLocked(options_.clock->NowUnixMs());
  }
  // Class control is not known here; the core calls Enforce(class_control) right after if a
  // teacher's lock or focus is active, which re-asserts it.
  Held snapshot = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return *held_;
  }();
  return EnforceState(desired, snapshot);
}

DesiredState PolicyEngine::EvaluateLocked(int64_t now_ms) {
  if (!held_) return DesiredState{};
  WifiInputs inputs{teacher_demand_since_ms_, last_activity_ms_, teacher_demand_until_ms_};
  Evaluation e = EvaluatePolicy(held_->spec, held_->zone, now_ms, inputs);
  if (e.teacher_demand_expired) teacher_demand_since_ms_.reset();
  return e.state;
}

DesiredState PolicyEngine::Evaluate() { return Evaluate(options_.clock->NowUnixMs()); }

DesiredState PolicyEngine::Evaluate(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  return EvaluateLocked(now_ms);
}

v1::ComplianceReport PolicyEngine::Enforce(const ClassControl& teacher) {
  std::lock_guard<std::mutex> enforce_lock(enforce_mu_);
  DesiredState desired;
  std::optional<Held> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    desired = EvaluateLocked(options_.clock->NowUnixMs());
    snapshot = held_;
  }
  if (!snapshot) {
    v1::ComplianceReport report;
    report.set_accepted(false);
    report.set_refusal("no policy held");
    return report;
  }
  return EnforceState(CombineWithClassControl(desired, teacher), *snapshot);
}

v1::ComplianceReport PolicyEngine::EnforceState(const DesiredState& desired, const Held& held) {
  v1::ComplianceReport report;
  report.set_policy_name(held.bundle.name());
  report.set_policy_version(held.bundle.version());
  report.set_accepted(true);
  const v1::PolicySpec& spec = held.spec;
  if (spec.has_schedule()) {
    *report.add_rules() = MakeRule("schedule", v1::RULE_APPLIED, "period: " + desired.period);
  }
  for (auto& enforcer : enforcers_) {
    v1::RuleResult r = enforcer->Apply(desired);
    if (r.outcome() == v1::RULE_OUTCOME_UNSPECIFIED) continue;
    if (r.rule().empty()) r.set_rule(enforcer->name());
    *report.add_rules() = std::move(r);
  }
  return report;
}

void PolicyEngine::SetTeacherWifiDemand(bool on, int64_t until_unix_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!on) {
    teacher_demand_since_ms_.reset();
    teacher_demand_until_ms_ = 0;
    return;
  }
  if (held_ && held_->spec.wifi().has_teacher_demand() && !held_->spec.wifi().teacher_demand()) {
    return;
  }
  teacher_demand_since_ms_ = options_.clock->NowUnixMs();
  teacher_demand_until_ms_ = until_unix_ms;
}

void PolicyEngine::NoteActivity() {
  std::lock_guard<std::mutex> lock(mu_);
  last_activity_ms_ = options_.clock->NowUnixMs();
}

uint64_t PolicyEngine::held_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_ ? held_->bundle.version() : 0;
}

std::optional<v1::PolicyBundle> PolicyEngine::held_bundle() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!held_) return std::nullopt;
  return held_->bundle;
}

}  // namespace preau::agent
