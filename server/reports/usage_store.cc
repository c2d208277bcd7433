#include "server/reports/usage_store.h"

#include <algorithm>
#include <set>

namespace preau::server {

namespace {
// Rows per multi-row statement: 5 parameters a row stays far below SQLite's limit.
constexpr size_t kRowsPerStatement = 500;

std::string Placeholders(size_t rows, int per_row) {
  std::string tuple = "(";
  for (int i = 0; i < per_row; ++i) tuple += i ? ",?" : "?";
  tuple += ")";
  std::string out;
  for (size_t r = 0; r < rows; ++r) out += (r ? "," : "") + tuple;
  return out;
}

constexpr const char* kRetentionMonthsKey = "usage.retention_months";
constexpr const char* kRetiredDaysKey = "usage.retired_days";
}  // namespace

Status UsageStore::StoreBatches(const std::vector<IncomingUsage>& batches,
                                const std::string& cutoff_day, int64_t now_ms) {
  if (batches.empty()) return Status::Ok();
  return store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      // 1. Claim the batch ids; RETURNING gives back only those never stored before.
      std::set<std::pair<std::string, std::string>> fresh;
      for (size_t begin = 0; begin < batches.size(); begin += kRowsPerStatement) {
        size_t n = std::min(kRowsPerStatement, batches.size() - begin);
        PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
            "INSERT INTO usage_batches(device_id, msg_id, received_ms) VALUES " +
            Placeholders(n, 3) + " ON CONFLICT DO NOTHING RETURNING device_id, msg_id"));
        for (size_t i = begin; i < begin + n; ++i) {
          int p = static_cast<int>(i - begin) * 3;
          s.Bind(p + 1, batches[i].device_id).Bind(p + 2, batches[i].msg_id).Bind(p + 3, now_ms);
        }
        for (;;) {
          PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
          if (!row) break;
          fresh.emplace(s.Text(0), s.Text(1));
        }
      }
      // 2. The days of the new batches (a later batch's day replaces an earlier one's),
      // and what each agent says it dropped.
      std::map<std::pair<std::string, std::string>, const v1::DailyUsage*> days;
      std::map<std::string, int64_t> dropped;
      for (const auto& b : batches) {
        if (fresh.erase({b.device_id, b.msg_id}) == 0) continue;  // stored before, or twice here
        for (const auto& d : b.batch->days()) {
          if (d.day() < cutoff_day) continue;
          days[{b.device_id, d.day()}] = &d;
        }
        int64_t& max = dropped[b.device_id];
        max = std::max<int64_t>(max, b.batch->dropped_batches());
      }
      std::vector<std::pair<const std::pair<std::string, std::string>*, const v1::DailyUsage*>>
          rows;
      for (const auto& [key, d] : days) rows.emplace_back(&key, d);
      for (size_t begin = 0; begin < rows.size(); begin += kRowsPerStatement) {
        size_t n = std::min(kRowsPerStatement, rows.size() - begin);
        PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
            "INSERT INTO usage_days(device_id, day, screen_on_minutes, detail, received_ms) "
            "VALUES " + Placeholders(n, 5) +
            " ON CONFLICT(device_id, day) DO UPDATE SET screen_on_minutes="
            "excluded.screen_on_minutes, detail=excluded.detail, received_ms=excluded.received_ms"));
        for (size_t i = begin; i < begin + n; ++i) {
          int p = static_cast<int>(i - begin) * 5;
          s.Bind(p + 1, rows[i].first->first).Bind(p + 2, rows[i].first->second)
              .Bind(p + 3, static_cast<int64_t>(rows[i].second->screen_on_minutes()))
              .BindBlob(p + 4, rows[i].second->SerializeAsString()).Bind(p + 5, now_ms);
        }
        PREAU_RETURN_IF_ERROR(s.Run());
      }
      std::vector<std::pair<std::string, int64_t>> agents(dropped.begin(), dropped.end());
      for (size_t begin = 0; begin < agents.size(); begin += kRowsPerStatement) {
        size_t n = std::min(kRowsPerStatement, agents.size() - begin);
        PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
            "INSERT INTO usage_agents(device_id, dropped_batches, last_batch_ms) VALUES " +
            Placeholders(n, 3) +
            " ON CONFLICT(device_id) DO UPDATE SET dropped_batches=CASE WHEN "
            "usage_agents.dropped_batches > excluded.dropped_batches THEN "
            "usage_agents.dropped_batches ELSE excluded.dropped_batches END, "
            "last_batch_ms=excluded.last_batch_ms"));
        for (size_t i = begin; i < begin + n; ++i) {
          int p = static_cast<int>(i - begin) * 3;
          s.Bind(p + 1, agents[i].first).Bind(p + 2, agents[i].second).Bind(p + 3, now_ms);
        }
        PREAU_RETURN_IF_ERROR(s.Run());
      }
      return Status::Ok();
    });
  });
}

Result<std::vector<UsageDay>> UsageStore::Days(const std::string& since_day,
                                               const std::string& device_id) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<UsageDay>> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
        "SELECT device_id, day, screen_on_minutes, detail FROM usage_days WHERE day >= ?1 "
        "AND (?2 = '' OR device_id = ?2) ORDER BY device_id, day"));
    s.Bind(1, since_day).Bind(2, device_id);
    std::vector<UsageDay> out;
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      UsageDay d;
      d.device_id = s.Text(0);
      d.day = s.Text(1);
      d.screen_on_minutes = static_cast<uint32_t>(s.Int(2));
      if (!d.detail.ParseFromString(s.Blob(3))) {
        return DataLoss("usage of device " + d.device_id + " on " + d.day + " is unreadable");
      }
      out.push_back(std::move(d));
    }
    return out;
  });
}

Result<std::vector<std::pair<std::string, int64_t>>> UsageStore::BatchIds(
    const std::string& device_id) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<std::pair<std::string, int64_t>>> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
        "SELECT msg_id, received_ms FROM usage_batches WHERE device_id=? ORDER BY received_ms, msg_id"));
    s.Bind(1, device_id);
    std::vector<std::pair<std::string, int64_t>> out;
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.emplace_back(s.Text(0), s.Int(1));
    }
    return out;
  });
}

Result<std::map<std::string, int64_t>> UsageStore::Dropped() {
  return store_.Locked([&](SqlDb& db) -> Result<std::map<std::string, int64_t>> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT device_id, dropped_batches FROM usage_agents"));
    std::map<std::string, int64_t> out;
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out[s.Text(0)] = s.Int(1);
    }
    return out;
  });
}

Result<RetentionOutcome> UsageStore::DeletePast(const std::string& cutoff_day,
                                                int64_t batch_cutoff_ms,
                                                int64_t retired_before_ms) {
  return store_.Locked([&](SqlDb& db) -> Result<RetentionOutcome> {
    RetentionOutcome out;
    Status st = db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto count, db.Prepare(
          "SELECT COUNT(*) FROM devices WHERE retired_ms != 0 AND retired_ms <= ?1 AND "
          "(EXISTS (SELECT 1 FROM usage_days u WHERE u.device_id = devices.id) OR "
          "EXISTS (SELECT 1 FROM usage_batches b WHERE b.device_id = devices.id))"));
      count.Bind(1, retired_before_ms);
      PREAU_ASSIGN_OR_RETURN(bool row, count.Step());
      out.retired_devices_purged = row ? count.Int(0) : 0;
      const char* kRetired =
          "device_id IN (SELECT id FROM devices WHERE retired_ms != 0 AND retired_ms <= ?1)";
      PREAU_ASSIGN_OR_RETURN(auto d1, db.Prepare(std::string("DELETE FROM usage_days WHERE day < ?2 OR ") + kRetired));
      PREAU_RETURN_IF_ERROR(d1.Bind(1, retired_before_ms).Bind(2, cutoff_day).Run());
      out.days_deleted = db.Changes();
      PREAU_ASSIGN_OR_RETURN(auto d2, db.Prepare(std::string("DELETE FROM usage_batches WHERE received_ms < ?2 OR ") + kRetired));
      PREAU_RETURN_IF_ERROR(d2.Bind(1, retired_before_ms).Bind(2, batch_cutoff_ms).Run());
      out.batch_ids_deleted = db.Changes();
      PREAU_ASSIGN_OR_RETURN(auto d3, db.Prepare(std::string("DELETE FROM usage_agents WHERE ") + kRetired));
      return d3.Bind(1, retired_before_ms).Run();
    });
    if (!st.ok()) return st;
    return out;
  });
}

Result<RetentionPolicy> UsageStore::GetRetention() {
  RetentionPolicy p;
  auto months = store_.GetMeta(kRetentionMonthsKey);
  if (months.ok()) p.usage_months = std::stoi(*months);
  auto days = store_.GetMeta(kRetiredDaysKey);
  if (days.ok()) p.retired_days = std::stoi(*days);
  return p;
}

Status UsageStore::SetRetention(const RetentionPolicy& p) {
  if (p.usage_months < 1 || p.usage_months > 120) {
    return InvalidArgument("usage retention must be 1 to 120 months, not " +
                           std::to_string(p.usage_months));
  }
  if (p.retired_days < 0 || p.retired_days > 3650) {
    return InvalidArgument("retention after retirement must be 0 to 3650 days, not " +
                           std::to_string(p.retired_days));
  }
  PREAU_RETURN_IF_ERROR(store_.SetMeta(kRetentionMonthsKey, std::to_string(p.usage_months)));
  return store_.SetMeta(kRetiredDaysKey, std::to_string(p.retired_days));
}

Status UsageStore::UpsertStock(const std::vector<StockDevice>& devices, uint32_t* added,
                               uint32_t* updated) {
  return store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      *added = *updated = 0;  // a run again after a conflict counts afresh
      for (const auto& d : devices) {
        PREAU_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT 1 FROM stock_devices WHERE serial=?"));
        q.Bind(1, d.serial);
        PREAU_ASSIGN_OR_RETURN(bool exists, q.Step());
        ++*(exists ? updated : added);
        PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
            "INSERT INTO stock_devices(serial, name, model, manufacturer, kind, group_path, "
            "state, purchased, battery_health, disk_total_bytes, disk_free_bytes, notes, "
            "imported_ms, imported_by) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (serial) DO UPDATE SET name=excluded.name, model=excluded.model, "
            "manufacturer=excluded.manufacturer, kind=excluded.kind, "
            "group_path=excluded.group_path, state=excluded.state, "
            "purchased=excluded.purchased, battery_health=excluded.battery_health, "
            "disk_total_bytes=excluded.disk_total_bytes, "
            "disk_free_bytes=excluded.disk_free_bytes, notes=excluded.notes, "
            "imported_ms=excluded.imported_ms, imported_by=excluded.imported_by"));
        PREAU_RETURN_IF_ERROR(
            s.Bind(1, d.serial).Bind(2, d.name).Bind(3, d.model).Bind(4, d.manufacturer)
                .Bind(5, d.kind).Bind(6, d.group).Bind(7, d.state).Bind(8, d.purchased)
                .Bind(9, d.battery_health).Bind(10, d.disk_total_bytes)
                .Bind(11, d.disk_free_bytes).Bind(12, d.notes).Bind(13, d.imported_ms)
                .Bind(14, d.imported_by).Run());
      }
      return Status::Ok();
    });
  });
}

Result<std::vector<StockDevice>> UsageStore::ListStock() {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<StockDevice>> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
        "SELECT serial, name, model, manufacturer, kind, group_path, state, purchased, "
        "battery_health, disk_total_bytes, disk_free_bytes, notes, imported_ms, imported_by "
        "FROM stock_devices ORDER BY group_path, serial"));
    std::vector<StockDevice> out;
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      StockDevice d;
      d.serial = s.Text(0);
      d.name = s.Text(1);
      d.model = s.Text(2);
      d.manufacturer = s.Text(3);
      d.kind = s.Text(4);
      d.group = s.Text(5);
      d.state = s.Text(6);
      d.purchased = s.Text(7);
      d.battery_health = s.Int(8);
      d.disk_total_bytes = s.Int(9);
      d.disk_free_bytes = s.Int(10);
      d.notes = s.Text(11);
      d.imported_ms = s.Int(12);
      d.imported_by = s.Text(13);
      out.push_back(std::move(d));
    }
    return out;
  });
}

}  // namespace preau::server
