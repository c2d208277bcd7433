#include "server/store/sql.h"

#include <chrono>
#include <random>
#include <thread>

namespace preau::server {

Result<bool> SqlStmt::Step() { return impl_->Step(); }

Status SqlStmt::Run() {
  // A write that commits by itself would commit without the hooks' rows: give it a
  // transaction of its own (which also makes a write that changed nothing add nothing).
  if (!owner_->InTransaction() && !impl_->ReadOnly() && owner_->HooksPending()) {
    return owner_->Transaction([&] { return RunRaw(); });
  }
  return RunRaw();
}

Status SqlStmt::RunRaw() {
  owner_->changes_before_hooks_ = -1;
  auto r = impl_->Step();
  if (!r.ok()) return r.status();
  return Status::Ok();
}

Status SqlDb::Migrate(const std::vector<Migration>& migrations) {
  PREAU_RETURN_IF_ERROR(LockSchema());
  Status st = MigrateLocked(migrations);
  UnlockSchema();
  return st;
}

Status SqlDb::MigrateLocked(const std::vector<Migration>& migrations) {
  PREAU_ASSIGN_OR_RETURN(int current, SchemaVersion());
  for (const auto& m : migrations) {
    if (m.number <= current) continue;
    const char* own = engine() == Engine::kSqlite ? m.sqlite : m.postgresql;
    Status st = Transaction([&] {
      PREAU_RETURN_IF_ERROR(Exec(SchemaSql(m.sql)));
      if (*own) PREAU_RETURN_IF_ERROR(Exec(own));
      return SetSchemaVersion(m.number);
    });
    if (!st.ok()) return st.Context("migration " + std::to_string(m.number));
  }
  return Status::Ok();
}

Status SqlDb::RunTransaction(const std::function<Status()>& fn) {
  constexpr int kTries = 5;
  thread_local std::minstd_rand rng(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    bool conflict = false;
    Status st = RunTransactionOnce(fn, &conflict);
    if (st.ok() || !conflict || attempt == kTries) return st;
    // Apart, so that the two that met do not meet again.
    std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng() % (5 * attempt)));
  }
}

Status SqlDb::RunTransactionOnce(const std::function<Status()>& fn, bool* conflict) {
  PREAU_RETURN_IF_ERROR(Begin());
  int64_t changes_at_begin = TotalChanges();
  Status st = fn();
  bool hooked = false;
  if (st.ok() && TotalChanges() != changes_at_begin && HooksPending()) {
    hooked = true;
    int changes = LastChanges();
    st = hooks_.before_commit(*this);
    changes_before_hooks_ = changes;
  }
  if (!st.ok()) {
    *conflict = LastFailureWasConflict();
    (void)Rollback();
    if (hooked && hooks_.after) hooks_.after(false);
    return st;
  }
  st = Commit();
  if (!st.ok()) {
    *conflict = LastFailureWasConflict();
    (void)Rollback();
  }
  if (hooked && hooks_.after) hooks_.after(st.ok());
  return st;
}

}  // namespace preau::server
