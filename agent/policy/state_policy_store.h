// StatePolicyStore: the policy engine's PolicyStore over the agent's own SQLite state (one
// named value in StateStore), so the last valid bundle survives restarts and power loss.
#pragma once

#include <optional>
#include <string>

#include "agent/core/state_store.h"
#include "agent/policy/policy_store.h"

namespace preau::agent {

class StatePolicyStore final : public PolicyStore {
 public:
  // `state` must outlive the store.
  explicit StatePolicyStore(StateStore* state) : state_(state) {}

  Status SaveBundle(const std::string& signed_bundle_bytes) override;
  // nullopt when there is none, and when it cannot be read (said on stderr): the engine
  // then starts without a policy rather than not at all.
  std::optional<std::string> LoadBundle() override;

  // The StateStore key that holds the bundle.
  static constexpr const char* kKey = "policy.bundle";

 private:
  StateStore* state_;
};

}  // namespace preau::agent
