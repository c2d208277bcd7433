#include "server/catalog/catalog_store.h"
#include "common/review_state.h"

#include <map>

namespace preau::server {

namespace {

constexpr const char* kVersionColumns =
    "id, metadata, sha256, size, state, reason, uploaded_by, uploaded_ms, reviewed_by, "
    "reviewed_ms";

v1::AppVersion ReadVersion(const SqlStmt& s, int first = 0) {
  v1::AppVersion v;
  v.set_id(s.Text(first));
  v.mutable_metadata()->ParseFromString(s.Blob(first + 1));
  v.set_sha256(s.Text(first + 2));
  v.set_size(static_cast<uint64_t>(s.Int(first + 3)));
  v.set_state(static_cast<v1::ReviewState>(s.Int(first + 4)));
  v.set_reason(s.Text(first + 5));
  v.set_uploaded_by(s.Text(first + 6));
  v.set_uploaded_unix_ms(s.Int(first + 7));
  v.set_reviewed_by(s.Text(first + 8));
  v.set_reviewed_unix_ms(s.Int(first + 9));
  return v;
}

v1::AppAssignment ReadAssignment(const SqlStmt& s, int first = 0) {
  v1::AppAssignment a;
  a.set_group(s.Text(first));
  a.set_app_id(s.Text(first + 1));
  a.set_version_id(s.Text(first + 2));
  a.set_required(s.Int(first + 3) != 0);
  a.set_assigned_by(s.Text(first + 4));
  a.set_assigned_unix_ms(s.Int(first + 5));
  return a;
}

constexpr const char* kAssignmentColumns =
    "a.group_path, a.name, a.version_id, a.required, a.assigned_by, a.assigned_ms";

Result<v1::AppVersion> GetVersionLocked(SqlDb& db, const std::string& id) {
  PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(std::string("SELECT ") + kVersionColumns +
                                            " FROM app_versions WHERE id=?"));
  s.Bind(1, id);
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("no app version '" + id + "' (see `preau apps list`)");
  return ReadVersion(s);
}

}  // namespace

std::string AppVersionId(const std::string& name, const std::string& version) {
  return name + "@" + version;
}

Result<v1::AppVersion> CatalogStore::InsertVersion(const v1::AppMetadata& metadata,
                                                   const std::string& sha256, uint64_t size,
                                                   const std::string& uploaded_by,
                                                   int64_t now_ms) {
  const std::string id = AppVersionId(metadata.name(), metadata.version());
  return store_.Locked([&](SqlDb& db) -> Result<v1::AppVersion> {
    Result<v1::AppVersion> out = Internal("not inserted");
    Status st = db.Transaction([&]() -> Status {
      auto existing = GetVersionLocked(db, id);
      if (existing.ok()) {
        return AlreadyExists("app version '" + id + "' was already uploaded (" +
                             ReviewStateName(existing->state()) + "); upload it as a new version");
      }
      PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
          "INSERT INTO app_versions(id, name, version, metadata, sha256, size, state, "
          "uploaded_by, uploaded_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      PREAU_RETURN_IF_ERROR(s.Bind(1, id).Bind(2, metadata.name()).Bind(3, metadata.version())
          .BindBlob(4, metadata.SerializeAsString()).Bind(5, sha256)
          .Bind(6, static_cast<int64_t>(size)).Bind(7, int64_t{v1::REVIEW_STATE_SUBMITTED})
          .Bind(8, uploaded_by).Bind(9, now_ms).Run());
      out = GetVersionLocked(db, id);
      return out.status();
    });
    if (!st.ok()) return st;
    return out;
  });
}

Result<v1::AppVersion> CatalogStore::GetVersion(const std::string& id) {
  return store_.Locked([&](SqlDb& db) { return GetVersionLocked(db, id); });
}

Result<v1::AppVersion> CatalogStore::Review(const std::string& id, bool approve,
                                            const std::string& reason,
                                            const std::string& reviewer, int64_t now_ms) {
  if (!approve && reason.empty()) {
    return InvalidArgument("a rejection needs a reason (--reason TEXT): the uploader reads it");
  }
  return store_.Locked([&](SqlDb& db) -> Result<v1::AppVersion> {
    Result<v1::AppVersion> out = Internal("not reviewed");
    Status st = db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto v, GetVersionLocked(db, id));
      bool allowed = v.state() == v1::REVIEW_STATE_SUBMITTED ||
                     (!approve && v.state() == v1::REVIEW_STATE_APPROVED);
      if (!allowed) {
        return FailedPrecondition("app version '" + id + "' is already " +
                                  ReviewStateName(v.state()) +
                                  (v.state() == v1::REVIEW_STATE_REJECTED
                                       ? "; upload a new version to submit it again"
                                       : ""));
      }
      PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
          "UPDATE app_versions SET state=?, reason=?, reviewed_by=?, reviewed_ms=? WHERE id=?"));
      PREAU_RETURN_IF_ERROR(
          s.Bind(1, int64_t{approve ? v1::REVIEW_STATE_APPROVED : v1::REVIEW_STATE_REJECTED})
              .Bind(2, approve ? std::string() : reason).Bind(3, reviewer).Bind(4, now_ms)
              .Bind(5, id).Run());
      out = GetVersionLocked(db, id);
      return out.status();
    });
    if (!st.ok()) return st;
    return out;
  });
}

Result<v1::AppAssignment> CatalogStore::Assign(const std::string& id, const std::string& group,
                                               bool required, const std::string& by,
                                               int64_t now_ms) {
  return store_.Locked([&](SqlDb& db) -> Result<v1::AppAssignment> {
    v1::AppAssignment a;
    Status st = db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto v, GetVersionLocked(db, id));
      if (v.state() != v1::REVIEW_STATE_APPROVED) {
        return FailedPrecondition("app version '" + id + "' is " + ReviewStateName(v.state()) +
                                  (v.state() == v1::REVIEW_STATE_REJECTED
                                       ? " (" + v.reason() + ")"
                                       : "") +
                                  ": only a version approved by a reviewer can be assigned");
      }
      PREAU_ASSIGN_OR_RETURN(auto g, db.Prepare("SELECT 1 FROM groups WHERE path=?"));
      g.Bind(1, group);
      PREAU_ASSIGN_OR_RETURN(bool exists, g.Step());
      if (!exists) {
        return NotFound("unknown group '" + group + "' (create it with `preau groups create`)");
      }
      PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
          "INSERT INTO app_assignments(group_path, name, version_id, required, "
          "assigned_by, assigned_ms) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT (group_path, name) "
          "DO UPDATE SET version_id=excluded.version_id, required=excluded.required, "
          "assigned_by=excluded.assigned_by, assigned_ms=excluded.assigned_ms"));
      PREAU_RETURN_IF_ERROR(s.Bind(1, group).Bind(2, v.metadata().name()).Bind(3, id)
                                .Bind(4, int64_t{required}).Bind(5, by).Bind(6, now_ms).Run());
      a.set_group(group);
      a.set_app_id(v.metadata().name());
      a.set_version_id(id);
      a.set_required(required);
      a.set_assigned_by(by);
      a.set_assigned_unix_ms(now_ms);
      return Status::Ok();
    });
    if (!st.ok()) return st;
    return a;
  });
}

Result<v1::AppAssignment> CatalogStore::Unassign(const std::string& name,
                                                 const std::string& group) {
  return store_.Locked([&](SqlDb& db) -> Result<v1::AppAssignment> {
    v1::AppAssignment a;
    Status st = db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(std::string("SELECT ") + kAssignmentColumns +
                                                " FROM app_assignments a WHERE a.group_path=? "
                                                "AND a.name=?"));
      s.Bind(1, group).Bind(2, name);
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return NotFound("group '" + group + "' has no assignment of app '" + name + "'");
      a = ReadAssignment(s);
      PREAU_ASSIGN_OR_RETURN(auto d, db.Prepare(
          "DELETE FROM app_assignments WHERE group_path=? AND name=?"));
      return d.Bind(1, group).Bind(2, name).Run();
    });
    if (!st.ok()) return st;
    return a;
  });
}

Result<std::vector<v1::AppVersion>> CatalogStore::List(const std::string& name) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<v1::AppVersion>> {
    std::vector<v1::AppVersion> out;
    std::map<std::string, size_t> index;
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
        std::string("SELECT ") + kVersionColumns +
        " FROM app_versions WHERE (?1 = '' OR name = ?1) ORDER BY uploaded_ms DESC, id"));
    s.Bind(1, name);
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      index[s.Text(0)] = out.size();
      out.push_back(ReadVersion(s));
    }
    PREAU_ASSIGN_OR_RETURN(auto a, db.Prepare(std::string("SELECT ") + kAssignmentColumns +
                                              " FROM app_assignments a ORDER BY a.group_path"));
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, a.Step());
      if (!row) break;
      auto it = index.find(a.Text(2));
      if (it != index.end()) *out[it->second].add_assignments() = ReadAssignment(a);
    }
    // Device counts per version, from each device's latest report (sha256 names the
    // version without ambiguity; name + version string is what the agent reports).
    PREAU_ASSIGN_OR_RETURN(auto c, db.Prepare("SELECT status, state FROM app_device_status"));
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, c.Step());
      if (!row) break;
      v1::AppStatus st;
      if (!st.ParseFromString(c.Blob(0))) continue;
      auto it = index.find(AppVersionId(st.app_id(), st.version()));
      if (it == index.end()) continue;
      if (st.state() == "installed") out[it->second].set_installed_devices(
          out[it->second].installed_devices() + 1);
      if (st.state() == "failed") out[it->second].set_failed_devices(
          out[it->second].failed_devices() + 1);
    }
    return out;
  });
}

Result<std::vector<CatalogStore::Resolved>> CatalogStore::AssignmentsAt(
    const std::vector<std::string>& groups) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<Resolved>> {
    std::vector<Resolved> out;
    // One statement per group: a SqlStmt cannot be reset.
    for (const auto& g : groups) {
      auto q = db.Prepare(std::string("SELECT ") + kAssignmentColumns +
                          ", v.id, v.metadata, v.sha256, v.size, v.state, v.reason, "
                          "v.uploaded_by, v.uploaded_ms, v.reviewed_by, v.reviewed_ms "
                          "FROM app_assignments a JOIN app_versions v ON v.id = a.version_id "
                          "WHERE a.group_path = ? AND v.state = ? ORDER BY a.name");
      if (!q.ok()) return q.status();
      q->Bind(1, g).Bind(2, int64_t{v1::REVIEW_STATE_APPROVED});
      for (;;) {
        PREAU_ASSIGN_OR_RETURN(bool row, q->Step());
        if (!row) break;
        out.push_back({ReadAssignment(*q), ReadVersion(*q, 6)});
      }
    }
    return out;
  });
}

Result<std::vector<std::string>> CatalogStore::GroupsAssigned(const std::string& id) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<std::string>> {
    std::vector<std::string> out;
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
        "SELECT group_path FROM app_assignments WHERE version_id=? ORDER BY group_path"));
    s.Bind(1, id);
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back(s.Text(0));
    }
    return out;
  });
}

Status CatalogStore::RecordStatus(const std::string& device_id,
                                  const v1::AppStatusReport& report, int64_t now_ms) {
  return store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto d, db.Prepare("DELETE FROM app_device_status WHERE device_id=?"));
      PREAU_RETURN_IF_ERROR(d.Bind(1, device_id).Run());
      for (const auto& app : report.apps()) {
        if (app.app_id().empty()) continue;
        auto ins = db.Prepare(
            "INSERT INTO app_device_status(device_id, name, status, state, reported_ms) "
            "VALUES(?, ?, ?, ?, ?) ON CONFLICT (device_id, name) DO UPDATE SET "
            "status=excluded.status, state=excluded.state, reported_ms=excluded.reported_ms");
        if (!ins.ok()) return ins.status();
        PREAU_RETURN_IF_ERROR(ins->Bind(1, device_id).Bind(2, app.app_id())
                                  .BindBlob(3, app.SerializeAsString()).Bind(4, app.state())
                                  .Bind(5, now_ms).Run());
      }
      return Status::Ok();
    });
  });
}

Result<std::vector<CatalogStore::DeviceStatusRow>> CatalogStore::StatusOf(
    const std::string& name) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<DeviceStatusRow>> {
    std::vector<DeviceStatusRow> out;
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
        "SELECT device_id, status, reported_ms FROM app_device_status "
        "WHERE (?1 = '' OR name = ?1) ORDER BY device_id, name"));
    s.Bind(1, name);
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      DeviceStatusRow r;
      r.device_id = s.Text(0);
      r.status.ParseFromString(s.Blob(1));
      r.reported_ms = s.Int(2);
      out.push_back(std::move(r));
    }
    return out;
  });
}

}  // namespace preau::server
