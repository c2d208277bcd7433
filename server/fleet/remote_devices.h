// RemoteDevices: the devices that other replicas of this server hold, when several
// `preau-server run` share one PostgreSQL store (server/fleet/replicas.h). Connections
// asks it about any device it does not hold itself, so that every part of the server
// (a teacher's lock, a policy roll-out, a retirement) reaches a device whichever replica
// its stream is on, and it tells it which devices come and go here. A single server has
// none: Connections then answers from its own streams only.
#pragma once

#include <string>

#include <grpcpp/support/status.h>

#include "preau/v1/command.pb.h"
#include "preau/v1/device.pb.h"

namespace preau::server {

class RemoteDevices {
 public:
  virtual ~RemoteDevices() = default;
  // A device's stream registered here, or ended here (called under Connections' lock:
  // queue, never call back into Connections).
  virtual void Joined(const std::string& device_id) = 0;
  virtual void Left(const std::string& device_id) = 0;
  // Whether another replica holds the device's stream (as the shared store last said).
  virtual bool Online(const std::string& device_id) const = 0;
  // Hands `msg` (or the closing of the stream) to the replica that holds the device; false
  // if none does. Delivery is best effort, as on a local stream: what must reach a device
  // is stored first and sent again when it says hello.
  virtual bool Send(const std::string& device_id, const v1::ServerMessage& msg) = 0;
  virtual bool Close(const std::string& device_id, const grpc::Status& status) = 0;
  // A device answered a class command here: the replica waiting for it may be another.
  virtual void ShareAck(const std::string& device_id, const v1::CommandAck& ack) = 0;
};

}  // namespace preau::server
