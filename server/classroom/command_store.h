// CommandStore: the durable record of class commands, one row per device and command, in
// the server's SQLite store (table class_commands, migration 2). A command is written for
// every device of the class before anything is sent, so a device that is offline finds
// it on reconnect; each row keeps its expiry and, once the device answered, its ack.
// Per-device sequence numbers give the order and let a reconnecting agent say, through
// Hello.last_command_seq, what it already holds. Rows are kept `kCommandRetentionMs` past
// their expiry (for `--wait` and troubleshooting; the audit log keeps who did what for
// good), then deleted as new commands come, except each device's latest, which carries
// its sequence on.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/command.pb.h"
#include "server/store/store.h"

namespace preau::server {

inline constexpr int64_t kCommandRetentionMs = 30LL * 24 * 3600 * 1000;

class CommandStore {
 public:
  explicit CommandStore(Store& store) : store_(store) {}

  // Stores `command` for each of `device_ids` in one transaction, each with the device's
  // next seq; returns the per-device commands (seq filled in), in the same order.
  Result<std::vector<v1::Command>> Dispatch(const v1::Command& command,
                                            const std::vector<std::string>& device_ids,
                                            int64_t now_ms);
  // The device's commands after `after_seq` that it has not acked and that have not
  // expired at `now_ms`, in seq order.
  Result<std::vector<v1::Command>> Pending(const std::string& device_id, uint64_t after_seq,
                                           int64_t now_ms);
  // The device said (in its hello) that it has handled commands up to `held_seq`. When that
  // is above every seq stored for it, the server's database was restored from an older
  // backup: a row (command id "restored-seq", expired, answered) records `held_seq` so that
  // the device's next command is numbered above it instead of being ignored as already
  // handled.
  Status LearnHeldSeq(const std::string& device_id, uint64_t held_seq, int64_t now_ms);
  // Records the device's answer to a command (idempotent: a repeated ack changes nothing).
  Status RecordAck(const std::string& device_id, const v1::CommandAck& ack, int64_t now_ms);
  // Deletes the rows expired before `cutoff_ms`, but never a device's latest; returns how
  // many went. Dispatch calls it at most once an hour.
  Result<int64_t> Purge(int64_t cutoff_ms);
  // Rows stored (tests).
  Result<int64_t> Count();

 private:
  Store& store_;
  std::atomic<int64_t> last_purge_ms_{0};
};

}  // namespace preau::server
