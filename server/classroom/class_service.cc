#include "server/classroom/class_service.h"

#include <cstdio>
#include <mutex>
#include <vector>

#include "common/filter/public_suffix.h"
#include "common/grpc_status.h"
#include "common/pki.h"
#include "common/policy/policy_parser.h"
#include "common/utf8.h"
#include "server/admin/authz.h"
#include "server/admin/operator_call.h"
#include "server/admin/refusal_texts.h"
#include "server/pki/peer.h"

namespace preau::server {

namespace {

constexpr size_t kMaxMessageBytes = 500;
constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxAppBytes = 200;

bool IsDomainName(const std::string& s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.') return false;
  if (s.find('.') == std::string::npos || s.find("..") != std::string::npos) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status CheckUrl(const std::string& url, const std::string& flag) {
  if (url.empty()) return InvalidArgument(Say(refusal::kRequired, {flag}));
  if (url.size() > kMaxUrlBytes) return InvalidArgument(Say(refusal::kUrlTooLong, {flag}));
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return InvalidArgument(Say(refusal::kNotHttp, {flag, url}));
  }
  for (unsigned char c : url) {
    if (c <= ' ' || c == 0x7f) return InvalidArgument(Say(refusal::kUrlSpaces, {flag}));
  }
  return Status::Ok();
}

// Text shown on a device's screen (a lock message, a message): at most 500 bytes, no
// control character but a line break, so that nothing typed can act as a terminal or
// console escape sequence.
Status CheckDisplayText(const std::string& text, const std::string& flag) {
  if (text.size() > kMaxMessageBytes) {
    return InvalidArgument(Say(refusal::kTextTooLong, {flag, std::to_string(text.size())}));
  }
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len = Utf8SequenceLength(text, i);
    bool c1 = len == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if ((len == 1 && ((c < 0x20 && c != '\n') || c == 0x7F)) || c1) {
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", len == 1 ? c : static_cast<unsigned char>(text[i + 1]));
      return InvalidArgument(Say(refusal::kControlCharacter, {flag, code, std::to_string(i)}));
    }
    i += len == 0 ? 1 : len;
  }
  return Status::Ok();
}

v1::DeviceOutcome OutcomeOf(v1::AckResult r) {
  switch (r) {
    case v1::ACK_DONE: return v1::DEVICE_DONE;
    case v1::ACK_EXPIRED: return v1::DEVICE_EXPIRED;
    case v1::ACK_REFUSED: return v1::DEVICE_REFUSED;
    default: return v1::DEVICE_FAILED;
  }
}

}  // namespace

// One class command, whoever asked (the gRPC service or the browser console). Owned by
// a shared_ptr: the tracker's callback holds it until `done` has run. `done` is called
// exactly once, from Start on a refusal or from the tracker's thread.
class ClassRun final : public std::enable_shared_from_this<ClassRun> {
 public:
  ClassRun(ServerCore& core, CommandStore& commands, AckTracker& tracker,
           std::unique_ptr<OperatorCall> call, ClassCommands::Done done)
      : core_(core), commands_(commands), tracker_(tracker), call_(std::move(call)),
        done_(std::move(done)) {}

  void Start(const v1::ClassCommandRequest& req) {
    call_->set_action("class." + CommandVerb(req.kind()));
    Status st;
    {
      // Held while sending: the tracker's callback reads the targets (Complete).
      std::lock_guard<std::mutex> lock(mu_);
      // The audit row commits with the command (Dispatch), before any device acts.
      st = call_->Run([&](const OperatorRecord& op) { return Begin(op, req); });
    }
    if (!st.ok()) {
      call_->Finish(st);
      auto done = std::move(done_);
      done(st, std::move(resp_));
    }
  }

  // The caller went away: stop waiting for acks.
  void Cancel() {
    std::string id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = command_id_;
    }
    if (!id.empty()) tracker_.Abandon(id);
  }

 private:
  struct Target {
    std::string id;
    std::string name;
    bool sent = false;
  };

  Status Begin(const OperatorRecord& op, const v1::ClassCommandRequest& req) {
    PREAU_RETURN_IF_ERROR(ValidateGroupPath(req.group()));
    PREAU_RETURN_IF_ERROR(RequireScope(op, req.group()));
    if (!core_.store->GroupExists(req.group())) {
      return NotFound(Say(refusal::kUnknownGroup, {req.group()}));
    }
    int64_t now = core_.Now();
    PREAU_ASSIGN_OR_RETURN(auto command, BuildClassCommand(req, op.name, now));
    if (req.wait_ms() > kMaxClassWaitMs) return InvalidArgument("--wait is limited to 60s");
    auto wait = std::chrono::milliseconds(req.wait_ms() == 0 ? kDefaultClassWaitMs : req.wait_ms());

    PREAU_ASSIGN_OR_RETURN(auto devices, core_.store->ListDevices(req.group(), false));
    std::vector<std::string> ids;
    size_t online_count = 0;
    for (const auto& d : devices) {
      targets_.push_back({d.id, d.name});
      ids.push_back(d.id);
      online_count += core_.connections.Online(d.id);
    }
    call_->set_detail("command " + command.id() + " for " + std::to_string(ids.size()) +
                      " devices, " + std::to_string(online_count) + " online");
    // Durable first: a device that is offline, or drops before its ack, finds it later.
    PREAU_ASSIGN_OR_RETURN(auto per_device, commands_.Dispatch(command, ids, now));

    command_id_ = command.id();
    resp_.set_command_id(command.id());
    resp_.set_expires_unix_ms(command.expires_unix_ms());
    resp_.set_until_unix_ms(command.until_unix_ms());
    std::vector<std::string> online;
    for (const auto& t : targets_) {
      if (core_.connections.Online(t.id)) online.push_back(t.id);
    }
    // Registered before anything is sent, so that no ack can arrive unexpected. A device
    // counted online that dropped in between is waited for in vain: it shows as no-ack.
    tracker_.Track(command_id_, online, wait,
                   [self = shared_from_this()](AckTracker::Acks acks) {
                     self->Complete(std::move(acks));
                   });
    // Revoked while waiting for the acks: the call ends refused, within the second.
    // (Complete waits for mu_, held by our caller, so this is in place before it runs.)
    call_->AbortOnRevocation([this](const Status& why) {
      std::string id;
      {
        std::lock_guard<std::mutex> lock(mu_);
        revoked_ = why;
        id = command_id_;
      }
      tracker_.Abandon(id);
    });
    for (size_t i = 0; i < targets_.size(); ++i) {
      v1::ServerMessage m;
      *m.mutable_command() = per_device[i];
      targets_[i].sent = core_.connections.Send(targets_[i].id, m);
    }
    return Status::Ok();
  }

  // On the tracker's thread, once.
  void Complete(AckTracker::Acks acks) {
    Status revoked;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Fill(acks);
      revoked = revoked_;
    }
    // Ends the revocation hook before this object can go.
    call_->Finish(revoked);
    auto done = std::move(done_);
    done(revoked, std::move(resp_));
  }

  void Fill(const AckTracker::Acks& acks) {
    for (const auto& t : targets_) {
      auto* r = resp_.add_results();
      r->set_device_id(t.id);
      r->set_device_name(t.name);
      auto it = acks.find(t.id);
      if (it != acks.end()) {
        r->set_outcome(OutcomeOf(it->second.result()));
        r->set_detail(it->second.detail());
      } else if (!t.sent) {
        r->set_outcome(v1::DEVICE_OFFLINE);
      } else {
        r->set_outcome(v1::DEVICE_NO_ACK);
      }
    }
  }

  ServerCore& core_;
  CommandStore& commands_;
  AckTracker& tracker_;
  std::unique_ptr<OperatorCall> call_;
  ClassCommands::Done done_;
  std::mutex mu_;
  std::vector<Target> targets_;
  std::string command_id_;
  v1::ClassCommandResponse resp_;
  Status revoked_;  // set if the operator is revoked while the call waits
};

namespace {

// One ClassService.Run over gRPC. Owns itself: gRPC calls OnDone last, after Finish, and
// it deletes itself there.
class ClassCall final : public grpc::ServerUnaryReactor {
 public:
  ClassCall(ClassCommands& commands, grpc::CallbackServerContext* ctx,
            const v1::ClassCommandRequest& req, v1::ClassCommandResponse* resp) {
    auto call = std::make_unique<OperatorCall>(commands.core(), *ctx, "ClassService.Run",
                                               req.group());
    // run_ is set before the command starts: nothing here is touched after `done`.
    commands.Start(std::move(call), req,
                   [this, resp](const Status& st, v1::ClassCommandResponse r) {
                     *resp = std::move(r);
                     // Last touch of this object: OnDone may follow at once.
                     Finish(ToGrpc(st));
                   },
                   &run_);
  }
  void OnCancel() override { ClassCommands::Cancel(run_); }
  void OnDone() override { delete this; }

 private:
  std::weak_ptr<ClassRun> run_;
};

}  // namespace

std::string CommandVerb(v1::CommandKind kind) {
  switch (kind) {
    case v1::COMMAND_LOCK: return "lock";
    case v1::COMMAND_UNLOCK: return "unlock";
    case v1::COMMAND_FOCUS: return "focus";
    case v1::COMMAND_OPEN: return "open";
    case v1::COMMAND_ALLOW: return "allow";
    case v1::COMMAND_MESSAGE: return "message";
    case v1::COMMAND_WIFI_ON: return "wifi.on";
    case v1::COMMAND_WIFI_OFF: return "wifi.off";
    default: return "unknown";
  }
}

Result<v1::Command> BuildClassCommand(const v1::ClassCommandRequest& req,
                                      const std::string& issued_by, int64_t now_ms) {
  v1::Command c;
  c.set_kind(req.kind());
  if (req.for_seconds() < 0) return InvalidArgument(Say(refusal::kForNotPositive, {"--for"}));
  if (req.for_seconds() > kMaxClassForSeconds) return InvalidArgument(Say(refusal::kForTooLong, {"--for"}));
  const bool timed = req.for_seconds() > 0;
  switch (req.kind()) {
    case v1::COMMAND_LOCK:
      PREAU_RETURN_IF_ERROR(CheckDisplayText(req.message(), "--message"));
      c.set_message(req.message());
      break;
    case v1::COMMAND_UNLOCK:
      if (timed) return InvalidArgument(Say(refusal::kForDoesNotApply, {"--for", "unlock"}));
      break;
    case v1::COMMAND_MESSAGE:
      if (timed) return InvalidArgument(Say(refusal::kForDoesNotApply, {"--for", "message"}));
      if (req.message().empty()) return InvalidArgument(Say(refusal::kRequired, {"--text"}));
      PREAU_RETURN_IF_ERROR(CheckDisplayText(req.message(), "--text"));
      c.set_message(req.message());
      break;
    case v1::COMMAND_WIFI_ON:
      if (!timed) return InvalidArgument(Say(refusal::kWifiNeedsFor, {"--for"}));
      break;
    case v1::COMMAND_WIFI_OFF:
      if (timed) return InvalidArgument(Say(refusal::kForDoesNotApply, {"--for", "wifi --off"}));
      break;
    case v1::COMMAND_FOCUS:
      if (req.app().empty() == req.url().empty()) {
        return InvalidArgument(Say(refusal::kFocusOneTarget, {"--app", "--url"}));
      }
      if (!req.url().empty()) PREAU_RETURN_IF_ERROR(CheckUrl(req.url(), "--url"));
      if (!req.app().empty() &&
          (req.app().size() > kMaxAppBytes || !policy::ValidAppId(req.app()))) {
        return InvalidArgument(Say(refusal::kNotAnAppId, {"--app", req.app()}));
      }
      c.set_app(req.app());
      c.set_url(req.url());
      break;
    case v1::COMMAND_OPEN:
      if (timed) return InvalidArgument(Say(refusal::kForDoesNotApply, {"--for", "open"}));
      PREAU_RETURN_IF_ERROR(CheckUrl(req.url(), "--url"));
      c.set_url(req.url());
      break;
    case v1::COMMAND_ALLOW:
      if (!IsDomainName(req.site())) {
        return InvalidArgument(Say(refusal::kNotADomain, {"--site", req.site()}));
      }
      if (filter::PublicSuffixList::System().IsPublicSuffix(req.site())) {
        return InvalidArgument(Say(refusal::kPublicSuffix, {"--site", req.site()}));
      }
      if (!timed) return InvalidArgument(Say(refusal::kAllowNeedsFor, {"--for"}));
      c.set_site(req.site());
      break;
    default:
      return InvalidArgument("unknown class command kind " + std::to_string(req.kind()));
  }
  c.set_id("c-" + pki::RandomHex(8));
  c.set_issued_by(issued_by);
  c.set_issued_unix_ms(now_ms);
  if (timed) {
    c.set_until_unix_ms(now_ms + req.for_seconds() * 1000);
    c.set_expires_unix_ms(c.until_unix_ms());
  } else {
    c.set_expires_unix_ms(now_ms + (req.kind() == v1::COMMAND_OPEN ? kOpenDeliveryWindowMs
                                                                   : kClassDeliveryWindowMs));
  }
  return c;
}

void ClassCommands::Start(std::unique_ptr<OperatorCall> call, const v1::ClassCommandRequest& req,
                          Done done, std::weak_ptr<ClassRun>* handle) {
  auto run = std::make_shared<ClassRun>(core_, commands_, tracker_, std::move(call),
                                        std::move(done));
  if (handle) *handle = run;
  run->Start(req);
}

void ClassCommands::Cancel(const std::weak_ptr<ClassRun>& handle) {
  if (auto run = handle.lock()) run->Cancel();
}

grpc::ServerUnaryReactor* ClassServiceImpl::Run(grpc::CallbackServerContext* ctx,
                                                const v1::ClassCommandRequest* req,
                                                v1::ClassCommandResponse* resp) {
  return new ClassCall(commands_, ctx, *req, resp);
}

void ClassDeliveries::OnHello(const std::string& device_id, const v1::Hello& hello) {
  Status learned = commands_.LearnHeldSeq(device_id, hello.last_command_seq(), core_.Now());
  if (!learned.ok()) {
    std::fprintf(stderr, "preau-server: device %s: recording its command count: %s\n",
                 device_id.c_str(), learned.message().c_str());
  }
  auto pending = commands_.Pending(device_id, hello.last_command_seq(), core_.Now());
  if (!pending.ok()) {
    std::fprintf(stderr, "preau-server: device %s: pending class commands: %s\n",
                 device_id.c_str(), pending.status().message().c_str());
    return;
  }
  for (const auto& c : *pending) {
    v1::ServerMessage m;
    *m.mutable_command() = c;
    core_.connections.Send(device_id, m);
  }
}

Status ClassDeliveries::OnMessage(const std::string& device_id, const v1::AgentMessage& msg) {
  if (msg.has_lock_report()) {
    const v1::LockReport& r = msg.lock_report();
    std::string state = !r.locked()   ? "unlocked"
                        : r.verified() ? "locked"
                                       : "unverified: " + r.reason();
    std::string focus = !r.focus()      ? ""
                        : r.focus_held() ? "held"
                                         : "not held: " + r.focus_reason();
    Status st = core_.store->SetDeviceDesktopState(device_id, state, focus);
    if (st.ok()) core_.device_events.Notify(device_id);  // the console's tile
    return st;
  }
  if (msg.has_message_dismissed()) {
    // Shown back to operators: held to what a teacher may send (refused for good otherwise).
    const v1::MessageDismissed& d = msg.message_dismissed();
    PREAU_RETURN_IF_ERROR(CheckDisplayText(d.text(), "dismissed message"));
    int64_t at = d.at_unix_ms() > 0 && d.at_unix_ms() <= core_.Now() ? d.at_unix_ms() : core_.Now();
    Status st = core_.store->SetDeviceDismissedMessage(device_id, d.text(), at);
    if (st.ok()) core_.device_events.Notify(device_id);
    return st;
  }
  // The waiting teacher hears first; the durable record follows (the device has acted
  // either way, and it resends the ack until this returns ok).
  // A command no call here waits for came through another replica: its call waits there.
  // (The connections outlive the tracker, whose last handlers run as it goes.)
  tracker_.Ack(device_id, msg.command_ack(),
               [connections = &core_.connections, device_id, ack = msg.command_ack()] {
                 connections->ShareAck(device_id, ack);
               });
  return commands_.RecordAck(device_id, msg.command_ack(), core_.Now());
}

}  // namespace preau::server
