// UsageStore: the reports domain's tables in the server store (migration 4) — usage per
// device and day, the ids of the batches already stored, what each agent said it dropped,
// the retention settings, and the stock-taking of devices without an agent. Every method
// is one transaction under the store's mutex.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/usage.pb.h"
#include "server/store/store.h"

namespace preau::server {

// One UsageBatch as received from a device, waiting to be stored.
struct IncomingUsage {
  std::string device_id;
  std::string msg_id;
  const v1::UsageBatch* batch = nullptr;
};

struct UsageDay {
  std::string device_id;
  std::string day;
  uint32_t screen_on_minutes = 0;
  v1::DailyUsage detail;
};

struct RetentionPolicy {
  int usage_months = 13;  // usage older than this many calendar months is deleted
  int retired_days = 30;  // a retired device's usage is deleted this long after retirement
};

struct RetentionOutcome {
  int64_t days_deleted = 0;
  int64_t batch_ids_deleted = 0;
  int64_t retired_devices_purged = 0;
};

// A device known from stock-taking (imported from a spreadsheet), with no agent.
struct StockDevice {
  std::string serial;
  std::string name;
  std::string model;
  std::string manufacturer;
  std::string kind;
  std::string group;
  std::string state;      // in_service, reusable, to_retire
  std::string purchased;  // YYYY-MM-DD or ""
  int64_t battery_health = -1;
  int64_t disk_total_bytes = 0;
  int64_t disk_free_bytes = 0;
  std::string notes;
  int64_t imported_ms = 0;
  std::string imported_by;
};

class UsageStore {
 public:
  explicit UsageStore(Store& store) : store_(store) {}

  // Stores every batch not stored before (by device and message id), in one transaction:
  // this is the group commit of the ingest. Days before `cutoff_day` are past retention
  // and are not kept. Returns once the transaction is durable.
  Status StoreBatches(const std::vector<IncomingUsage>& batches, const std::string& cutoff_day,
                      int64_t now_ms);

  // Days on or after `since_day` (""; every day), of one device or (device_id "") all.
  Result<std::vector<UsageDay>> Days(const std::string& since_day,
                                     const std::string& device_id = "");
  // Batch ids stored for one device (for its export).
  Result<std::vector<std::pair<std::string, int64_t>>> BatchIds(const std::string& device_id);
  // What each agent last said it dropped past its outbox bound.
  Result<std::map<std::string, int64_t>> Dropped();

  // Deletes days before `cutoff_day`, batch ids received before `batch_cutoff_ms`, and
  // everything about devices retired at or before `retired_before_ms`.
  Result<RetentionOutcome> DeletePast(const std::string& cutoff_day, int64_t batch_cutoff_ms,
                                      int64_t retired_before_ms);

  Result<RetentionPolicy> GetRetention();
  Status SetRetention(const RetentionPolicy& policy);

  // Inserts or replaces stock devices by serial; counts what was new and what changed.
  Status UpsertStock(const std::vector<StockDevice>& devices, uint32_t* added,
                     uint32_t* updated);
  Result<std::vector<StockDevice>> ListStock();

 private:
  Store& store_;
};

}  // namespace preau::server
