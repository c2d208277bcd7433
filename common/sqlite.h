// Sqlite: a thin RAII wrapper over SQLite 3, the embedded store of both the server and the
// agent. It opens databases in WAL mode with synchronous=FULL (no write is acknowledged
// before it is durable), applies numbered migrations once each, and turns every SQLite
// failure into a Status that names the statement's purpose. A Db is used from one thread
// at a time; callers that share one hold its mutex(). The server reaches it only through
// server/store/sqlite_db.h (its engine-neutral SqlDb).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace preau {

class Db;

class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  // Bind by 1-based index; chainable.
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, const std::string& v);
  Stmt& BindBlob(int i, const std::string& v);
  Stmt& BindNull(int i);

  // True while a row is available; false when done. Errors come back as Status.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run();
  // Whether the statement can change nothing (a plain read).
  bool ReadOnly() const;

  int64_t Int(int col) const;
  std::string Text(int col) const;
  std::string Blob(int col) const;
  bool IsNull(int col) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class Db {
 public:
  struct Migration {
    int number;
    const char* sql;
  };

  // Opens (and with `create`, creates) the database file at `path`.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool create);
  ~Db();

  Status Exec(const std::string& sql);
  Result<Stmt> Prepare(const std::string& sql);
  // Applies, in order and each in its own transaction, the migrations whose number is
  // greater than the database's user_version.
  Status Migrate(const std::vector<Migration>& migrations);
  // Runs `fn` inside BEGIN IMMEDIATE … COMMIT; rolls back if it returns an error.
  template <typename Fn>
  Status Transaction(Fn&& fn) {
    PREAU_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    return EndTransaction(fn());
  }
  // Whether a transaction is open (BEGIN without its COMMIT or ROLLBACK yet).
  bool InTransaction() const;
  int64_t LastInsertRowId() const;
  int Changes() const;
  int64_t TotalChanges() const;
  std::mutex& mu() { return mu_; }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status EndTransaction(Status st);

  sqlite3* db_;
  std::string path_;
  std::mutex mu_;
};

}  // namespace preau
