// Connections: which devices are connected right now, and the way to reach each one.
// Every open DeviceService.Connect stream registers a DeviceLink here; anything on the
// server that must reach a device (a teacher's lock, a new policy, a retirement) goes
// through this registry. With replicas (SetRemote), a device this server does not hold is
// looked up among the others' and reached through them. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <grpcpp/support/status.h>

#include "preau/v1/device.pb.h"
#include "server/fleet/remote_devices.h"

namespace preau::server {

// One open stream to one device. Send is non-blocking (queued); Close ends the stream,
// and CloseUntil also tells the device when to come back (the retry-after hint of
// common/retry_after.h in the stream's trailing metadata).
class DeviceLink {
 public:
  virtual ~DeviceLink() = default;
  virtual void Send(const v1::ServerMessage& msg) = 0;
  virtual void Close(const grpc::Status& status) = 0;
  virtual void CloseUntil(const grpc::Status& status, int64_t retry_after_ms) = 0;
};

class Connections {
 public:
  // Registers the link of a device that comes from `peer` (gRPC's "ipv4:host:port"). An
  // older link from the same peer (the same connection: the agent's own reconnect) is
  // replaced and closed; one from another peer stays, and the new one is refused: two
  // connections of one identity at once are a cloned disk image. Returns the peer of the
  // link that stays when refused, "" when registered.
  std::string Add(const std::string& device_id, const std::string& peer,
                              std::shared_ptr<DeviceLink> link);
  // Forgets `link` if it is still the device's current one.
  void Remove(const std::string& device_id, const DeviceLink* link);
  // Connected here or, with replicas, to another one.
  bool Online(const std::string& device_id) const;
  // The app in front on a connected device, as it last said (live state for the teachers'
  // console: kept only with the connection, forgotten when it ends). SetForegroundApp
  // returns true if it changed; a link that is no longer the device's current one is
  // ignored.
  bool SetForegroundApp(const std::string& device_id, const DeviceLink* link,
                        const std::string& app);
  std::string ForegroundApp(const std::string& device_id) const;
  // Whether the refusal of a second connection of `device_id` at `now_ms` confirms a
  // clone. A first refusal does not: an agent that restarts can come back before the
  // server has seen its old stream end. One that comes again `confirm_ms` later while the
  // same first stream is still there does; it is then reported at most once every
  // `interval_ms` (a clone retries for ever).
  bool ConfirmClone(const std::string& device_id, int64_t now_ms, int64_t confirm_ms,
                    int64_t interval_ms);
  // False if the device is not connected (here or, with replicas, to another one).
  bool Send(const std::string& device_id, const v1::ServerMessage& msg);
  void Close(const std::string& device_id, const grpc::Status& status);
  // The same on this server's own streams only (what another replica handed over).
  bool SendHere(const std::string& device_id, const v1::ServerMessage& msg);
  void CloseHere(const std::string& device_id, const grpc::Status& status);
  // The other replicas (null: none, the default). Set before streams come, cleared before
  // `remote` goes.
  void SetRemote(RemoteDevices* remote) { remote_ = remote; }
  // A device answered a class command on this server: tell the replica that may wait.
  void ShareAck(const std::string& device_id, const v1::CommandAck& ack);
  // Closes every stream (server shutdown). With `per_second` > 0, each device is also
  // given its own moment to come back, one every 1/per_second from now: a planned
  // restart then sees its whole fleet return at the pace it admits, instead of every
  // device's TLS handshake at once (18,000 of them timed out on 2 cores).
  void CloseAll(const grpc::Status& status, double per_second = 0);
  // After CloseAll: how long a device that comes back before the server has stopped
  // should wait (after every moment given out; at least 1 ms). 0 while the server runs.
  int64_t ClosedFor() const;
  // Streams held by this server.
  size_t Count() const;

 private:
  std::shared_ptr<DeviceLink> Find(const std::string& device_id) const;

  std::atomic<RemoteDevices*> remote_{nullptr};
  mutable std::mutex mu_;
  bool closed_ = false;                           // CloseAll was called
  std::chrono::steady_clock::time_point reopen_;  // the last moment it gave out
  std::unordered_map<std::string, std::shared_ptr<DeviceLink>> links_;
  std::unordered_map<std::string, std::string> peers_;  // device id -> peer of its link
  std::unordered_map<std::string, std::string> foreground_;  // device id -> app in front
  struct CloneSuspicion {
    const DeviceLink* first = nullptr;  // the link that stayed
    int64_t since_ms = 0;               // first refusal while it stayed
    int64_t reported_ms = 0;
  };
  std::unordered_map<std::string, CloneSuspicion> clones_;
};

}  // namespace preau::server
