// Connections: which devices are connected right now, and the way to reach each one.
// Every open DeviceService.Connect stream registers a DeviceLink here; anything on the
// server that must reach a device (a teacher's lock, a new policy, a retirement) goes
// through this registry. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <grpcpp/support/status.h>

#include "preau/v1/device.pb.h"

namespace preau::server {

// One open stream to one device. Send is non-blocking (queued); Close ends the stream.
class DeviceLink {
 public:
  virtual ~DeviceLink() = default;
  virtual void Send(const v1::ServerMessage& msg) = 0;
  virtual void Close(const grpc::Status& status) = 0;
};

class Connections {
 public:
  // Registers the link of a newly connected device, closing an older link of the same
  // device (a device has one stream at a time).
  void Add(const std::string& device_id, std::shared_ptr<DeviceLink> link);
  // Forgets `link` if it is still the device's current one.
  void Remove(const std::string& device_id, const DeviceLink* link);
  bool Online(const std::string& device_id) const;
  // False if the device is not connected.
  bool Send(const std::string& device_id, const v1::ServerMessage& msg);
  void Close(const std::string& device_id, const grpc::Status& status);
  // Closes every stream (server shutdown).
  void CloseAll(const grpc::Status& status);
  size_t Count() const;

 private:
  std::shared_ptr<DeviceLink> Find(const std::string& device_id) const;

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<DeviceLink>> links_;
};

}  // namespace preau::server
