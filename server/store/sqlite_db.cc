#include "server/store/sqlite_db.h"

namespace preau::server {

namespace {
class SqliteStmt : public SqlStmt::Impl {
 public:
  explicit SqliteStmt(Stmt s) : s_(std::move(s)) {}
  void Bind(int i, int64_t v) override { s_.Bind(i, v); }
  void Bind(int i, const std::string& v) override { s_.Bind(i, v); }
  void BindBlob(int i, const std::string& v) override { s_.BindBlob(i, v); }
  void BindNull(int i) override { s_.BindNull(i); }
  Result<bool> Step() override { return s_.Step(); }
  bool ReadOnly() const override { return s_.ReadOnly(); }
  int64_t Int(int col) const override { return s_.Int(col); }
  std::string Text(int col) const override { return s_.Text(col); }
  std::string Blob(int col) const override { return s_.Blob(col); }
  bool IsNull(int col) const override { return s_.IsNull(col); }

 private:
  Stmt s_;
};
}  // namespace

Result<std::unique_ptr<SqlDb>> SqliteDb::Open(const std::string& path, bool create) {
  PREAU_ASSIGN_OR_RETURN(auto db, Db::Open(path, create));
  return std::unique_ptr<SqlDb>(new SqliteDb(std::move(db)));
}

Result<SqlStmt> SqliteDb::Prepare(const std::string& sql) {
  PREAU_ASSIGN_OR_RETURN(auto s, db_->Prepare(sql));
  return SqlStmt(std::make_unique<SqliteStmt>(std::move(s)), this);
}

Result<int> SqliteDb::SchemaVersion() {
  PREAU_ASSIGN_OR_RETURN(auto v, db_->Prepare("PRAGMA user_version"));
  PREAU_ASSIGN_OR_RETURN(bool row, v.Step());
  return row ? static_cast<int>(v.Int(0)) : 0;
}

Status SqliteDb::SetSchemaVersion(int number) {
  return db_->Exec("PRAGMA user_version=" + std::to_string(number));
}

}  // namespace preau::server
