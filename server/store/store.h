// Store: the server's durable state (groups, enrollment tokens, devices, operators, the
// audit log) in its database (server/store/sql.h: an SQLite file or PostgreSQL). Every
// method is one transaction and returns only after the write is durable; callers from any
// thread are serialized on the connection's mutex. Other server components add their own
// tables through migrations and use the same connection under that mutex (see Locked()).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/admin.pb.h"
#include "server/store/sql.h"

namespace preau::server {

struct DeviceRecord {
  std::string id;
  std::string name;
  std::string group;
  std::string cert_serial;
  std::string key_fingerprint;
  int64_t enrolled_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t retired_ms = 0;
  std::string inventory;  // serialized v1::Inventory
  std::string agent_version;
  uint64_t policy_version = 0;
  std::string policy_state;
  std::string lock_state;  // as the device last reported it (class control)
  std::string focus_state;        // likewise, a teacher's focus
  std::string dismissed_message;  // the last class message a pupil dismissed
  int64_t dismissed_ms = 0;
};

struct OperatorRecord {
  std::string name;
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::vector<std::string> scopes;
  std::string cert_serial;
  int64_t created_ms = 0;
  int64_t revoked_ms = 0;
  std::string hours;       // periscolaire: its time windows, as given at creation
  std::string created_by;  // the operator who created it ("" for the first admin)
  int64_t cert_expires_ms = 0;
};

// PendingAudit: the audit row of the operator call running on this thread. While one is
// installed, the first write transaction this thread commits on the Store (its own tables
// or a domain's, through Locked()) carries the row, with result "ok", in the same
// transaction: a change is never durable without its audit row. A call that changed
// nothing (a refusal, a read) writes its row itself afterwards (Store::AppendAudit).
class PendingAudit {
 public:
  explicit PendingAudit(v1::AuditEntry entry);  // installs itself on this thread
  ~PendingAudit();
  PendingAudit(const PendingAudit&) = delete;
  PendingAudit& operator=(const PendingAudit&) = delete;

  // The call running on this thread, or null.
  static PendingAudit* Current();

  v1::AuditEntry& entry() { return entry_; }
  // Whether a committed transaction carried the row.
  bool written() const { return written_; }
  // The group the call acts on: the first one its scope checks name.
  void NoteGroup(const std::string& group);
  // A refusal the caller is not told about (a device outside the scope is answered as
  // unknown): the audit keeps the real reason.
  void NoteHiddenRefusal(const std::string& reason) { hidden_refusal_ = reason; }
  const std::string& hidden_refusal() const { return hidden_refusal_; }

 private:
  friend class Store;
  v1::AuditEntry entry_;
  bool written_ = false;
  bool in_transaction_ = false;
  bool group_noted_ = false;
  std::string hidden_refusal_;
  PendingAudit* previous_;
};

struct TokenSpec {
  std::string token_hash;
  std::string group;
  int64_t uses = 1;
  int64_t expires_ms = 0;
  std::string created_by;
};

class Store {
 public:
  // Opens the store at `location` and applies the migrations it lacks: an SQLite file
  // (with `create`, created) or a postgresql:// URL (with `create`, the database must hold
  // no Préau store yet: init never takes over another server's data).
  static Result<std::unique_ptr<Store>> Open(const std::string& location, bool create);
  // The same on a connection already open.
  static Result<std::unique_ptr<Store>> Open(std::unique_ptr<SqlDb> db);

  // Runs `fn(db)` with the database mutex held, for components that own their tables.
  template <typename Fn>
  auto Locked(Fn&& fn) {
    std::lock_guard<std::mutex> lock(db_->mu());
    return fn(*db_);
  }

  Result<std::string> GetMeta(const std::string& key);
  Status SetMeta(const std::string& key, const std::string& value);

  // Creates the group and any missing parent ("ville/ecole" for "ville/ecole/cm2-a").
  Status CreateGroup(const std::string& path, int64_t now_ms);
  bool GroupExists(const std::string& path);
  // Renames `path` and every group below it, with every row that names them (devices,
  // tokens, policies, app assignments, stock, operators' scopes), in one transaction.
  Status RenameGroup(const std::string& path, const std::string& new_path, int64_t now_ms);
  // Deletes `path` if nothing depends on it (no group below, no device, policy, app
  // assignment, stock device or operator scope); its tokens go with it.
  Status DeleteGroup(const std::string& path);
  // Groups with the number of (non-retired) devices in each, in path order. With `limit`
  // (0: all), at most that many, after path `after` (keyset paging: see admin/paging.h).
  Result<std::vector<std::pair<std::string, uint32_t>>> ListGroups(const std::string& after = "",
                                                                   size_t limit = 0);

  Status CreateToken(const TokenSpec& token, int64_t now_ms);
  // Ok if the token is known, not expired and has uses left (enrolment checks it before
  // it spends any work on the request; EnrollDevice checks again, atomically).
  Status CheckEnrollmentToken(const std::string& token_hash, int64_t now_ms);
  // Atomically: checks the token (known, not expired, uses left), checks the key was
  // never revoked, consumes one use and inserts the device. Returns the device's group.
  Result<std::string> EnrollDevice(const std::string& token_hash, DeviceRecord device,
                                   int64_t now_ms);

  Result<DeviceRecord> GetDevice(const std::string& id);
  // Devices in `group_prefix` and below ("": all), by group, name and id; with `limit`
  // (0: all), at most that many in id order after id `after` (a page).
  Result<std::vector<DeviceRecord>> ListDevices(const std::string& group_prefix,
                                                bool include_retired,
                                                const std::string& after = "",
                                                size_t limit = 0);
  Status MoveDevice(const std::string& id, const std::string& group);
  Status RetireDevice(const std::string& id, int64_t now_ms);
  Status UpdateInventory(const std::string& id, const std::string& inventory,
                         const std::string& agent_version);
  Status TouchDevice(const std::string& id, int64_t now_ms);
  Status SetDevicePolicy(const std::string& id, uint64_t version, const std::string& state);
  // How the lock and a teacher's focus stand on the device, as it reported them.
  Status SetDeviceDesktopState(const std::string& id, const std::string& lock_state,
                               const std::string& focus_state);
  Status SetDeviceDismissedMessage(const std::string& id, const std::string& text,
                                   int64_t at_ms);

  Status CreateOperator(const OperatorRecord& op);
  Result<OperatorRecord> GetOperator(const std::string& name);
  // In name order; with `limit` (0: all), at most that many after name `after`.
  Result<std::vector<OperatorRecord>> ListOperators(const std::string& after = "",
                                                    size_t limit = 0);
  Status RevokeOperator(const std::string& name, int64_t now_ms);
  // The operator's new certificate: the old one is refused from now on.
  Status RenewOperator(const std::string& name, const std::string& cert_serial,
                       int64_t cert_expires_ms);

  Status AppendAudit(const v1::AuditEntry& entry);
  // Entries at or after `since_ms`, oldest first: at most `limit` (0: 100,000) with a
  // sequence number above `after_seq`.
  Result<std::vector<v1::AuditEntry>> ListAudit(int64_t since_ms, uint32_t limit,
                                                int64_t after_seq = 0);
  // Certificate renewal (DeviceService.Renew). A renewed certificate is pending until the
  // device first authenticates with it; then it replaces the current one (serial and key
  // fingerprint) and the previous certificate stops working.
  Status SetPendingCertificate(const std::string& device_id, const std::string& serial,
                               const std::string& key_fingerprint);
  // Ok (and promoted) if `serial` is the device's pending certificate; NotFound if not.
  Status PromotePendingCertificate(const std::string& device_id, const std::string& serial);

  // How many audit entries of `action` name `target`, and when the last was (0: none).
  struct AuditCount {
    int64_t count = 0;
    int64_t last_ms = 0;
  };
  Result<AuditCount> CountAudit(const std::string& action, const std::string& target);

 private:
  explicit Store(std::unique_ptr<SqlDb> db) : db_(std::move(db)) {}
  Status CreateGroupLocked(const std::string& path, int64_t now_ms);
  static Status InsertAudit(SqlDb& db, const v1::AuditEntry& entry);

  std::unique_ptr<SqlDb> db_;
};

// "a/b/c" lies under "a/b" (and under itself), not under "a/bc".
bool PathWithin(const std::string& path, const std::string& ancestor);
inline constexpr size_t kMaxGroupLevelBytes = 64;
inline constexpr size_t kMaxGroupPathBytes = 4 * kMaxGroupLevelBytes + 3;
// Checks a group path: 1 to 4 levels of 1 to 64 [a-z0-9._-], none of them "." or "..".
Status ValidateGroupPath(const std::string& path);

}  // namespace preau::server
