#include "common/sqlite.h"

#include <sqlite3.h>

#include "common/utf8.h"

namespace preau {

namespace {
// Only kInternal and kDataLoss carry the statement and the file (a server keeps those for
// its log, see ToGrpc); the codes a caller may see name the problem in plain words.
Status SqliteStatus(sqlite3* db, int rc, const std::string& what) {
  std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return ResourceExhausted("the database's disk is full");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLoss(msg);
    case SQLITE_CONSTRAINT:
      return AlreadyExists("that record already exists (or is still referred to)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Unavailable("the database is busy: try again");
    default:
      return Internal(msg);
  }
}
}  // namespace

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}
Stmt& Stmt::Bind(int i, const std::string& v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindBlob(int i, const std::string& v) {
  sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::BindNull(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, std::string("running `") + sqlite3_sql(stmt_) + "`");
}

Status Stmt::Run() {
  auto r = Step();
  if (!r.ok()) return r.status();
  return Status::Ok();
}

bool Stmt::ReadOnly() const { return sqlite3_stmt_readonly(stmt_) != 0; }

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }
std::string Stmt::Text(int col) const {
  auto* p = sqlite3_column_text(stmt_, col);
  // A row written by an older version, or by hand, may hold bytes that are not UTF-8; read
  // them as valid text so that one bad row cannot make a whole listing unreadable.
  return p ? ValidUtf8(std::string(reinterpret_cast<const char*>(p),
                                   sqlite3_column_bytes(stmt_, col)))
           : std::string();
}
std::string Stmt::Blob(int col) const {
  auto* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col))
           : std::string();
}
bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteStatus(raw, rc, "opening " + path);
    sqlite3_close(raw);
    return st;
  }
  std::unique_ptr<Db> db(new Db(raw, path));
  sqlite3_busy_timeout(raw, 5000);
  // A corrupt or foreign file shows up here, on the first read, with a clear error.
  Status st = db->Exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (!st.ok()) return st.Context("opening " + path);
  auto check = db->Prepare("PRAGMA quick_check");
  if (!check.ok()) return check.status().Context("checking " + path);
  auto row = check->Step();
  if (!row.ok()) return row.status().Context("checking " + path);
  if (*row && check->Text(0) != "ok") {
    return DataLoss("checking " + path + ": database is corrupt: " + check->Text(0));
  }
  return db;
}

Db::~Db() { sqlite3_close(db_); }

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status st = SqliteStatus(nullptr, rc, "");
    return Status(st.code(), path_ + ": " + msg);
  }
  return Status::Ok();
}

Result<Stmt> Db::Prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "preparing `" + sql + "` on " + path_);
  return Stmt(db_, stmt);
}

Status Db::Migrate(const std::vector<Migration>& migrations) {
  auto v = Prepare("PRAGMA user_version");
  if (!v.ok()) return v.status();
  auto row = v->Step();
  if (!row.ok()) return row.status();
  int current = static_cast<int>(v->Int(0));
  for (const auto& m : migrations) {
    if (m.number <= current) continue;
    Status st = Transaction([&] {
      PREAU_RETURN_IF_ERROR(Exec(m.sql));
      return Exec("PRAGMA user_version=" + std::to_string(m.number));
    });
    if (!st.ok()) return st.Context("migration " + std::to_string(m.number));
  }
  return Status::Ok();
}

Status Db::EndTransaction(Status st) {
  if (!st.ok()) {
    (void)Exec("ROLLBACK");
    return st;
  }
  st = Exec("COMMIT");
  if (!st.ok()) (void)Exec("ROLLBACK");
  return st;
}

bool Db::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

int64_t Db::TotalChanges() const { return sqlite3_total_changes64(db_); }

int64_t Db::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

}  // namespace preau
