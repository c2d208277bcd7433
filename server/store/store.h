// Store: the server's durable state (groups, enrollment tokens, devices, operators, the
// audit log) in one SQLite file. Every method is one transaction and returns only after
// the write is durable; callers from any thread are serialized on the database mutex.
// Other server components add their own tables through migrations and use db() under
// the same mutex (see Locked()).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"
#include "preau/v1/admin.pb.h"

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
};

struct OperatorRecord {
  std::string name;
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::vector<std::string> scopes;
  std::string cert_serial;
  int64_t created_ms = 0;
  int64_t revoked_ms = 0;
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
  static Result<std::unique_ptr<Store>> Open(const std::string& path, bool create);

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
  // Groups with the number of (non-retired) devices in each.
  Result<std::vector<std::pair<std::string, uint32_t>>> ListGroups();

  Status CreateToken(const TokenSpec& token, int64_t now_ms);
  // Ok if the token is known, not expired and has uses left (enrolment checks it before
  // it spends any work on the request; EnrollDevice checks again, atomically).
  Status CheckEnrollmentToken(const std::string& token_hash, int64_t now_ms);
  // Atomically: checks the token (known, not expired, uses left), checks the key was
  // never revoked, consumes one use and inserts the device. Returns the device's group.
  Result<std::string> EnrollDevice(const std::string& token_hash, DeviceRecord device,
                                   int64_t now_ms);

  Result<DeviceRecord> GetDevice(const std::string& id);
  Result<std::vector<DeviceRecord>> ListDevices(const std::string& group_prefix,
                                                bool include_retired);
  Status MoveDevice(const std::string& id, const std::string& group);
  Status RetireDevice(const std::string& id, int64_t now_ms);
  Status UpdateInventory(const std::string& id, const std::string& inventory,
                         const std::string& agent_version);
  Status TouchDevice(const std::string& id, int64_t now_ms);
  Status SetDevicePolicy(const std::string& id, uint64_t version, const std::string& state);

  Status CreateOperator(const OperatorRecord& op);
  Result<OperatorRecord> GetOperator(const std::string& name);
  Result<std::vector<OperatorRecord>> ListOperators();

  Status AppendAudit(const v1::AuditEntry& entry);
  Result<std::vector<v1::AuditEntry>> ListAudit(int64_t since_ms, uint32_t limit);

 private:
  explicit Store(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  Status CreateGroupLocked(const std::string& path, int64_t now_ms);

  std::unique_ptr<Db> db_;
};

// "a/b/c" lies under "a/b" (and under itself), not under "a/bc".
bool PathWithin(const std::string& path, const std::string& ancestor);
inline constexpr size_t kMaxGroupLevelBytes = 64;
inline constexpr size_t kMaxGroupPathBytes = 4 * kMaxGroupLevelBytes + 3;
// Checks a group path: 1 to 4 levels of 1 to 64 [a-z0-9._-], none of them "." or "..".
Status ValidateGroupPath(const std::string& path);

}  // namespace preau::server
