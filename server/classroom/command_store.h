// CommandStore: the durable record of class commands, one row per device and command, in
// the server's SQLite store (table class_commands, migration 2). A command is written for
// every device of the class before anything is sent, so a device that is offline finds
// it on reconnect; each row keeps its expiry and, once the device answered, its ack.
// Per-device sequence numbers give the order and let a reconnecting agent say, through
// Hello.last_command_seq, what it already holds.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/command.pb.h"
#include "server/store/store.h"

namespace preau::server {

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
  // Records the device's answer to a command (idempotent: a repeated ack changes nothing).
  Status RecordAck(const std::string& device_id, const v1::CommandAck& ack, int64_t now_ms);

 private:
  Store& store_;
};

}  // namespace preau::server
