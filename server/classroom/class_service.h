// ClassService: the teachers' class control on the server (`preau class ...`).
//
// Run checks the caller (teacher or admin, on a group within its scopes), stores the
// command for every device of the group (CommandStore), sends it at once on each
// connected stream, and answers once every connected device acked or the wait is over
// (AckTracker): the gRPC thread is never held while waiting. Every call is audited,
// refusals included. ClassDeliveries is the device-stream side: on hello it sends a
// device the unexpired commands it lacks, and it takes the devices' acks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "preau/v1/command.grpc.pb.h"
#include "server/classroom/ack_tracker.h"
#include "server/admin/operator_call.h"
#include "server/classroom/command_store.h"
#include "server/server_core.h"

namespace preau::server {

// How long a command without --for stays deliverable to a device that is offline.
inline constexpr int64_t kClassDeliveryWindowMs = 60 * 60 * 1000;
// `open` is a one-shot: a resource opened an hour late is noise.
inline constexpr int64_t kOpenDeliveryWindowMs = 10 * 60 * 1000;
inline constexpr int64_t kMaxClassForSeconds = 24 * 3600;
inline constexpr uint32_t kDefaultClassWaitMs = 5000;
inline constexpr uint32_t kMaxClassWaitMs = 60000;

class ClassRun;

// ClassCommands: runs one class command for a caller any front end admitted (an
// OperatorCall: the same permission table, scopes and audit for the CLI's gRPC calls and
// the browser console), and calls `done` once with the outcome and each device's result.
class ClassCommands {
 public:
  using Done = std::function<void(const Status&, v1::ClassCommandResponse)>;
  ClassCommands(ServerCore& core, CommandStore& commands, AckTracker& tracker)
      : core_(core), commands_(commands), tracker_(tracker) {}

  ServerCore& core() { return core_; }
  // `done` runs on this thread on a refusal, else on the tracker's thread once every
  // connected device acked or the wait is over. `handle`, if given, is set before the
  // command starts; it lets the caller give up waiting (Cancel) while the command runs.
  void Start(std::unique_ptr<OperatorCall> call, const v1::ClassCommandRequest& req, Done done,
             std::weak_ptr<ClassRun>* handle = nullptr);
  static void Cancel(const std::weak_ptr<ClassRun>& handle);

 private:
  ServerCore& core_;
  CommandStore& commands_;
  AckTracker& tracker_;
};

class ClassServiceImpl final : public v1::ClassService::CallbackService {
 public:
  explicit ClassServiceImpl(ClassCommands& commands) : commands_(commands) {}

  grpc::ServerUnaryReactor* Run(grpc::CallbackServerContext* ctx,
                                const v1::ClassCommandRequest* req,
                                v1::ClassCommandResponse* resp) override;

 private:
  ClassCommands& commands_;
};

class ClassDeliveries final : public DeviceFeature {
 public:
  ClassDeliveries(ServerCore& core, CommandStore& commands, AckTracker& tracker)
      : core_(core), commands_(commands), tracker_(tracker) {}

  void OnHello(const std::string& device_id, const v1::Hello& hello) override;
  bool Handles(v1::AgentMessage::BodyCase body) const override {
    return body == v1::AgentMessage::kCommandAck || body == v1::AgentMessage::kLockReport ||
           body == v1::AgentMessage::kMessageDismissed;
  }
  Status OnMessage(const std::string& device_id, const v1::AgentMessage& msg) override;

 private:
  ServerCore& core_;
  CommandStore& commands_;
  AckTracker& tracker_;
};

// The verb of a command kind as the CLI and the audit log name it: "lock", "unlock"...
std::string CommandVerb(v1::CommandKind kind);

// Checks a class command request and turns it into the Command sent to every device
// (id, issuer, times filled in). InvalidArgument names the field at fault.
Result<v1::Command> BuildClassCommand(const v1::ClassCommandRequest& req,
                                      const std::string& issued_by, int64_t now_ms);

}  // namespace preau::server
