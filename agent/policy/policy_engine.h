// PolicyEngine: the agent's hold on its policy. It accepts a signed bundle only if it is
// signed by the pinned key, bound to this device and newer than the one held; persists it
// before adopting it (so a bundle is either fully adopted or not at all, and survives a
// restart); evaluates the time rules on its own clock, offline; and drives the enforcers.
//
// Typical use by the agent core:
//   PolicyEngine engine({device_id, pinned_key_pem, &clock}, &store,
//                       MakeDefaultEnforcers(platform.get(), installer));
//   engine.Load();                                  // at start: the persisted bundle, if any
//   report = engine.Apply(signed_bundle);           // a bundle from the server -> send report
//   report = engine.Enforce(class_control);         // every minute and after each command
//   engine.SetTeacherWifiDemand(true);              // a teacher's Wi-Fi command
//   engine.NoteActivity();                          // the device is being used
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/enforce/enforcer.h"
#include "agent/policy/desired_state.h"
#include "agent/policy/policy_store.h"
#include "common/clock.h"
#include "common/policy/local_time.h"
#include "common/status.h"
#include "preau/v1/policy.pb.h"
#include "preau/v1/policy_spec.pb.h"

namespace preau::agent {

struct PolicyEngineOptions {
  std::string device_id;
  std::string pinned_key_pem;  // the policy-signing public key pinned at enrolment
  const Clock* clock = &Clock::System();
  // Used when a policy names no time zone (the parser requires one for a schedule).
  std::string default_timezone = "CET-1CEST,M3.5.0,M10.5.0/3";  // Europe/Paris
};

class PolicyEngine {
 public:
  PolicyEngine(PolicyEngineOptions options, PolicyStore* store,
               std::vector<std::unique_ptr<Enforcer>> enforcers);

  // Adopts the bundle persisted in the store, checked again (signature, device). NotFound if
  // the store holds none; an error (and nothing held) if it no longer verifies.
  Status Load();

  // Verifies, persists and adopts `bundle`, then enforces it. The report says accepted or
  // refused (with the reason), and the rules one by one. A refused bundle changes nothing.
  v1::ComplianceReport Apply(const v1::SignedPolicyBundle& bundle);

  // What the held policy wants now / at `now_ms` (no enforcement). Without a policy,
  // has_policy is false.
  DesiredState Evaluate();
  DesiredState Evaluate(int64_t now_ms);

  // Evaluates now, combines with the teacher's class control, and runs every enforcer.
  v1::ComplianceReport Enforce(const ClassControl& teacher = {});

  // A teacher switched the Wi-Fi on (true) or off (false) from class control; an `on`
  // demand ends by itself at until_unix_ms (0: only by the idle timeout or an `off`).
  // Ignored when the policy says teacher_demand: false.
  void SetTeacherWifiDemand(bool on, int64_t until_unix_ms = 0);
  // The device is in use (input or traffic): pushes back the Wi-Fi idle timeout.
  void NoteActivity();

  uint64_t held_version() const;
  std::optional<v1::PolicyBundle> held_bundle() const;

 private:
  struct Held {
    v1::PolicyBundle bundle;
    v1::PolicySpec spec;
    policy::TimeZoneRule zone;
  };
  Result<Held> Adopt(const v1::PolicyBundle& bundle, const v1::PolicySpec& spec) const;
  DesiredState EvaluateLocked(int64_t now_ms);
  v1::ComplianceReport EnforceState(const DesiredState& desired, const Held& held);

  const PolicyEngineOptions options_;
  PolicyStore* const store_;

  mutable std::mutex mu_;  // guards held_ and the Wi-Fi inputs
  std::optional<Held> held_;
  std::optional<int64_t> teacher_demand_since_ms_;
  int64_t teacher_demand_until_ms_ = 0;
  int64_t last_activity_ms_ = 0;

  std::mutex enforce_mu_;  // one enforcement pass at a time; taken before mu_
  std::vector<std::unique_ptr<Enforcer>> enforcers_;
};

}  // namespace preau::agent
