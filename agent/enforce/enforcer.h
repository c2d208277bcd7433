// Enforcer: makes one aspect of the device match the DesiredState, through the Platform
// interface only, and says how that went as one compliance rule.
//
// Enforcers are called by PolicyEngine::Enforce with the policy's wish already combined
// with the teacher's class control (see agent/policy/desired_state.h), so an enforcer never
// has to know who asked for a lock. Apply is called every evaluation (about once a minute)
// and must be idempotent and cheap when nothing changes; it re-asserts what a pupil may have
// undone (a lifted lock). It returns RULE_APPLIED, RULE_FAILED with the reason,
// RULE_NOT_SUPPORTED when the platform lacks the capability, or RULE_OUTCOME_UNSPECIFIED
// when the policy sets nothing this enforcer handles (the rule is then left out of the
// compliance report).
#pragma once

#include <string>

#include "agent/policy/desired_state.h"
#include "preau/v1/policy.pb.h"

namespace preau::agent {

class Enforcer {
 public:
  virtual ~Enforcer() = default;
  virtual std::string name() const = 0;  // the rule name in compliance reports
  virtual v1::RuleResult Apply(const DesiredState& desired) = 0;
};

// Helpers for building results.
inline v1::RuleResult MakeRule(const std::string& rule, v1::RuleOutcome outcome,
                               std::string reason = {}) {
  v1::RuleResult r;
  r.set_rule(rule);
  r.set_outcome(outcome);
  r.set_reason(std::move(reason));
  return r;
}

}  // namespace preau::agent
