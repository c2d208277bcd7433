// SqliteDb: the server's SqlDb on one SQLite file (common/sqlite's Db, WAL, synchronous
// FULL), the embedded default. Transactions are BEGIN IMMEDIATE: one writer at a time.
#pragma once

#include <memory>
#include <string>

#include "common/sqlite.h"
#include "server/store/sql.h"

namespace preau::server {

class SqliteDb : public SqlDb {
 public:
  static Result<std::unique_ptr<SqlDb>> Open(const std::string& path, bool create);

  Engine engine() const override { return Engine::kSqlite; }
  const std::string& location() const override { return db_->path(); }
  Result<SqlStmt> Prepare(const std::string& sql) override;
  Status Exec(const std::string& sql) override { return db_->Exec(sql); }
  Result<int> SchemaVersion() override;

 protected:
  Status Begin() override { return db_->Exec("BEGIN IMMEDIATE"); }
  Status Commit() override { return db_->Exec("COMMIT"); }
  Status Rollback() override { return db_->Exec("ROLLBACK"); }
  bool InTransaction() const override { return db_->InTransaction(); }
  int64_t TotalChanges() const override { return db_->TotalChanges(); }
  int LastChanges() const override { return db_->Changes(); }
  Status SetSchemaVersion(int number) override;

 private:
  explicit SqliteDb(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  std::unique_ptr<Db> db_;
};

}  // namespace preau::server
