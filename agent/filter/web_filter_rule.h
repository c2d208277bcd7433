// The `web_filter` compliance rule, and the link between it and the filter plugin.
//
// The policy engine runs its rules on the agent's strand, where the filter's resolver also
// answers; a self-test that asks the system's resolver (getaddrinfo) and waits would block
// the very resolver it asks. So the rule only says what the policy wants (the filter in the
// DNS path or not) and reports the latest self-test result; the filter plugin engages or
// disengages the system and runs the self-test on its own thread, and the link tells the
// policy plugin to report again when the result changes.
//
// The rule is APPLIED only when the last self-test passed; FAILED with its cause otherwise
// (and "self-test pending" until the first one ends); left out of the report when the
// policy does not enable the filter.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/enforce/enforcer.h"

namespace preau::agent {

class WebFilterLink {
 public:
  struct Outcome {
    v1::RuleOutcome outcome = v1::RULE_FAILED;
    std::string reason = "web filter self-test pending";
    bool operator==(const Outcome& o) const { return outcome == o.outcome && reason == o.reason; }
  };

  // Rule side: what the policy wants now; the filter side's listener is told (every call:
  // it is also the cue for a new self-test).
  void Want(bool in_path);
  std::optional<bool> wanted() const;
  // Filter side: called on each Want (from the policy's strand: post, do not block).
  void OnWant(std::function<void()> listener);

  // Filter side: the last self-test result; rule-side listeners are told when it changes.
  void SetOutcome(Outcome outcome);
  Outcome outcome() const;
  void OnOutcomeChange(std::function<void()> listener);

 private:
  mutable std::mutex mu_;
  std::optional<bool> wanted_;
  Outcome outcome_;
  std::vector<std::function<void()>> want_listeners_;
  std::vector<std::function<void()>> outcome_listeners_;
};

class WebFilterRule final : public Enforcer {
 public:
  explicit WebFilterRule(std::shared_ptr<WebFilterLink> link) : link_(std::move(link)) {}
  std::string name() const override { return "web_filter"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  std::shared_ptr<WebFilterLink> link_;
};

// The name the self-test asks for: unique to the device and the hour, under a suffix the
// agent's resolver answers itself ("h2026112903.d-2d6e95822bc6.selftest.preau.invalid").
std::string SelfTestName(const std::string& device_id, int64_t now_unix_ms);
// Whether `name` (lowercase, no trailing dot) is a self-test name.
bool IsSelfTestName(const std::string& name);

struct SelfTestOptions {
  std::string name;              // SelfTestName(...)
  std::string outside_resolver;  // "192.0.2.53" or "192.0.2.53:53"; empty: skip that step
  int timeout_ms = 2000;
};

struct SelfTestProbe {
  bool resolved = false;           // getaddrinfo gave an address
  std::string resolve_error;       // gai_strerror when it did not
  bool outside_answered = false;   // the outside resolver answered our direct query
  bool outside_refused = false;    // ... or the query was refused (port unreachable)
  std::string outside_detail;      // what happened to the direct query
};

// Asks `name` through the system's resolver path (getaddrinfo) and sends a query for it
// straight to the outside resolver from an ordinary (unmarked) socket. Blocking: call it
// off the agent's strand.
SelfTestProbe RunSelfTestProbe(const SelfTestOptions& options);

}  // namespace preau::agent
