// Sqlite: a thin RAII wrapper over SQLite 3, the embedded store of both the server and the
// agent. It opens databases in WAL mode with synchronous=FULL (no write is acknowledged
// before it is durable), applies numbered migrations once each, and turns every SQLite
// failure into a Status that names the statement's purpose. A Db is used from one thread
// at a time; callers that share one hold its mutex().
#pragma once

#include <cstdint>
#include <functional>
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
  Stmt(sqlite3* db, sqlite3_stmt* stmt, Db* owner = nullptr)
      : db_(db), stmt_(stmt), owner_(owner) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_), owner_(o.owner_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  ~Stmt();

  // Bind by 1-based index; chainable.
  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, const std::string& v);
  Stmt& BindBlob(int i, const std::string& v);
  Stmt& BindNull(int i);

  // True while a row is available; false when done. Errors come back as Status.
  Result<bool> Step();
  // Runs a statement that returns no rows. A write outside a transaction runs in one of
  // its own when the owner's commit hooks have rows to add (see Db::CommitHooks).
  Status Run();

  int64_t Int(int col) const;
  std::string Text(int col) const;
  std::string Blob(int col) const;
  bool IsNull(int col) const;

 private:
  friend class Db;
  Status RunRaw();

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  Db* owner_;
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
  // Runs `fn` inside BEGIN IMMEDIATE … COMMIT; rolls back if it returns an error. A
  // transaction that changed something gets the commit hooks' rows before COMMIT.
  template <typename Fn>
  Status Transaction(Fn&& fn) {
    PREAU_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    int64_t changes_at_begin = TotalChanges();
    return EndTransaction(fn(), changes_at_begin);
  }

  // Lets the owner of the connection add rows to every write transaction made on it: the
  // server's audit row of an operator call commits in the same transaction as the change
  // it records, so a crash can never leave one without the other.
  struct CommitHooks {
    // Whether `before_commit` has rows to add now (e.g. an operator call is running on
    // this thread and its audit row is not written yet).
    std::function<bool()> pending;
    // Adds its rows to the open transaction, which changed something; an error rolls the
    // whole transaction back.
    std::function<Status(Db&)> before_commit;
    // Once the transaction `before_commit` ran in ended: committed or rolled back.
    std::function<void(bool committed)> after;
  };
  void SetCommitHooks(CommitHooks hooks) { hooks_ = std::move(hooks); }
  int64_t LastInsertRowId() const;
  int Changes() const;
  int64_t TotalChanges() const;
  std::mutex& mu() { return mu_; }
  const std::string& path() const { return path_; }

 private:
  friend class Stmt;
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status EndTransaction(Status st, int64_t changes_at_begin);
  bool HooksPending() const { return hooks_.pending && hooks_.pending(); }

  sqlite3* db_;
  CommitHooks hooks_;
  // Changes() of the statement before the hooks' rows, while no other statement ran.
  int changes_before_hooks_ = -1;
  std::string path_;
  std::mutex mu_;
};

}  // namespace preau
