// UsageIngest: the device-stream side of usage. It checks each UsageBatch an agent sends
// (dates, bounds, and that a blocked-request category is a category, not a site name),
// then stores it through a group commit: batches from many devices share one SQLite
// transaction, and each is acknowledged only once the transaction holding it is durable.
// A batch sent twice (same device, same message id) is stored once.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "server/reports/usage_store.h"
#include "server/server_core.h"

namespace preau::server {

// Limits on one batch: generous for a real device, small enough that a bad agent cannot
// make the server hold much.
inline constexpr int kMaxDaysPerBatch = 400;
inline constexpr int kMaxAppsPerDay = 500;
inline constexpr int kMaxCategoriesPerDay = 200;
inline constexpr size_t kMaxNameBytes = 200;
inline constexpr uint32_t kMinutesPerDay = 24 * 60;

// A device's local date runs at most this far ahead of UTC (UTC+14, Kiribati): a day
// that has not begun there by the server's clock is a day the device cannot have lived.
inline constexpr int64_t kMaxLocalAheadOfUtcMs = 14 * 3'600'000;

// Checks one batch received at `now_ms` (the server's clock); InvalidArgument names the
// day and field at fault. Usage dated after the server's date is refused: a device whose
// clock ran ahead must not fill days that have not happened yet.
Status ValidateUsageBatch(const v1::UsageBatch& batch, int64_t now_ms);

class UsageIngest final : public DeviceFeature {
 public:
  UsageIngest(ServerCore& core, UsageStore& store) : core_(core), store_(store) {}

  bool Handles(v1::AgentMessage::BodyCase body) const override {
    return body == v1::AgentMessage::kUsage;
  }
  // Queues the batch; the caller that finds no commit running commits everything queued
  // (its own batch and those that arrive meanwhile) until the queue is empty, calling each
  // batch's `done` after its transaction. Other callers return at once.
  void OnMessageAsync(const std::string& device_id, const v1::AgentMessage& msg,
                      std::function<void(const Status&)> done) override;
  // The same, waiting for the batch's commit.
  Status OnMessage(const std::string& device_id, const v1::AgentMessage& msg) override;

  // Usage older than this many months is not stored (kept in step by the retention job).
  void SetRetentionMonths(int months) { retention_months_.store(months); }

  struct Stats {
    uint64_t batches = 0;       // batches stored (or found already stored)
    uint64_t transactions = 0;  // commits that held them
  };
  Stats stats() const;

 private:
  struct Pending {
    v1::AgentMessage msg;  // owned: the stream reuses its buffer for the next message
    IncomingUsage usage;   // points into msg
    std::function<void(const Status&)> done;
  };

  ServerCore& core_;
  UsageStore& store_;
  std::atomic<int> retention_months_{13};

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Pending>> queue_;
  bool committing_ = false;
  Stats stats_;
};

}  // namespace preau::server
