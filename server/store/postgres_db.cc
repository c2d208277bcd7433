#include "server/store/postgres_db.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <regex>

#include "common/utf8.h"

namespace preau::server {

namespace {
constexpr unsigned kInt8Oid = 20, kTextOid = 25, kByteaOid = 17;
// Any number: the key of the advisory lock replicas take to migrate one at a time.
constexpr int64_t kSchemaLockKey = 0x70726561755f7631;  // "preau_v1"

// Only kInternal carries the statement (a server keeps it for its log, see ToGrpc); the
// codes a caller may see name the problem in plain words, as on SQLite.
Status PgStatus(const PGresult* res, pg_conn* conn, const std::string& what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string code = state ? state : "";
  std::string msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (code.rfind("23", 0) == 0) {
    return AlreadyExists("that record already exists (or is still referred to)");
  }
  if (code == "40001" || code == "40P01") {
    return Unavailable("the database is busy: try again");
  }
  if (code == "53100") return ResourceExhausted("the database's disk is full");
  if (code.rfind("08", 0) == 0 || code.rfind("57P", 0) == 0 || PQstatus(conn) == CONNECTION_BAD) {
    return Unavailable("the database is unreachable: " + msg);
  }
  return Internal(what + ": " + msg);
}

bool IsReadOnly(const std::string& sql) {
  size_t b = sql.find_first_not_of(" \t\n");
  return b != std::string::npos && sql.compare(b, 6, "SELECT") == 0;
}

std::string DecodeBytea(const char* p, int len) {
  // bytea's text output: "\x" then two hex digits per byte.
  if (len < 2 || p[0] != '\\' || p[1] != 'x') return std::string(p, len);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string out;
  out.reserve((len - 2) / 2);
  for (int i = 2; i + 1 < len; i += 2) {
    out.push_back(static_cast<char>(nibble(p[i]) << 4 | nibble(p[i + 1])));
  }
  return out;
}

class PostgresStmt : public SqlStmt::Impl {
 public:
  PostgresStmt(PostgresDb* db, std::string sql, int count)
      : db_(db), sql_(std::move(sql)), params_(count) {}

  void Bind(int i, int64_t v) override { Set(i, std::to_string(v), false, kInt8Oid); }
  void Bind(int i, const std::string& v) override { Set(i, v, false, kTextOid); }
  void BindBlob(int i, const std::string& v) override { Set(i, v, true, kByteaOid); }
  void BindNull(int i) override {
    if (i >= 1 && i <= static_cast<int>(params_.size())) params_[i - 1] = {};
  }

  Result<bool> Step() override {
    if (!res_) {
      PREAU_ASSIGN_OR_RETURN(res_, db_->Run(sql_, params_));
      row_ = -1;
    }
    return ++row_ < PQntuples(res_.get());
  }
  bool ReadOnly() const override { return IsReadOnly(sql_); }

  int64_t Int(int col) const override {
    const char* v = Value(col);
    if (v[0] == 't' && v[1] == 0) return 1;  // a boolean expression
    return std::strtoll(v, nullptr, 10);
  }
  std::string Text(int col) const override { return ValidUtf8(Blob(col)); }
  std::string Blob(int col) const override {
    if (!Valid(col)) return {};
    const char* v = PQgetvalue(res_.get(), row_, col);
    int len = PQgetlength(res_.get(), row_, col);
    return PQftype(res_.get(), col) == kByteaOid ? DecodeBytea(v, len) : std::string(v, len);
  }
  bool IsNull(int col) const override {
    return !Valid(col) || PQgetisnull(res_.get(), row_, col);
  }

 private:
  void Set(int i, std::string v, bool binary, unsigned oid) {
    // As SQLite, a parameter the statement does not have is ignored.
    if (i < 1 || i > static_cast<int>(params_.size())) return;
    params_[i - 1] = {std::move(v), false, binary, oid};
  }
  bool Valid(int col) const {
    return res_ && row_ >= 0 && row_ < PQntuples(res_.get()) && col < PQnfields(res_.get());
  }
  const char* Value(int col) const { return Valid(col) ? PQgetvalue(res_.get(), row_, col) : ""; }

  PostgresDb* db_;
  std::string sql_;
  std::vector<PostgresDb::Param> params_;
  std::shared_ptr<PGresult> res_;
  int row_ = -1;
};
}  // namespace

std::string PostgresPlaceholders(const std::string& sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 8);
  int highest = 0;
  char quote = 0;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
      out.push_back(c);
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out.push_back(c);
      continue;
    }
    if (c != '?') {
      out.push_back(c);
      continue;
    }
    size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
    // "?N" is parameter N; a bare "?" the one after the highest so far (SQLite's rule).
    int n = j > i + 1 ? std::atoi(sql.substr(i + 1, j - i - 1).c_str()) : highest + 1;
    highest = std::max(highest, n);
    out += "$" + std::to_string(n);
    i = j - 1;
  }
  *count = highest;
  return out;
}

bool PostgresDb::IsUrl(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string PostgresDb::Redacted(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t at = url.find('@', scheme + 3);
  size_t slash = url.find('/', scheme + 3);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

Result<std::unique_ptr<SqlDb>> PostgresDb::Open(const std::string& url) {
  PREAU_ASSIGN_OR_RETURN(auto db, Connect(url));
  return std::unique_ptr<SqlDb>(std::move(db));
}

int PostgresDb::Socket() const { return PQsocket(conn_); }

Result<std::vector<PostgresDb::Notification>> PostgresDb::TakeNotifications() {
  if (PQconsumeInput(conn_) == 0) {
    PREAU_RETURN_IF_ERROR(Reconnect());
  }
  std::vector<Notification> out;
  while (PGnotify* n = PQnotifies(conn_)) {
    out.push_back({n->relname, n->extra});
    PQfreemem(n);
  }
  return out;
}

Result<std::unique_ptr<PostgresDb>> PostgresDb::Connect(const std::string& url) {
  std::string shown = Redacted(url);
  if (!IsUrl(url)) {
    return InvalidArgument("'" + shown + "' is not a postgresql://USER@HOST:PORT/DATABASE URL");
  }
  // The URL's own settings win over these defaults (expand_dbname: later keys override).
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "preau-server", url.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn) return ResourceExhausted("cannot allocate a PostgreSQL connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn);
    PQfinish(conn);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return Unavailable("cannot open the PostgreSQL store " + shown + ": " + msg);
  }
  std::unique_ptr<PostgresDb> db(new PostgresDb(conn, shown));
  // Quiet notices ("relation already exists, skipping"); errors still come back.
  Status st = db->Exec("SET client_min_messages = warning");
  if (!st.ok()) return st.Context("opening " + shown);
  return db;
}

PostgresDb::~PostgresDb() { PQfinish(conn_); }

Status PostgresDb::Reconnect() {
  // A connection lost between transactions (a PostgreSQL restart) is opened again; one
  // lost inside a transaction fails that transaction, as it must.
  if (PQstatus(conn_) == CONNECTION_OK || InTransaction()) return Status::Ok();
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Unavailable("the PostgreSQL store " + location_ + " is unreachable: " +
                       PQerrorMessage(conn_));
  }
  return Exec("SET client_min_messages = warning");
}

Status PostgresDb::Check(PGresult* res, const std::string& what) {
  ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  conflict_ = false;
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return Status::Ok();
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  conflict_ = state && (std::strcmp(state, "40001") == 0 || std::strcmp(state, "40P01") == 0);
  return PgStatus(res, conn_, what + " on " + location_);
}

bool PostgresDb::InTransaction() const {
  PGTransactionStatusType t = PQtransactionStatus(conn_);
  return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

Status PostgresDb::Exec(const std::string& sql) {
  PREAU_RETURN_IF_ERROR(Reconnect());
  std::shared_ptr<PGresult> res(PQexec(conn_, sql.c_str()), PQclear);
  return Check(res.get(), "running `" + sql + "`");
}

Result<std::shared_ptr<PGresult>> PostgresDb::Run(const std::string& sql,
                                                  const std::vector<Param>& params) {
  PREAU_RETURN_IF_ERROR(Reconnect());
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const auto& p : params) {
    types.push_back(p.null ? 0 : p.oid);
    values.push_back(p.null ? nullptr : p.value.data());
    lengths.push_back(static_cast<int>(p.value.size()));
    formats.push_back(p.binary ? 1 : 0);
  }
  std::shared_ptr<PGresult> res(
      PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), types.data(),
                   values.data(), lengths.data(), formats.data(), /*resultFormat=*/0),
      PQclear);
  PREAU_RETURN_IF_ERROR(Check(res.get(), "running `" + sql + "`"));
  // As SQLite's changes(): rows an INSERT, UPDATE or DELETE touched; a read leaves it.
  const char* tag = PQcmdStatus(res.get());
  if (std::strncmp(tag, "INSERT", 6) == 0 || std::strncmp(tag, "UPDATE", 6) == 0 ||
      std::strncmp(tag, "DELETE", 6) == 0) {
    last_changes_ = std::atoi(PQcmdTuples(res.get()));
    total_changes_ += last_changes_;
  }
  return res;
}

Result<SqlStmt> PostgresDb::Prepare(const std::string& sql) {
  int count = 0;
  std::string translated = PostgresPlaceholders(sql, &count);
  return SqlStmt(std::make_unique<PostgresStmt>(this, std::move(translated), count), this);
}

Result<int> PostgresDb::SchemaVersion() {
  PREAU_RETURN_IF_ERROR(
      Exec("CREATE TABLE IF NOT EXISTS preau_schema (version BIGINT NOT NULL)"));
  PREAU_ASSIGN_OR_RETURN(auto s, Prepare("SELECT COALESCE(MAX(version), 0) FROM preau_schema"));
  PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? static_cast<int>(s.Int(0)) : 0;
}

Status PostgresDb::SetSchemaVersion(int number) {
  return Exec("DELETE FROM preau_schema; INSERT INTO preau_schema(version) VALUES (" +
              std::to_string(number) + ")");
}

std::string PostgresDb::SchemaSql(const char* shared) const {
  // The explicit dialect of the shared migrations (see the file comment).
  static const std::pair<std::regex, const char*> kMap[] = {
      {std::regex(R"(\bINTEGER PRIMARY KEY AUTOINCREMENT\b)"),
       "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"},
      {std::regex(R"(\bINTEGER\b)"), "BIGINT"},
      {std::regex(R"(\bBLOB\b)"), "BYTEA"},
      {std::regex(R"(\bTEXT\b)"), "TEXT COLLATE \"C\""},
      {std::regex(R"(\)\s*WITHOUT ROWID)"), ")"},
  };
  std::string sql = shared;
  for (const auto& [from, to] : kMap) sql = std::regex_replace(sql, from, to);
  return sql;
}

Status PostgresDb::LockSchema() {
  return Exec("SELECT pg_advisory_lock(" + std::to_string(kSchemaLockKey) + ")");
}

void PostgresDb::UnlockSchema() {
  (void)Exec("SELECT pg_advisory_unlock(" + std::to_string(kSchemaLockKey) + ")");
}

}  // namespace preau::server
