#include "agent/core/state_store.h"

#include <sys/stat.h>

#include <filesystem>

namespace preau::agent {

namespace {
const std::vector<Db::Migration>& AgentMigrations() {
  static const std::vector<Db::Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE identity (
  one INTEGER PRIMARY KEY CHECK (one = 1),
  device_id TEXT NOT NULL, private_key TEXT NOT NULL, certificate TEXT NOT NULL,
  ca TEXT NOT NULL, policy_key TEXT NOT NULL, server TEXT NOT NULL, grp TEXT NOT NULL
);
CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                     kind TEXT NOT NULL, body BLOB NOT NULL);
)sql"},
  };
  return kMigrations;
}
}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& state_dir) {
  if (state_dir == kInMemoryState) {
    PREAU_ASSIGN_OR_RETURN(auto db, Db::Open(":memory:", /*create=*/true));
    PREAU_RETURN_IF_ERROR(db->Migrate(AgentMigrations()));
    return std::unique_ptr<StateStore>(new StateStore(std::move(db)));
  }
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return Internal("creating state folder " + state_dir + ": " + ec.message());
  ::chmod(state_dir.c_str(), 0700);
  const std::string path = state_dir + "/state.db";
  auto db = Db::Open(path, /*create=*/true);
  auto corrupt = [&](const Status& st) {
    return DataLoss("state folder " + state_dir + " is unreadable (" + st.message() +
                    "); move it away and enrol this device again with a new token");
  };
  if (!db.ok()) return corrupt(db.status());
  // Small cache: an agent runs on cheap hardware and its state is tiny.
  (void)(*db)->Exec("PRAGMA cache_size=-256");
  Status st = (*db)->Migrate(AgentMigrations());
  if (!st.ok()) return corrupt(st);
  return std::unique_ptr<StateStore>(new StateStore(std::move(db).value()));
}

Result<std::optional<Identity>> StateStore::LoadIdentity() {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "SELECT device_id, private_key, certificate, ca, policy_key, server, grp FROM identity"));
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<Identity>();
  Identity id{s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6)};
  return std::optional<Identity>(std::move(id));
}

Status StateStore::SaveIdentity(const Identity& id) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "INSERT OR REPLACE INTO identity(one, device_id, private_key, certificate, ca, policy_key, "
      "server, grp) VALUES(1, ?, ?, ?, ?, ?, ?, ?)"));
  return s.Bind(1, id.device_id).Bind(2, id.private_key_pem).Bind(3, id.certificate_pem)
      .Bind(4, id.ca_pem).Bind(5, id.policy_key_pem).Bind(6, id.server).Bind(7, id.group).Run();
}

Result<std::optional<std::string>> StateStore::Get(const std::string& key) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT value FROM kv WHERE key=?"));
  s.Bind(1, key);
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.Blob(0));
}

Status StateStore::Put(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("INSERT OR REPLACE INTO kv(key, value) VALUES(?, ?)"));
  return s.Bind(1, key).BindBlob(2, value).Run();
}

Status StateStore::Delete(const std::string& key) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("DELETE FROM kv WHERE key=?"));
  return s.Bind(1, key).Run();
}

Status StateStore::Enqueue(const OutboxItem& item, bool replace_kind, size_t max_items) {
  std::lock_guard<std::mutex> lock(db_->mu());
  return db_->Transaction([&]() -> Status {
    if (replace_kind) {
      PREAU_ASSIGN_OR_RETURN(auto d, db_->Prepare("DELETE FROM outbox WHERE kind=?"));
      PREAU_RETURN_IF_ERROR(d.Bind(1, item.kind).Run());
    }
    PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
        "INSERT OR IGNORE INTO outbox(id, kind, body) VALUES(?, ?, ?)"));
    PREAU_RETURN_IF_ERROR(s.Bind(1, item.id).Bind(2, item.kind).BindBlob(3, item.body).Run());
    PREAU_ASSIGN_OR_RETURN(auto trim, db_->Prepare(
        "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq DESC LIMIT -1 OFFSET ?)"));
    PREAU_RETURN_IF_ERROR(trim.Bind(1, static_cast<int64_t>(max_items)).Run());
    int dropped = db_->Changes();
    if (dropped > 0) {
      PREAU_ASSIGN_OR_RETURN(auto c, db_->Prepare(
          "INSERT INTO kv(key, value) VALUES('outbox.dropped', ?) ON CONFLICT(key) DO "
          "UPDATE SET value = CAST(value AS INTEGER) + excluded.value"));
      PREAU_RETURN_IF_ERROR(c.Bind(1, static_cast<int64_t>(dropped)).Run());
    }
    return Status::Ok();
  });
}

Result<std::vector<OutboxItem>> StateStore::Pending(size_t limit) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(
      "SELECT seq, id, kind, body FROM outbox ORDER BY seq LIMIT ?"));
  s.Bind(1, static_cast<int64_t>(limit));
  std::vector<OutboxItem> out;
  for (;;) {
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Blob(3)});
  }
  return out;
}

Status StateStore::Acked(const std::string& id) {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("DELETE FROM outbox WHERE id=?"));
  return s.Bind(1, id).Run();
}

Result<int64_t> StateStore::PendingCount() {
  std::lock_guard<std::mutex> lock(db_->mu());
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare("SELECT COUNT(*) FROM outbox"));
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

int64_t StateStore::DroppedCount() {
  std::lock_guard<std::mutex> lock(db_->mu());
  auto s = db_->Prepare("SELECT CAST(value AS INTEGER) FROM kv WHERE key='outbox.dropped'");
  if (!s.ok()) return 0;
  auto row = s->Step();
  return row.ok() && *row ? s->Int(0) : 0;
}

}  // namespace preau::agent
