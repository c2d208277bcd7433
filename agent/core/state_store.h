// StateStore: everything an agent keeps across restarts, in one SQLite file in its state
// folder — its identity (key, certificate, pinned CA and policy key), small named values
// for the plugins (last valid policy bundle, lock state…), and the outbox of reports not
// yet acknowledged by the server. A corrupt or foreign state folder is refused with a
// message that says what to do, never half-used.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"

namespace preau::agent {

struct Identity {
  std::string device_id;
  std::string private_key_pem;
  std::string certificate_pem;
  std::string ca_pem;
  std::string policy_key_pem;
  std::string server;
  std::string group;
};

struct OutboxItem {
  int64_t seq = 0;
  std::string id;
  std::string kind;   // lets a newer report of a kind replace an unsent older one
  std::string body;   // serialized AgentMessage
};

// A state_dir of this value keeps the state in memory only: for the fleet simulator,
// whose thousands of devices need no persistence and would exhaust file descriptors.
inline constexpr const char* kInMemoryState = ":memory:";

class StateStore {
 public:
  static Result<std::unique_ptr<StateStore>> Open(const std::string& state_dir);

  Result<std::optional<Identity>> LoadIdentity();
  Status SaveIdentity(const Identity& id);

  Result<std::optional<std::string>> Get(const std::string& key);
  Status Put(const std::string& key, const std::string& value);
  Status Delete(const std::string& key);

  // Appends to the outbox; with `replace_kind`, drops unsent items of the same kind first.
  // Keeps at most `max_items`: the oldest are dropped and counted (DroppedCount).
  Status Enqueue(const OutboxItem& item, bool replace_kind, size_t max_items);
  Result<std::vector<OutboxItem>> Pending(size_t limit);
  Status Acked(const std::string& id);
  Result<int64_t> PendingCount();
  int64_t DroppedCount();

 private:
  explicit StateStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}
  std::unique_ptr<Db> db_;
};

}  // namespace preau::agent
