// PostgresDb: the server's SqlDb on a PostgreSQL database through libpq, for several
// replicas sharing one store (deploy/SCALE-OUT.md). It speaks the same portable SQL as the
// SQLite file: placeholders become $N, the migrations' SQLite type names are mapped
// (INTEGER → BIGINT, BLOB → BYTEA, TEXT → TEXT COLLATE "C" so that rows sort by bytes as on
// SQLite, AUTOINCREMENT keys → identity columns). Transactions are SERIALIZABLE, so what
// relied on SQLite's single writer (token uses, version counters, per-device sequence
// numbers) still holds with several replicas: a conflicting transaction fails as
// Unavailable ("try again") rather than committing a lost update.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "server/store/sql.h"

struct pg_conn;
struct pg_result;

namespace preau::server {

class PostgresDb : public SqlDb {
 public:
  // `url`: postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?param=value…] (libpq's URI).
  // An unreachable server or a refused login is an error naming the URL, without its
  // password.
  static Result<std::unique_ptr<SqlDb>> Open(const std::string& url);
  static Result<std::unique_ptr<PostgresDb>> Connect(const std::string& url);
  // Whether `location` names a PostgreSQL database rather than a file.
  static bool IsUrl(const std::string& location);
  // The URL with its password (if any) replaced by "***", for messages and logs.
  static std::string Redacted(const std::string& url);
  ~PostgresDb() override;

  Engine engine() const override { return Engine::kPostgresql; }
  const std::string& location() const override { return location_; }
  Result<SqlStmt> Prepare(const std::string& sql) override;
  Status Exec(const std::string& sql) override;
  Result<int> SchemaVersion() override;

  // What LISTEN brings (server/fleet/replicas.h): the connection's socket, to wait on,
  // and the notifications that arrived on it.
  struct Notification {
    std::string channel;
    std::string payload;
  };
  int Socket() const;
  Result<std::vector<Notification>> TakeNotifications();

  // Used by the statements: runs one command, keeping the change counts.
  struct Param {
    std::string value;
    bool null = true;
    bool binary = false;
    unsigned oid = 0;
  };
  Result<std::shared_ptr<pg_result>> Run(const std::string& sql,
                                                const std::vector<Param>& params);

 protected:
  Status Begin() override { return Exec("BEGIN ISOLATION LEVEL SERIALIZABLE"); }
  Status Commit() override { return Exec("COMMIT"); }
  Status Rollback() override { return Exec("ROLLBACK"); }
  bool InTransaction() const override;
  int64_t TotalChanges() const override { return total_changes_; }
  int LastChanges() const override { return last_changes_; }
  Status SetSchemaVersion(int number) override;
  std::string SchemaSql(const char* shared) const override;
  Status LockSchema() override;
  bool LastFailureWasConflict() const override { return conflict_; }
  void UnlockSchema() override;

 private:
  PostgresDb(pg_conn* conn, std::string location) : conn_(conn), location_(std::move(location)) {}
  Status Reconnect();
  Status Check(pg_result* res, const std::string& what);

  pg_conn* conn_;
  std::string location_;
  int64_t total_changes_ = 0;
  int last_changes_ = 0;
  bool conflict_ = false;  // see LastFailureWasConflict
};

// Turns `?` and `?N` placeholders (outside quotes) into PostgreSQL's $N; sets `*count` to
// the highest parameter number.
std::string PostgresPlaceholders(const std::string& sql, int* count);

}  // namespace preau::server
