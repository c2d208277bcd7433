#include "server/store/store.h"

#include <limits>
#include <sstream>

#include "server/store/migrations.h"
#include "server/store/postgres_db.h"
#include "server/store/sqlite_db.h"

namespace preau::server {

bool PathWithin(const std::string& path, const std::string& ancestor) {
  if (ancestor.empty()) return true;
  if (path.size() < ancestor.size() || path.compare(0, ancestor.size(), ancestor) != 0) {
    return false;
  }
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

Status ValidateGroupPath(const std::string& path) {
  if (path.empty()) return InvalidArgument("group path is empty");
  if (path.size() > kMaxGroupPathBytes) {
    return InvalidArgument("group path is longer than " + std::to_string(kMaxGroupPathBytes) +
                           " bytes");
  }
  int segments = 0;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string::npos) end = path.size();
    std::string level = path.substr(begin, end - begin);
    if (level.empty()) return InvalidArgument("group path '" + path + "' has an empty level");
    if (level == "." || level == "..") {
      return InvalidArgument("group path '" + path + "': '" + level + "' is not a group name");
    }
    if (level.size() > kMaxGroupLevelBytes) {
      return InvalidArgument("group path '" + path.substr(0, 80) + "…': a level is longer than " +
                             std::to_string(kMaxGroupLevelBytes) + " characters");
    }
    for (size_t i = 0; i < level.size(); ++i) {
      char c = level[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                c == '.';
      if (!ok) {
        return InvalidArgument("group path '" + path + "': character '" + Utf8CharAt(level, i) +
                               "' not allowed (use a-z, 0-9, '-', '_', '.', and '/' between "
                               "levels)");
      }
    }
    ++segments;
    begin = end + 1;
  }
  if (segments > 4) {
    return InvalidArgument("group path '" + path + "' is deeper than authority/school/class/sub-group");
  }
  return Status::Ok();
}

namespace {
DeviceRecord ReadDevice(const SqlStmt& s) {
  DeviceRecord d;
  d.id = s.Text(0);
  d.name = s.Text(1);
  d.group = s.Text(2);
  d.cert_serial = s.Text(3);
  d.key_fingerprint = s.Text(4);
  d.enrolled_ms = s.Int(5);
  d.last_seen_ms = s.Int(6);
  d.retired_ms = s.Int(7);
  d.inventory = s.Blob(8);
  d.agent_version = s.Text(9);
  d.policy_version = static_cast<uint64_t>(s.Int(10));
  d.policy_state = s.Text(11);
  d.lock_state = s.Text(12);
  d.focus_state = s.Text(13);
  d.dismissed_message = s.Text(14);
  d.dismissed_ms = s.Int(15);
  return d;
}
// A LIMIT for `limit` rows, 0 meaning all (a plain number: LIMIT -1 is SQLite's alone).
int64_t SqlLimit(size_t limit) {
  return limit == 0 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(limit);
}
constexpr const char* kDeviceColumns =
    "id, name, group_path, cert_serial, key_fingerprint, enrolled_ms, last_seen_ms, "
    "retired_ms, inventory, agent_version, policy_version, policy_state, lock_state, "
    "focus_state, dismissed_message, dismissed_ms";

std::string JoinLines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "\n") + s;
  return out;
}
std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}
constexpr const char* kOperatorColumns =
    "name, role, scopes, cert_serial, created_ms, revoked_ms, hours, created_by, cert_expires_ms";
OperatorRecord ReadOperator(const SqlStmt& s) {
  OperatorRecord op;
  op.name = s.Text(0);
  op.role = static_cast<v1::Role>(s.Int(1));
  op.scopes = SplitLines(s.Text(2));
  op.cert_serial = s.Text(3);
  op.created_ms = s.Int(4);
  op.revoked_ms = s.Int(5);
  op.hours = s.Text(6);
  op.created_by = s.Text(7);
  op.cert_expires_ms = s.Int(8);
  return op;
}

thread_local PendingAudit* current_audit = nullptr;
}  // namespace

PendingAudit::PendingAudit(v1::AuditEntry entry)
    : entry_(std::move(entry)), previous_(current_audit) {
  current_audit = this;
}

PendingAudit::~PendingAudit() { current_audit = previous_; }

PendingAudit* PendingAudit::Current() { return current_audit; }

void PendingAudit::NoteGroup(const std::string& group) {
  if (group_noted_) return;
  group_noted_ = true;
  entry_.set_group(group);
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& location, bool create) {
  if (!PostgresDb::IsUrl(location)) {
    PREAU_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(location, create));
    return Open(std::move(db));
  }
  PREAU_ASSIGN_OR_RETURN(auto db, PostgresDb::Open(location));
  if (create) {
    PREAU_ASSIGN_OR_RETURN(int version, db->SchemaVersion());
    if (version > 0) {
      return AlreadyExists("the PostgreSQL database " + db->location() +
                           " already holds a Préau store: give `init` a new, empty database "
                           "(replicas share one data folder's copy instead)");
    }
  }
  return Open(std::move(db));
}

Result<std::unique_ptr<Store>> Store::Open(std::unique_ptr<SqlDb> db) {
  PREAU_RETURN_IF_ERROR(db->Migrate(ServerMigrations()));
  SqlDb::CommitHooks hooks;
  hooks.pending = [] { return current_audit && !current_audit->written_; };
  hooks.before_commit = [](SqlDb& db) {
    PendingAudit* p = current_audit;
    p->entry_.set_result("ok");
    p->in_transaction_ = true;
    return InsertAudit(db, p->entry_).Context("writing the audit row of the change");
  };
  hooks.after = [](bool committed) {
    PendingAudit* p = current_audit;
    if (p && p->in_transaction_) p->written_ = committed;
    if (p) p->in_transaction_ = false;
  };
  db->SetCommitHooks(std::move(hooks));
  return std::unique_ptr<Store>(new Store(std::move(db)));
}

Result<std::string> Store::GetMeta(const std::string& key) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT value FROM meta WHERE key=?"));
  s.Bind(1, key);
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("meta key '" + key + "' not set");
  return s.Text(0);
}

Status Store::SetMeta(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value"));
  return s.Bind(1, key).Bind(2, value).Run();
}

Status Store::CreateGroupLocked(const std::string& path, int64_t now_ms) {
  size_t pos = 0;
  while (true) {
    pos = path.find('/', pos);
    std::string prefix = pos == std::string::npos ? path : path.substr(0, pos);
    PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
        "INSERT INTO groups(path, created_ms) VALUES(?, ?) ON CONFLICT(path) DO NOTHING"));
    PREAU_RETURN_IF_ERROR(s.Bind(1, prefix).Bind(2, now_ms).Run());
    if (pos == std::string::npos) break;
    ++pos;
  }
  return Status::Ok();
}

Status Store::CreateGroup(const std::string& path, int64_t now_ms) {
  PREAU_RETURN_IF_ERROR(ValidateGroupPath(path));
  std::lock_guard<std::mutex> lock(db_->mu());
  return db_->Transaction([&] { return CreateGroupLocked(path, now_ms); });
}

namespace {
// The tables whose column names a group, beside groups(path) and operators' scopes.
constexpr std::pair<const char*, const char*> kGroupColumns[] = {
    {"tokens", "group_path"},          {"devices", "group_path"},
    {"policy_versions", "group_path"}, {"app_assignments", "group_path"},
    {"stock_devices", "group_path"},
};
// SQL that holds for `column` = ?1 or below it (?1 || '/' prefix; no LIKE: '_' is a
// wildcard there and a legal character in group names).
std::string AtOrBelow(const std::string& column) {
  return "(" + column + " = ?1 OR substr(" + column + ", 1, length(?1) + 1) = ?1 || '/')";
}
}  // namespace

Status Store::RenameGroup(const std::string& path, const std::string& new_path,
                          int64_t now_ms) {
  PREAU_RETURN_IF_ERROR(ValidateGroupPath(path));
  PREAU_RETURN_IF_ERROR(ValidateGroupPath(new_path));
  if (PathWithin(new_path, path)) {
    return InvalidArgument("cannot rename '" + path + "' to '" + new_path +
                           "': a group cannot move under itself");
  }
  std::lock_guard<std::mutex> lock(db_->mu());
  return db_->Transaction([&]() -> Status {
    PREAU_ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT path FROM groups WHERE " +
                                                AtOrBelow("path") + " ORDER BY path"));
    q.Bind(1, path);
    std::vector<std::string> moving;
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      moving.push_back(q.Text(0));
    }
    if (moving.empty()) return NotFound("no group '" + path + "'");
    for (const auto& old : moving) {
      std::string renamed = new_path + old.substr(path.size());
      Status st = ValidateGroupPath(renamed);
      if (!st.ok()) return st.Context("renaming '" + old + "'");
      PREAU_ASSIGN_OR_RETURN(auto e, db_->Prepare("SELECT 1 FROM groups WHERE path=?"));
      e.Bind(1, renamed);
      PREAU_ASSIGN_OR_RETURN(bool taken, e.Step());
      if (taken) return AlreadyExists("group '" + renamed + "' already exists");
    }
    // The rows that name the old paths change in the same transaction, every reference
    // valid at each step: the new groups first, then the rows naming them, then the old
    // groups go.
    auto run = [&](const std::string& sql, bool binds_new_path = true) -> Status {
      PREAU_ASSIGN_OR_RETURN(auto u, db_->Prepare(sql));
      u.Bind(1, path);
      if (binds_new_path) u.Bind(2, new_path);
      return u.Run();
    };
    PREAU_RETURN_IF_ERROR(run("INSERT INTO groups(path, created_ms) SELECT ?2 || substr(path, "
                              "length(?1) + 1), created_ms FROM groups WHERE " +
                              AtOrBelow("path")));
    for (const auto& [table, column] : kGroupColumns) {
      PREAU_RETURN_IF_ERROR(run("UPDATE " + std::string(table) + " SET " + column +
                                " = ?2 || substr(" + column + ", length(?1) + 1) WHERE " +
                                AtOrBelow(column)));
    }
    PREAU_RETURN_IF_ERROR(run("DELETE FROM groups WHERE " + AtOrBelow("path"), false));
    PREAU_ASSIGN_OR_RETURN(auto ops, db_->Prepare("SELECT name, scopes FROM operators"));
    std::vector<std::pair<std::string, std::string>> rescoped;
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, ops.Step());
      if (!row) break;
      std::vector<std::string> scopes = SplitLines(ops.Text(1));
      bool changed = false;
      for (auto& sc : scopes) {
        if (PathWithin(sc, path)) {
          sc = new_path + sc.substr(path.size());
          changed = true;
        }
      }
      if (changed) rescoped.emplace_back(ops.Text(0), JoinLines(scopes));
    }
    for (const auto& [name, scopes] : rescoped) {
      PREAU_ASSIGN_OR_RETURN(auto u, db_->Prepare("UPDATE operators SET scopes=? WHERE name=?"));
      PREAU_RETURN_IF_ERROR(u.Bind(1, scopes).Bind(2, name).Run());
    }
    // The new path's parents exist, as for a created group.
    return CreateGroupLocked(new_path, now_ms);
  });
}

Status Store::DeleteGroup(const std::string& path) {
  PREAU_RETURN_IF_ERROR(ValidateGroupPath(path));
  std::lock_guard<std::mutex> lock(db_->mu());
  return db_->Transaction([&]() -> Status {
    auto count = [&](const std::string& sql) -> Result<int64_t> {
      PREAU_ASSIGN_OR_RETURN(auto q, db_->Prepare(sql));
      q.Bind(1, path);
      PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
      return row ? q.Int(0) : 0;
    };
    PREAU_ASSIGN_OR_RETURN(int64_t exists, count("SELECT COUNT(*) FROM groups WHERE path=?1"));
    if (exists == 0) return NotFound("no group '" + path + "'");
    const std::pair<const char*, std::string> blockers[] = {
        {"groups below it", "SELECT COUNT(*) FROM groups WHERE substr(path, 1, length(?1) + 1) "
                            "= ?1 || '/'"},
        {"devices (retired ones included: they keep their history)",
         "SELECT COUNT(*) FROM devices WHERE group_path=?1"},
        {"policies", "SELECT COUNT(*) FROM policy_versions WHERE group_path=?1"},
        {"app assignments", "SELECT COUNT(*) FROM app_assignments WHERE group_path=?1"},
        {"devices in the stock", "SELECT COUNT(*) FROM stock_devices WHERE group_path=?1"},
    };
    for (const auto& [what, sql] : blockers) {
      PREAU_ASSIGN_OR_RETURN(int64_t n, count(sql));
      if (n > 0) {
        return FailedPrecondition("group '" + path + "' is not empty: " + std::to_string(n) +
                                  " " + what + " (move or remove them first)");
      }
    }
    PREAU_ASSIGN_OR_RETURN(auto ops, db_->Prepare("SELECT name, scopes FROM operators WHERE "
                                                  "revoked_ms = 0"));
    for (;;) {
      PREAU_ASSIGN_OR_RETURN(bool row, ops.Step());
      if (!row) break;
      for (const auto& sc : SplitLines(ops.Text(1))) {
        if (sc == path) {
          return FailedPrecondition("group '" + path + "' is the scope of operator '" +
                                    ops.Text(0) + "'");
        }
      }
    }
    PREAU_ASSIGN_OR_RETURN(auto t, db_->Prepare("DELETE FROM tokens WHERE group_path=?"));
    PREAU_RETURN_IF_ERROR(t.Bind(1, path).Run());
    PREAU_ASSIGN_OR_RETURN(auto g, db_->Prepare("DELETE FROM groups WHERE path=?"));
    return g.Bind(1, path).Run();
  });
}

bool Store::GroupExists(const std::string& path) {
  std::lock_guard<std::mutex> lock(db_->mu());
  auto s = db_->Prepare("SELECT 1 FROM groups WHERE path=?");
  if (!s.ok()) return false;
  s->Bind(1, path);
  auto row = s->Step();
  return row.ok() && *row;
}

Result<std::vector<std::pair<std::string, uint32_t>>> Store::ListGroups(const std::string& after,
                                                                        size_t limit) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "SELECT g.path, (SELECT COUNT(*) FROM devices d WHERE d.group_path=g.path AND "
      "d.retired_ms=0) FROM groups g WHERE g.path > ? ORDER BY g.path LIMIT ?"));
  s.Bind(1, after).Bind(2, SqlLimit(limit));
  std::vector<std::pair<std::string, uint32_t>> out;
  for (;;) {
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.emplace_back(s.Text(0), static_cast<uint32_t>(s.Int(1)));
  }
  return out;
}

Status Store::CreateToken(const TokenSpec& t, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "INSERT INTO tokens(token_hash, group_path, uses_left, expires_ms, created_by, created_ms) "
      "VALUES(?, ?, ?, ?, ?, ?)"));
  return s.Bind(1, t.token_hash).Bind(2, t.group).Bind(3, t.uses).Bind(4, t.expires_ms)
      .Bind(5, t.created_by).Bind(6, now_ms).Run();
}

namespace {
// The group a usable token enrols into; the caller holds the store's mutex.
Result<std::string> UsableTokenGroup(SqlDb& db, const std::string& token_hash, int64_t now_ms) {
  PREAU_ASSIGN_OR_RETURN(auto t, db.Prepare(
      "SELECT group_path, uses_left, expires_ms FROM tokens WHERE token_hash=?"));
  t.Bind(1, token_hash);
  PREAU_ASSIGN_OR_RETURN(bool row, t.Step());
  if (!row) return Unauthenticated("enrollment token not recognised");
  if (t.Int(2) <= now_ms) return Unauthenticated("enrollment token has expired");
  if (t.Int(1) <= 0) return Unauthenticated("enrollment token has no uses left");
  return t.Text(0);
}
}  // namespace

Status Store::CheckEnrollmentToken(const std::string& token_hash, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(db_->mu());
  return UsableTokenGroup(*db_, token_hash, now_ms).status();
}

Result<std::string> Store::EnrollDevice(const std::string& token_hash, DeviceRecord d,
                                        int64_t now_ms) {
  std::lock_guard<std::mutex> lock(db_->mu());
  std::string group;
  Status st = db_->Transaction([&]() -> Status {
    PREAU_ASSIGN_OR_RETURN(group, UsableTokenGroup(*db_, token_hash, now_ms));
    PREAU_ASSIGN_OR_RETURN(auto k, db_->Prepare(
        "SELECT id, retired_ms FROM devices WHERE key_fingerprint=?"));
    k.Bind(1, d.key_fingerprint);
    PREAU_ASSIGN_OR_RETURN(bool known, k.Step());
    if (known) {
      return k.Int(1) != 0
                 ? PermissionDenied("this key belongs to retired device " + k.Text(0) +
                                    ": a retired device cannot enrol again with it")
                 : AlreadyExists("this key is already enrolled as device " + k.Text(0));
    }
    PREAU_ASSIGN_OR_RETURN(auto u, db_->Prepare(
        "UPDATE tokens SET uses_left=uses_left-1 WHERE token_hash=?"));
    PREAU_RETURN_IF_ERROR(u.Bind(1, token_hash).Run());
    PREAU_ASSIGN_OR_RETURN(auto ins, db_->Prepare(
        "INSERT INTO devices(id, name, group_path, cert_serial, key_fingerprint, enrolled_ms, "
        "last_seen_ms, inventory, agent_version) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    return ins.Bind(1, d.id).Bind(2, d.name).Bind(3, group).Bind(4, d.cert_serial)
        .Bind(5, d.key_fingerprint).Bind(6, now_ms).Bind(7, now_ms).BindBlob(8, d.inventory)
        .Bind(9, d.agent_version).Run();
  });
  if (!st.ok()) return st;
  return group;
}

Result<DeviceRecord> Store::GetDevice(const std::string& id) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(std::string("SELECT ") + kDeviceColumns +
                                              " FROM devices WHERE id=?"));
  s.Bind(1, id);
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("no device with id '" + id + "'");
  return ReadDevice(s);
}

Result<std::vector<DeviceRecord>> Store::ListDevices(const std::string& prefix,
                                                     bool include_retired,
                                                     const std::string& after, size_t limit) {
  std::lock_guard<std::mutex> lock(db_->mu());
  // A page is in id order (the primary key: stable whatever moves or renames happen
  // between pages); the whole list reads better by group and name.
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      std::string("SELECT ") + kDeviceColumns +
      " FROM devices WHERE (?1 = '' OR group_path = ?1 OR substr(group_path, 1, length(?1) + 1) = ?1 || '/')"
      " AND (?2 <> 0 OR retired_ms = 0) AND id > ?3" +
      (limit == 0 ? " ORDER BY group_path, name, id" : " ORDER BY id LIMIT ?4")));
  s.Bind(1, prefix).Bind(2, static_cast<int64_t>(include_retired)).Bind(3, after);
  if (limit != 0) s.Bind(4, static_cast<int64_t>(limit));
  std::vector<DeviceRecord> out;
  for (;;) {
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadDevice(s));
  }
  return out;
}

Status Store::MoveDevice(const std::string& id, const std::string& group) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "UPDATE devices SET group_path=? WHERE id=? AND retired_ms=0"));
  PREAU_RETURN_IF_ERROR(s.Bind(1, group).Bind(2, id).Run());
  if (db_->Changes() == 0) return NotFound("no active device with id '" + id + "'");
  return Status::Ok();
}

Status Store::RetireDevice(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "UPDATE devices SET retired_ms=? WHERE id=? AND retired_ms=0"));
  PREAU_RETURN_IF_ERROR(s.Bind(1, now_ms).Bind(2, id).Run());
  if (db_->Changes() == 0) return NotFound("no active device with id '" + id + "'");
  return Status::Ok();
}

Status Store::UpdateInventory(const std::string& id, const std::string& inventory,
                              const std::string& agent_version) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "UPDATE devices SET inventory=?, agent_version=? WHERE id=?"));
  return s.BindBlob(1, inventory).Bind(2, agent_version).Bind(3, id).Run();
}

Status Store::TouchDevice(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("UPDATE devices SET last_seen_ms=? WHERE id=?"));
  return s.Bind(1, now_ms).Bind(2, id).Run();
}

Status Store::SetDevicePolicy(const std::string& id, uint64_t version,
                              const std::string& state) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "UPDATE devices SET policy_version=?, policy_state=? WHERE id=?"));
  return s.Bind(1, static_cast<int64_t>(version)).Bind(2, state).Bind(3, id).Run();
}

Status Store::SetDeviceDesktopState(const std::string& id, const std::string& lock_state,
                                    const std::string& focus_state) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(
      auto s, db_->Prepare("UPDATE devices SET lock_state=?, focus_state=? WHERE id=?"));
  return s.Bind(1, lock_state).Bind(2, focus_state).Bind(3, id).Run();
}

Status Store::SetDeviceDismissedMessage(const std::string& id, const std::string& text,
                                        int64_t at_ms) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "UPDATE devices SET dismissed_message=?, dismissed_ms=? WHERE id=?"));
  return s.Bind(1, text).Bind(2, at_ms).Bind(3, id).Run();
}

Status Store::CreateOperator(const OperatorRecord& op) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "INSERT INTO operators(name, role, scopes, cert_serial, created_ms, hours, created_by, "
      "cert_expires_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
  Status st = s.Bind(1, op.name).Bind(2, static_cast<int64_t>(op.role))
                  .Bind(3, JoinLines(op.scopes)).Bind(4, op.cert_serial).Bind(5, op.created_ms)
                  .Bind(6, op.hours).Bind(7, op.created_by).Bind(8, op.cert_expires_ms)
                  .Run();
  if (st.code() == Code::kAlreadyExists) return AlreadyExists("operator '" + op.name + "' already exists");
  return st;
}

Result<OperatorRecord> Store::GetOperator(const std::string& name) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      std::string("SELECT ") + kOperatorColumns + " FROM operators WHERE name=?"));
  s.Bind(1, name);
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("no operator named '" + name + "'");
  return ReadOperator(s);
}

Result<std::vector<OperatorRecord>> Store::ListOperators(const std::string& after,
                                                         size_t limit) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      std::string("SELECT ") + kOperatorColumns +
      " FROM operators WHERE name > ? ORDER BY name LIMIT ?"));
  s.Bind(1, after).Bind(2, SqlLimit(limit));
  std::vector<OperatorRecord> out;
  for (;;) {
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadOperator(s));
  }
  return out;
}

Status Store::RevokeOperator(const std::string& name, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "UPDATE operators SET revoked_ms=? WHERE name=? AND revoked_ms=0"));
  PREAU_RETURN_IF_ERROR(s.Bind(1, now_ms).Bind(2, name).Run());
  if (db_->Changes() == 0) return FailedPrecondition("operator '" + name + "' is already revoked");
  return Status::Ok();
}

Status Store::RenewOperator(const std::string& name, const std::string& cert_serial,
                            int64_t cert_expires_ms) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "UPDATE operators SET cert_serial=?, cert_expires_ms=? WHERE name=? AND revoked_ms=0"));
  PREAU_RETURN_IF_ERROR(s.Bind(1, cert_serial).Bind(2, cert_expires_ms).Bind(3, name).Run());
  if (db_->Changes() == 0) return FailedPrecondition("operator '" + name + "' is revoked");
  return Status::Ok();
}

Status Store::InsertAudit(SqlDb& db, const v1::AuditEntry& e) {
  PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare(
      "INSERT INTO audit(at_ms, actor, action, target, result, detail, group_path) "
      "VALUES(?, ?, ?, ?, ?, ?, ?)"));
  return s.Bind(1, e.at_unix_ms()).Bind(2, ValidUtf8(e.actor())).Bind(3, ValidUtf8(e.action()))
      .Bind(4, ValidUtf8(e.target())).Bind(5, ValidUtf8(e.result()))
      .Bind(6, ValidUtf8(e.detail())).Bind(7, ValidUtf8(e.group())).Run();
}

Status Store::AppendAudit(const v1::AuditEntry& e) {
  std::lock_guard<std::mutex> lock(db_->mu());
  // A row written by itself is not a change that the pending row should ride along with.
  PendingAudit* pending = current_audit;
  current_audit = nullptr;
  Status st = InsertAudit(*db_, e);
  current_audit = pending;
  return st;
}

Result<std::vector<v1::AuditEntry>> Store::ListAudit(int64_t since_ms, uint32_t limit,
                                                     int64_t after_seq) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "SELECT seq, at_ms, actor, action, target, result, detail, group_path FROM audit "
      "WHERE at_ms >= ? AND seq > ? ORDER BY seq LIMIT ?"));
  s.Bind(1, since_ms).Bind(2, after_seq)
      .Bind(3, static_cast<int64_t>(limit == 0 ? 100000 : limit));
  std::vector<v1::AuditEntry> out;
  for (;;) {
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    v1::AuditEntry e;
    e.set_seq(s.Int(0));
    e.set_at_unix_ms(s.Int(1));
    e.set_actor(s.Text(2));
    e.set_action(s.Text(3));
    e.set_target(s.Text(4));
    e.set_result(s.Text(5));
    e.set_detail(s.Text(6));
    e.set_group(s.Text(7));
    out.push_back(std::move(e));
  }
  return out;
}

Result<Store::AuditCount> Store::CountAudit(const std::string& action,
                                            const std::string& target) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "SELECT COUNT(*), COALESCE(MAX(at_ms), 0) FROM audit WHERE action = ? AND target = ?"));
  s.Bind(1, action).Bind(2, target);
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  AuditCount out;
  if (row) {
    out.count = s.Int(0);
    out.last_ms = s.Int(1);
  }
  return out;
}

namespace {
std::string PendingCertificateKey(const std::string& device_id) {
  return "cert.pending." + device_id;
}
}  // namespace

Status Store::SetPendingCertificate(const std::string& device_id, const std::string& serial,
                                    const std::string& key_fingerprint) {
  return SetMeta(PendingCertificateKey(device_id), serial + " " + key_fingerprint);
}

Status Store::PromotePendingCertificate(const std::string& device_id, const std::string& serial) {
  std::lock_guard<std::mutex> lock(db_->mu());
  return db_->Transaction([&]() -> Status {
    PREAU_ASSIGN_OR_RETURN(auto get, db_->Prepare("SELECT value FROM meta WHERE key=?"));
    get.Bind(1, PendingCertificateKey(device_id));
    PREAU_ASSIGN_OR_RETURN(bool row, get.Step());
    std::string value = row ? get.Text(0) : "";
    size_t space = value.find(' ');
    if (space == std::string::npos || value.substr(0, space) != serial) {
      return NotFound("no pending certificate " + serial + " for device " + device_id);
    }
    PREAU_ASSIGN_OR_RETURN(auto update, db_->Prepare(
        "UPDATE devices SET cert_serial=?, key_fingerprint=? WHERE id=?"));
    PREAU_RETURN_IF_ERROR(update.Bind(1, serial).Bind(2, value.substr(space + 1))
                              .Bind(3, device_id).Run());
    PREAU_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM meta WHERE key=?"));
    return del.Bind(1, PendingCertificateKey(device_id)).Run();
  });
}

}  // namespace preau::server
