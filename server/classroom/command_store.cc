#include "server/classroom/command_store.h"

#include <cstdio>

namespace preau::server {

Result<std::vector<v1::Command>> CommandStore::Dispatch(const v1::Command& command,
                                                        const std::vector<std::string>& device_ids,
                                                        int64_t now_ms) {
  std::vector<v1::Command> out;
  out.reserve(device_ids.size());
  Status st = store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      out.clear();  // a run again after a conflict starts afresh
      for (const auto& id : device_ids) {
        // SqlStmt has no reset: a statement per row, microseconds each.
        PREAU_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT COALESCE(MAX(seq), 0) FROM "
                                                  "class_commands WHERE device_id = ?"));
        q.Bind(1, id);
        PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
        int64_t seq = (row ? q.Int(0) : 0) + 1;
        v1::Command c = command;
        c.set_seq(static_cast<uint64_t>(seq));
        PREAU_ASSIGN_OR_RETURN(
            auto ins, db.Prepare("INSERT INTO class_commands (device_id, seq, command_id, "
                                 "body, expires_ms, created_ms) VALUES (?, ?, ?, ?, ?, ?)"));
        ins.Bind(1, id).Bind(2, seq).Bind(3, c.id()).BindBlob(4, c.SerializeAsString());
        ins.Bind(5, c.expires_unix_ms()).Bind(6, now_ms);
        PREAU_RETURN_IF_ERROR(ins.Run());
        out.push_back(std::move(c));
      }
      return Status::Ok();
    });
  });
  if (!st.ok()) return st.Context("storing class command");
  int64_t last = last_purge_ms_.load();
  if (now_ms - last >= 3600 * 1000 && last_purge_ms_.compare_exchange_strong(last, now_ms)) {
    auto purged = Purge(now_ms - kCommandRetentionMs);  // housekeeping: a failure waits an hour
    (void)purged;
  }
  return out;
}

Status CommandStore::LearnHeldSeq(const std::string& device_id, uint64_t held_seq,
                                  int64_t now_ms) {
  if (held_seq == 0) return Status::Ok();
  return store_.Locked([&](SqlDb& db) {
    return db.Transaction([&]() -> Status {
      PREAU_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT COALESCE(MAX(seq), 0) FROM "
                                                "class_commands WHERE device_id = ?"));
      q.Bind(1, device_id);
      PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row && static_cast<uint64_t>(q.Int(0)) >= held_seq) return Status::Ok();
      std::fprintf(stderr,
                   "preau-server: device %s has handled class commands up to %llu, above what "
                   "this server stored (was the database restored?): numbering from there\n",
                   device_id.c_str(), static_cast<unsigned long long>(held_seq));
      PREAU_ASSIGN_OR_RETURN(
          auto ins, db.Prepare("INSERT INTO class_commands (device_id, seq, command_id, body, "
                               "expires_ms, created_ms, ack_result, ack_detail, acked_ms) "
                               "VALUES (?, ?, 'restored-seq', ?, 0, ?, ?, ?, ?)"));
      ins.Bind(1, device_id).Bind(2, static_cast<int64_t>(held_seq)).BindBlob(3, "");
      ins.Bind(4, now_ms).Bind(5, static_cast<int64_t>(v1::ACK_DONE));
      ins.Bind(6, "the device's own count, learned after a restore").Bind(7, now_ms);
      return ins.Run();
    });
  });
}

Result<int64_t> CommandStore::Purge(int64_t cutoff_ms) {
  return store_.Locked([&](SqlDb& db) -> Result<int64_t> {
    PREAU_ASSIGN_OR_RETURN(
        auto d, db.Prepare("DELETE FROM class_commands WHERE expires_ms < ? AND seq < "
                           "(SELECT MAX(seq) FROM class_commands AS latest "
                           "WHERE latest.device_id = class_commands.device_id)"));
    d.Bind(1, cutoff_ms);
    PREAU_RETURN_IF_ERROR(d.Run());
    return int64_t{db.Changes()};
  });
}

Result<int64_t> CommandStore::Count() {
  return store_.Locked([&](SqlDb& db) -> Result<int64_t> {
    PREAU_ASSIGN_OR_RETURN(auto c, db.Prepare("SELECT COUNT(*) FROM class_commands"));
    PREAU_ASSIGN_OR_RETURN(bool row, c.Step());
    return row ? c.Int(0) : int64_t{0};
  });
}

Result<std::vector<v1::Command>> CommandStore::Pending(const std::string& device_id,
                                                       uint64_t after_seq, int64_t now_ms) {
  return store_.Locked([&](SqlDb& db) -> Result<std::vector<v1::Command>> {
    PREAU_ASSIGN_OR_RETURN(
        auto q, db.Prepare("SELECT body FROM class_commands WHERE device_id = ? AND seq > ? "
                           "AND ack_result = 0 AND expires_ms > ? ORDER BY seq"));
    q.Bind(1, device_id).Bind(2, static_cast<int64_t>(after_seq)).Bind(3, now_ms);
    std::vector<v1::Command> out;
    while (true) {
      PREAU_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      v1::Command c;
      if (!c.ParseFromString(q.Blob(0))) {
        return DataLoss("class command of device " + device_id + " is unreadable");
      }
      out.push_back(std::move(c));
    }
    return out;
  });
}

Status CommandStore::RecordAck(const std::string& device_id, const v1::CommandAck& ack,
                               int64_t now_ms) {
  return store_.Locked([&](SqlDb& db) -> Status {
    PREAU_ASSIGN_OR_RETURN(
        auto q, db.Prepare("UPDATE class_commands SET ack_result = ?, ack_detail = ?, "
                           "acked_ms = ? WHERE device_id = ? AND command_id = ? "
                           "AND ack_result = 0"));
    q.Bind(1, static_cast<int64_t>(ack.result())).Bind(2, ack.detail()).Bind(3, now_ms);
    q.Bind(4, device_id).Bind(5, ack.command_id());
    return q.Run();
  });
}

}  // namespace preau::server
