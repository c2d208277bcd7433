// SqlDb: the one connection to the server's database that every domain's records use
// (Store, the class commands, policies, filter, catalogue, usage, sessions). It hides the
// engine: the embedded SQLite file (server/store/sqlite_db.h) or a shared PostgreSQL
// (server/store/postgres_db.h). Above it SQL stays portable: `?` or `?N` placeholders,
// INSERT … ON CONFLICT, RETURNING instead of a last row id, no PRAGMA, no engine-only
// function; the few differences of the schema are explicit in each Migration.
//
// A transaction gets the commit hooks' rows (the audit row of the operator call running on
// this thread) before it commits, so a change is never durable without its audit row. A
// write run outside a transaction while a hook is pending runs in one of its own.
// One SqlDb is used from one thread at a time: callers hold mu() (see Store::Locked).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace preau::server {

class SqlDb;

// One statement of a SqlDb, bound by 1-based index and stepped row by row.
class SqlStmt {
 public:
  // What an engine implements for one prepared statement.
  class Impl {
   public:
    virtual ~Impl() = default;
    virtual void Bind(int i, int64_t v) = 0;
    virtual void Bind(int i, const std::string& v) = 0;
    virtual void BindBlob(int i, const std::string& v) = 0;
    virtual void BindNull(int i) = 0;
    virtual Result<bool> Step() = 0;
    // Whether running it can change nothing (a plain read).
    virtual bool ReadOnly() const = 0;
    virtual int64_t Int(int col) const = 0;
    virtual std::string Text(int col) const = 0;
    virtual std::string Blob(int col) const = 0;
    virtual bool IsNull(int col) const = 0;
  };

  SqlStmt(std::unique_ptr<Impl> impl, SqlDb* owner) : impl_(std::move(impl)), owner_(owner) {}
  SqlStmt(SqlStmt&&) noexcept = default;
  SqlStmt& operator=(SqlStmt&&) = delete;

  // Chainable.
  SqlStmt& Bind(int i, int64_t v) {
    impl_->Bind(i, v);
    return *this;
  }
  SqlStmt& Bind(int i, const std::string& v) {
    impl_->Bind(i, v);
    return *this;
  }
  SqlStmt& BindBlob(int i, const std::string& v) {
    impl_->BindBlob(i, v);
    return *this;
  }
  SqlStmt& BindNull(int i) {
    impl_->BindNull(i);
    return *this;
  }

  // True while a row is available; false when done.
  Result<bool> Step();
  // Runs a statement for its effect (rows it returns are ignored after the first).
  Status Run();

  int64_t Int(int col) const { return impl_->Int(col); }
  std::string Text(int col) const { return impl_->Text(col); }
  std::string Blob(int col) const { return impl_->Blob(col); }
  bool IsNull(int col) const { return impl_->IsNull(col); }

 private:
  Status RunRaw();
  std::unique_ptr<Impl> impl_;
  SqlDb* owner_;
};

class SqlDb {
 public:
  enum class Engine { kSqlite, kPostgresql };

  // One step of the schema. `sql` is run on every engine, written with SQLite's type
  // names, which PostgreSQL reads mapped (see SchemaSql); `sqlite` and `postgresql` run
  // after it on that engine only (kept as small as the engines' differences allow).
  struct Migration {
    int number;
    const char* sql;
    const char* sqlite = "";
    const char* postgresql = "";
  };

  // See the file comment.
  struct CommitHooks {
    // Whether `before_commit` has rows to add now.
    std::function<bool()> pending;
    // Adds its rows to the open transaction, which changed something; an error rolls the
    // whole transaction back.
    std::function<Status(SqlDb&)> before_commit;
    // Once the transaction `before_commit` ran in ended: committed or rolled back.
    std::function<void(bool committed)> after;
  };

  virtual ~SqlDb() = default;
  virtual Engine engine() const = 0;
  // Where the data lives, for messages: a file, or a URL without its password.
  virtual const std::string& location() const = 0;

  virtual Result<SqlStmt> Prepare(const std::string& sql) = 0;
  // Runs SQL without parameters (several statements allowed).
  virtual Status Exec(const std::string& sql) = 0;

  // Applies, in order and each in its own transaction, the migrations the database lacks.
  Status Migrate(const std::vector<Migration>& migrations);
  // The number of the last migration applied (0: none).
  virtual Result<int> SchemaVersion() = 0;

  // Runs `fn` in a transaction that serializes with every other writer (SQLite's BEGIN
  // IMMEDIATE; PostgreSQL's SERIALIZABLE); rolls back if it returns an error. A
  // transaction that changed something gets the commit hooks' rows before it commits.
  // PostgreSQL fails one of two transactions that met (another replica's): that one is run
  // again from its start, a few times, so `fn` must not keep what a failed run filled in.
  template <typename Fn>
  Status Transaction(Fn&& fn) {
    return RunTransaction(std::function<Status()>(std::forward<Fn>(fn)));
  }

  void SetCommitHooks(CommitHooks hooks) { hooks_ = std::move(hooks); }
  // Rows changed by the last statement run (the hooks' own rows not counted).
  int Changes() const { return changes_before_hooks_ >= 0 ? changes_before_hooks_ : LastChanges(); }
  std::mutex& mu() { return mu_; }

 protected:
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  virtual Status Rollback() = 0;
  virtual bool InTransaction() const = 0;
  // Rows changed since the connection opened, and by the last statement.
  virtual int64_t TotalChanges() const = 0;
  virtual int LastChanges() const = 0;
  virtual Status SetSchemaVersion(int number) = 0;
  // A migration's shared SQL as this engine runs it.
  virtual std::string SchemaSql(const char* shared) const { return shared; }
  // Held while migrating, so that replicas starting together migrate once.
  virtual Status LockSchema() { return Status::Ok(); }
  virtual void UnlockSchema() {}
  // Whether the last statement failed only because a concurrent transaction won (worth
  // running the whole transaction again).
  virtual bool LastFailureWasConflict() const { return false; }

 private:
  friend class SqlStmt;
  Status RunTransaction(const std::function<Status()>& fn);
  Status RunTransactionOnce(const std::function<Status()>& fn, bool* conflict);
  Status MigrateLocked(const std::vector<Migration>& migrations);
  bool HooksPending() const { return hooks_.pending && hooks_.pending(); }

  CommitHooks hooks_;
  // Changes() of the statement before the hooks' rows, while no other statement ran.
  int changes_before_hooks_ = -1;
  std::mutex mu_;
};

}  // namespace preau::server
