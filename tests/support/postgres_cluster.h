// PostgresCluster: a real PostgreSQL (Debian's postgresql 15: initdb and postgres from
// /usr/lib/postgresql/15/bin) that the integration tests start in a temporary folder, on a
// free loopback port, as an unprivileged user (PostgreSQL refuses to run as root; CI runs
// as root). One cluster per test process, started on first use and killed with the
// process; every TestServer gets a database of its own in it.
//
// The integration tests run against SQLite unless PREAU_TEST_STORE=postgresql (CMake
// registers the server-side test binaries a second time with it).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace preau::testing {

// Whether this test process runs its servers on PostgreSQL.
bool TestStoreIsPostgres();
// Where a test that opens a Store itself keeps it: a new database of the process's cluster
// on PostgreSQL, else `sqlite_path`.
std::string FreshStoreLocation(const std::string& sqlite_path);

class PostgresCluster {
 public:
  // The process's cluster, started on the first call.
  static Result<PostgresCluster*> Shared();
  // A cluster of the caller's own that writes durably (fsync, synchronous commit and full
  // page writes on, PostgreSQL's defaults, as a production server runs): for a benchmark
  // that compares durable writes with SQLite's. Stopped when the object is destroyed.
  static Result<std::unique_ptr<PostgresCluster>> StartDurable();
  ~PostgresCluster();

  // A new, empty database; returns its postgresql:// URL.
  Result<std::string> CreateDatabase();
  // Drops the database of `url` and creates it again, empty (a restore starts there).
  Status RecreateDatabase(const std::string& url);
  // Runs SQL on the database of `url`, as someone editing it by hand would.
  Status Exec(const std::string& url, const std::string& sql);
  int port() const { return port_; }

 private:
  PostgresCluster() = default;
  Status Start(bool durable);

  std::string dir_;
  int port_ = 0;
  int pid_ = -1;
  int next_db_ = 0;
};

}  // namespace preau::testing
