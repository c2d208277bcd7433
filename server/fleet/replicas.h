// Replicas: one `preau-server run` among several that share a PostgreSQL store
// (deploy/SCALE-OUT.md). It keeps, in the shared store, which device is connected to which
// replica (table device_presence) and whether each replica is alive (replica_heartbeats:
// one row each, pushed forward every few seconds, so the devices of a replica that died
// turn offline by themselves), and it carries between replicas what must reach a device
// held by another (table replica_relay, announced with PostgreSQL's NOTIFY) and the
// devices' answers to class commands (NOTIFY), so that any replica answers any call and
// the teacher's waiting CLI gets its acks from whichever replica holds the devices.
//
// All store work runs on one private thread with its own connection: the gRPC threads
// only queue to it, and read the presence of other replicas from a snapshot it keeps up to
// date every second by reading only the presence rows that changed (and all of them once
// a minute), so that its cost follows the fleet's comings and goings, not its size.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "server/fleet/connections.h"
#include "server/fleet/remote_devices.h"

namespace preau::server {

class PostgresDb;

struct ReplicaOptions {
  std::string store_url;  // postgresql://… (with its password, if any)
  std::string name;       // unique among the replicas; "" = host-pid-random
  // A device held by a replica that stopped refreshing its heartbeat counts offline after this.
  int64_t presence_ttl_ms = 15'000;
  int64_t heartbeat_ms = 5'000;
  int64_t snapshot_ms = 1'000;      // the presence rows that changed since the last read
  int64_t full_snapshot_ms = 60'000;  // every presence row
};

class Replicas final : public RemoteDevices {
 public:
  using AckHandler = std::function<void(const std::string& device_id, const v1::CommandAck&)>;
  // Connects to the store, listens, and registers with `connections`. `on_ack` gets the
  // acks other replicas received (on this object's thread).
  static Result<std::unique_ptr<Replicas>> Start(ReplicaOptions opts, Connections& connections,
                                                 const Clock& clock, AckHandler on_ack);
  // Unregisters, stops the thread and removes this replica's presence rows: its devices
  // are offline at once rather than after the expiry.
  ~Replicas() override;
  Replicas(const Replicas&) = delete;
  Replicas& operator=(const Replicas&) = delete;

  const std::string& name() const { return opts_.name; }
  // Stops the thread: nothing is called back after it returns (the server calls it before
  // freeing the domains `on_ack` reaches). Messages queued after it are not carried.
  void Stop();

  void Joined(const std::string& device_id) override;
  void Left(const std::string& device_id) override;
  bool Online(const std::string& device_id) const override;
  bool Send(const std::string& device_id, const v1::ServerMessage& msg) override;
  bool Close(const std::string& device_id, const grpc::Status& status) override;
  void ShareAck(const std::string& device_id, const v1::CommandAck& ack) override;

 private:
  struct Relay {
    std::string replica;
    std::string device_id;
    std::string body;     // a serialized ServerMessage, or the reason of a close
    int close_code = -1;  // >= 0: close the stream with this gRPC code
  };
  Replicas(ReplicaOptions opts, Connections& connections, const Clock& clock, AckHandler on_ack,
           std::unique_ptr<PostgresDb> db);
  void Loop();
  void Wake();
  Status Listen();
  Status Flush();
  Status Heartbeat();
  // Reads the presence rows changed since the last read (all of them if `full`) and which
  // replicas are alive.
  Status RefreshSnapshot(bool full);
  Status TakeRelayed();
  void OnAckNotice(const std::string& payload);
  // The live replica holding `device_id`, if another does (mu_ held).
  const std::string* HolderLocked(const std::string& device_id) const;

  ReplicaOptions opts_;
  Connections& connections_;
  const Clock& clock_;
  AckHandler on_ack_;
  std::unique_ptr<PostgresDb> db_;  // used on the thread only (and by the destructor after it)
  int wake_[2] = {-1, -1};

  mutable std::mutex mu_;
  std::vector<std::pair<std::string, bool>> presence_;  // device id, joined (else left)
  std::vector<Relay> relay_;
  std::vector<std::string> acks_;                        // NOTIFY payloads
  std::unordered_map<std::string, std::string> remote_;  // device id -> replica holding it
  std::unordered_set<std::string> alive_;                // replicas whose heartbeat is current
  int64_t changes_since_ms_ = 0;  // the thread's: the store's clock at the last read, less a margin
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace preau::server
