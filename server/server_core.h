// ServerCore: what every part of the server shares — the store, the keys, the registry of
// connected devices, the clock and the audit log — and the extension points through which
// each domain (policies, class control, the store, the filter, usage) plugs into the
// device stream. Owned by Server; components hold a reference.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "preau/v1/command.pb.h"
#include "preau/v1/device.pb.h"
#include "server/admin/open_calls.h"
#include "server/fleet/admission.h"
#include "server/fleet/connections.h"
#include "server/fleet/device_events.h"
#include "server/pki/server_keys.h"
#include "server/store/store.h"

namespace preau::server {

// A domain's hooks on device streams. Handlers run on gRPC threads; keep them short.
class DeviceFeature {
 public:
  virtual ~DeviceFeature() = default;
  // A device's stream opened and said hello: send it what it lacks.
  virtual void OnHello(const std::string& device_id, const v1::Hello& hello) {}
  // Whether this feature stores messages of this kind.
  virtual bool Handles(v1::AgentMessage::BodyCase body) const { return false; }
  // Stores one message durably (idempotently: the same id may come twice). The agent gets
  // its ack only if this returns ok.
  virtual Status OnMessage(const std::string& device_id, const v1::AgentMessage& msg) {
    return Status::Ok();
  }
  // What the stream calls: stores `msg` and calls `done` once it is durable (or refused),
  // from any thread. The stream reads the device's next message at once, so a feature
  // that batches its writes (a group commit) gets many messages per transaction. The
  // default stores synchronously through OnMessage.
  virtual void OnMessageAsync(const std::string& device_id, const v1::AgentMessage& msg,
                              std::function<void(const Status&)> done) {
    done(OnMessage(device_id, msg));
  }
  // Whether `device` may download the artifact `sha256` through DeviceService.Fetch because
  // of this feature (an app assigned to its group, a filter snapshot). A device may fetch
  // only what some feature vouches for: least privilege, not knowledge of a hash.
  virtual bool MayFetch(const DeviceRecord& device, const std::string& sha256) { return false; }
};

struct ServerCore {
  std::string data_dir;
  std::unique_ptr<Store> store;
  ServerKeys keys;
  Connections connections;
  DeviceEvents device_events;  // a device connected, left, or reported its state
  OpenCalls operator_calls;  // operators' long calls, ended when one is revoked
  // The pace at which devices are let in (RunOptions::admit_*): unlimited until Start.
  std::unique_ptr<Admission> connect_admission = std::make_unique<Admission>(0, 1);
  std::unique_ptr<Admission> enroll_admission = std::make_unique<Admission>(0, 1);
  const Clock* clock = &Clock::System();
  std::vector<DeviceFeature*> features;
  // With replicas: a device's answer to a class command that another replica received
  // (set by the class domain; called on the replicas' thread).
  std::function<void(const std::string& device_id, const v1::CommandAck& ack)> remote_ack;
  // The teachers' console (server/console): where it listens ("" = off), and the port it
  // got once listening.
  std::string console_listen;
  int console_port = 0;

  int64_t Now() const { return clock->NowUnixMs(); }
  // Appends one line to the audit log; `result` is "ok" or the error.
  void Audit(const std::string& actor, const std::string& action, const std::string& target,
             const Status& result, const std::string& detail = "");
};

}  // namespace preau::server
