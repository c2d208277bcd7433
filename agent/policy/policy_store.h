// PolicyStore: where the policy engine keeps the last valid signed bundle, so that a device
// restarted offline keeps enforcing it. The agent core implements it over its SQLite state;
// MemoryPolicyStore serves tests and the fleet simulator.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "common/status.h"

namespace preau::agent {

class PolicyStore {
 public:
  virtual ~PolicyStore() = default;
  // Durably replaces the held bundle (serialized SignedPolicyBundle); Ok only once durable.
  virtual Status SaveBundle(const std::string& signed_bundle_bytes) = 0;
  // The held bundle, or nullopt when there is none yet.
  virtual std::optional<std::string> LoadBundle() = 0;
};

class MemoryPolicyStore final : public PolicyStore {
 public:
  Status SaveBundle(const std::string& bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    bytes_ = bytes;
    return Status::Ok();
  }
  std::optional<std::string> LoadBundle() override {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }

 private:
  std::mutex mu_;
  std::optional<std::string> bytes_;
};

}  // namespace preau::agent
