#include "agent/policy/state_policy_store.h"

#include <cstdio>

namespace preau::agent {

Status StatePolicyStore::SaveBundle(const std::string& signed_bundle_bytes) {
  return state_->Put(kKey, signed_bundle_bytes).Context("saving the policy bundle");
}

std::optional<std::string> StatePolicyStore::LoadBundle() {
  auto value = state_->Get(kKey);
  if (!value.ok()) {
    std::fprintf(stderr, "preau-agent: reading the policy bundle: %s\n",
                 value.status().message().c_str());
    return std::nullopt;
  }
  return *value;
}

}  // namespace preau::agent
