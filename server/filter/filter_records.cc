#include "server/filter/filter_records.h"

namespace preau::server {

namespace {

FilterImportRecord ImportFromRow(const SqlStmt& s) {
  FilterImportRecord r;
  r.version = static_cast<uint64_t>(s.Int(0));
  r.source = s.Text(1);
  r.sha256 = s.Text(2);
  r.size = static_cast<uint64_t>(s.Int(3));
  r.summary.ParseFromString(s.Blob(4));
  r.imported_by = s.Text(5);
  r.imported_ms = s.Int(6);
  return r;
}

constexpr const char* kImportColumns =
    "SELECT version, source, sha256, size, summary, imported_by, imported_ms "
    "FROM filter_imports ";

FilterSnapshotRecord SnapshotFromRow(const SqlStmt& s) {
  FilterSnapshotRecord r;
  r.version = static_cast<uint64_t>(s.Int(0));
  r.import_version = static_cast<uint64_t>(s.Int(1));
  r.profile_key = s.Text(2);
  r.sha256 = s.Text(3);
  r.size = static_cast<uint64_t>(s.Int(4));
  r.created_ms = s.Int(5);
  return r;
}

constexpr const char* kSnapshotColumns =
    "SELECT version, import_version, profile_key, sha256, size, created_ms "
    "FROM filter_snapshots ";

}  // namespace

Result<uint64_t> FilterRecords::AddImport(FilterImportRecord record) {
  return store_.Locked([&](SqlDb& db) -> Result<uint64_t> {
    uint64_t version = 0;
    PREAU_RETURN_IF_ERROR(db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT COALESCE(MAX(version), 0) + 1 "
                                                "FROM filter_imports"));
      PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
      version = row ? static_cast<uint64_t>(q.Int(0)) : 1;
      record.summary.set_version(version);
      PREAU_ASSIGN_OR_RETURN(
          auto s, db.Prepare("INSERT INTO filter_imports (version, source, sha256, size, "
                             "summary, imported_by, imported_ms) VALUES (?,?,?,?,?,?,?)"));
      s.Bind(1, static_cast<int64_t>(version))
          .Bind(2, record.source)
          .Bind(3, record.sha256)
          .Bind(4, static_cast<int64_t>(record.size))
          .BindBlob(5, record.summary.SerializeAsString())
          .Bind(6, record.imported_by)
          .Bind(7, record.imported_ms);
      return s.Run();
    }));
    return version;
  });
}

Result<std::optional<FilterImportRecord>> FilterRecords::CurrentImport() {
  return store_.Locked([&](SqlDb& db) -> Result<std::optional<FilterImportRecord>> {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare(std::string(kImportColumns) + "ORDER BY version DESC LIMIT 1"));
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<FilterImportRecord>();
    return std::optional<FilterImportRecord>(ImportFromRow(s));
  });
}

Result<std::vector<FilterImportRecord>> FilterRecords::Imports() {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<FilterImportRecord>> {
    PREAU_ASSIGN_OR_RETURN(auto s,
                           db.Prepare(std::string(kImportColumns) + "ORDER BY version DESC"));
    std::vector<FilterImportRecord> out;
    while (true) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(ImportFromRow(s));
    }
    return out;
  });
}

Result<std::optional<FilterSnapshotRecord>> FilterRecords::SnapshotFor(
    const std::string& profile_key, uint64_t import_version) {
  return store_.Locked([&](SqlDb& db) -> Result<std::optional<FilterSnapshotRecord>> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(std::string(kSnapshotColumns) +
                                              "WHERE profile_key=? AND import_version=?"));
    s.Bind(1, profile_key).Bind(2, static_cast<int64_t>(import_version));
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<FilterSnapshotRecord>();
    return std::optional<FilterSnapshotRecord>(SnapshotFromRow(s));
  });
}

Result<std::optional<FilterSnapshotRecord>> FilterRecords::SnapshotByVersion(uint64_t version) {
  return store_.Locked([&](SqlDb& db) -> Result<std::optional<FilterSnapshotRecord>> {
    PREAU_ASSIGN_OR_RETURN(auto s,
                           db.Prepare(std::string(kSnapshotColumns) + "WHERE version=?"));
    s.Bind(1, static_cast<int64_t>(version));
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<FilterSnapshotRecord>();
    return std::optional<FilterSnapshotRecord>(SnapshotFromRow(s));
  });
}

Result<uint64_t> FilterRecords::NextSnapshotVersion() {
  return store_.Locked([&](SqlDb& db) -> Result<uint64_t> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT COALESCE(MAX(version), 0) + 1 "
                                              "FROM filter_snapshots"));
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? static_cast<uint64_t>(s.Int(0)) : 1;
  });
}

Status FilterRecords::AddSnapshot(const FilterSnapshotRecord& r) {
  return store_.Locked([&](SqlDb& db) -> Status {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare("INSERT INTO filter_snapshots (version, import_version, "
                           "profile_key, sha256, size, created_ms) VALUES (?,?,?,?,?,?)"));
    s.Bind(1, static_cast<int64_t>(r.version))
        .Bind(2, static_cast<int64_t>(r.import_version))
        .Bind(3, r.profile_key)
        .Bind(4, r.sha256)
        .Bind(5, static_cast<int64_t>(r.size))
        .Bind(6, r.created_ms);
    return s.Run();
  });
}

Result<uint64_t> FilterRecords::SnapshotCount() {
  return store_.Locked([&](SqlDb& db) -> Result<uint64_t> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT COUNT(*) FROM filter_snapshots"));
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? static_cast<uint64_t>(s.Int(0)) : 0;
  });
}

Result<std::map<std::string, uint64_t>> FilterRecords::DeviceHolds() {
  return store_.Locked([&](SqlDb& db) -> Result<std::map<std::string, uint64_t>> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT h.device_id, h.version "
                                              "FROM filter_device_holds h JOIN devices d "
                                              "ON d.id = h.device_id WHERE d.retired_ms = 0"));
    std::map<std::string, uint64_t> out;
    while (true) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out[s.Text(0)] = static_cast<uint64_t>(s.Int(1));
    }
    return out;
  });
}

Status FilterRecords::SaveDeviceHolds(const std::vector<std::pair<std::string, uint64_t>>& holds,
                                      int64_t now_ms) {
  return store_.Locked([&](SqlDb& db) -> Status {
    return db.Transaction([&]() -> Status {
      for (const auto& [device, version] : holds) {
        PREAU_ASSIGN_OR_RETURN(
            auto s, db.Prepare("INSERT INTO filter_device_holds(device_id, version, updated_ms) "
                               "VALUES(?, ?, ?) ON CONFLICT(device_id) DO UPDATE SET "
                               "version=excluded.version, updated_ms=excluded.updated_ms"));
        s.Bind(1, device).Bind(2, static_cast<int64_t>(version)).Bind(3, now_ms);
        PREAU_RETURN_IF_ERROR(s.Run());
      }
      return Status::Ok();
    });
  });
}

Result<bool> FilterRecords::IsDeviceArtifact(const std::string& sha256) {
  return store_.Locked([&](SqlDb& db) -> Result<bool> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT 1 FROM filter_snapshots WHERE sha256=? "
                                              "UNION ALL SELECT 1 FROM filter_deltas "
                                              "WHERE sha256=? LIMIT 1"));
    s.Bind(1, sha256).Bind(2, sha256);
    return s.Step();
  });
}

Result<std::optional<FilterDeltaRecord>> FilterRecords::Delta(uint64_t base_version,
                                                             uint64_t version) {
  return store_.Locked([&](SqlDb& db) -> Result<std::optional<FilterDeltaRecord>> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT sha256, size FROM filter_deltas "
                                              "WHERE base_version=? AND version=?"));
    s.Bind(1, static_cast<int64_t>(base_version)).Bind(2, static_cast<int64_t>(version));
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<FilterDeltaRecord>();
    FilterDeltaRecord d{base_version, version, s.Text(0), static_cast<uint64_t>(s.Int(1))};
    return std::optional<FilterDeltaRecord>(std::move(d));
  });
}

Status FilterRecords::AddDelta(const FilterDeltaRecord& r) {
  return store_.Locked([&](SqlDb& db) -> Status {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare("INSERT INTO filter_deltas (base_version, version, sha256, size) "
                           "VALUES (?,?,?,?) ON CONFLICT (base_version, version) DO UPDATE "
                           "SET sha256=excluded.sha256, size=excluded.size"));
    s.Bind(1, static_cast<int64_t>(r.base_version))
        .Bind(2, static_cast<int64_t>(r.version))
        .Bind(3, r.sha256)
        .Bind(4, static_cast<int64_t>(r.size));
    return s.Run();
  });
}

Result<std::vector<FilterSnapshotRecord>> FilterRecords::Snapshots() {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<FilterSnapshotRecord>> {
    PREAU_ASSIGN_OR_RETURN(auto s,
                           db.Prepare(std::string(kSnapshotColumns) + "ORDER BY version"));
    std::vector<FilterSnapshotRecord> out;
    while (true) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(SnapshotFromRow(s));
    }
    return out;
  });
}

Result<std::vector<std::string>> FilterRecords::RemoveSnapshots(
    const std::vector<uint64_t>& versions) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<std::string>> {
    std::vector<std::string> shas;
    PREAU_RETURN_IF_ERROR(db.Transaction([&]() -> Status {
      shas.clear();  // a run again after a conflict starts afresh
      for (uint64_t v : versions) {
        auto version = static_cast<int64_t>(v);
        PREAU_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT sha256 FROM filter_snapshots "
                                                  "WHERE version=? UNION ALL "
                                                  "SELECT sha256 FROM filter_deltas "
                                                  "WHERE base_version=? OR version=?"));
        q.Bind(1, version).Bind(2, version).Bind(3, version);
        while (true) {
          PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
          if (!row) break;
          shas.push_back(q.Text(0));
        }
        PREAU_ASSIGN_OR_RETURN(auto d, db.Prepare("DELETE FROM filter_deltas "
                                                  "WHERE base_version=? OR version=?"));
        d.Bind(1, version).Bind(2, version);
        PREAU_RETURN_IF_ERROR(d.Run());
        PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare("DELETE FROM filter_snapshots WHERE version=?"));
        s.Bind(1, version);
        PREAU_RETURN_IF_ERROR(s.Run());
      }
      return Status::Ok();
    }));
    return shas;
  });
}

Result<std::set<std::string>> FilterRecords::ArtifactsInUse() {
  return store_.Locked([&](SqlDb& db) -> Result<std::set<std::string>> {
    PREAU_ASSIGN_OR_RETURN(
        auto s, db.Prepare("SELECT sha256 FROM (SELECT sha256 FROM filter_imports "
                           "ORDER BY version DESC LIMIT 1) AS latest "
                           "UNION SELECT sha256 FROM filter_snapshots "
                           "UNION SELECT sha256 FROM filter_deltas"));
    std::set<std::string> out;
    while (true) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.insert(s.Text(0));
    }
    return out;
  });
}

}  // namespace preau::server
