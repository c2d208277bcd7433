#include "server/fleet/device_service.h"

#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>

#include "common/grpc_status.h"
#include "common/pki.h"
#include "common/retry_after.h"
#include "server/fleet/enrollment_token.h"
#include "server/pki/peer.h"

namespace preau::server {

namespace {

constexpr size_t kMaxCsrBytes = 16 * 1024;
constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxForegroundAppBytes = 128;  // an app id or window class
constexpr int kDeviceCertDays = 825;
// last_seen is written when a device connects and when it goes, and from its heartbeats
// (one a minute) at most this often: while it is connected it shows online, and a write
// per heartbeat (a durable commit each, 300 a second at 18,000 devices) would cost the
// idle server more than it tells.
constexpr int64_t kTouchIntervalMs = 5 * 60'000;
constexpr int64_t kCloneAuditIntervalMs = 60'000;
// A second connection refused again this long after the first refusal, while the first
// connection is still the same, is a clone and not an agent restarting faster than the
// server saw its old stream end.
constexpr int64_t kCloneConfirmMs = 2'000;

// Audits a confirmed clone (see Connections::ConfirmClone).
void FlagClone(ServerCore& core, const std::string& device_id, const std::string& peer,
               const std::string& first_peer) {
  if (!core.connections.ConfirmClone(device_id, core.Now(), kCloneConfirmMs,
                                     kCloneAuditIntervalMs)) {
    return;
  }
  std::fprintf(stderr, "preau-server: device %s: second connection from %s refused as a clone "
               "(connected from %s)\n", device_id.c_str(), peer.c_str(), first_peer.c_str());
  core.Audit("device " + device_id, kCloneAuditAction, device_id,
             FailedPrecondition("refused: already connected"),
             "second connection from " + peer + " while connected from " + first_peer);
}

// One device's Connect stream. Owns itself: gRPC calls OnDone last, and it deletes itself
// there. Other threads reach it only through its Link, which OnDone detaches.
class DeviceStream final : public grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage> {
 public:
  DeviceStream(ServerCore& core, grpc::CallbackServerContext* ctx) : core_(core), ctx_(ctx) {
    // A device back (on the connection it still holds) while this server stops after
    // giving every device its moment: told to come back after them all, not let in to be
    // cut off without a word (the stop would wait for its stream in vain).
    if (int64_t wait_ms = core_.connections.ClosedFor(); wait_ms > 0) {
      ctx->AddTrailingMetadata(kRetryAfterKey, std::to_string(wait_ms));
      finished_ = true;
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
      return;
    }
    // Before any work for it: a fleet coming back at once is let in at the server's pace,
    // the rest told when to come back (on the connection they already hold).
    grpc::Status admitted =
        core_.connect_admission->AdmitCall(*ctx, "device connections", PeerName(*ctx));
    if (!admitted.ok()) {
      finished_ = true;
      Finish(admitted);
      return;
    }
    auto dev = AuthenticateDevice(*ctx, *core_.store);
    if (!dev.ok()) {
      finished_ = true;
      Finish(ToGrpc(dev.status()));
      return;
    }
    device_id_ = dev->id;
    link_ = std::make_shared<Link>(this);
    std::string first = core_.connections.Add(device_id_, ctx->peer(), link_);
    if (!first.empty()) {
      // The same identity from a second connection: a cloned disk image. The first stays.
      link_.reset();
      finished_ = true;
      FlagClone(core_, device_id_, ctx->peer(), first);
      Finish(grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          "device " + device_id_ + " is already connected from another "
                          "place; this copy is refused as a clone (reported to the admins)"));
      return;
    }
    (void)core_.store->TouchDevice(device_id_, core_.Now());
    last_touch_ms_ = core_.Now();
    core_.device_events.Notify(device_id_);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the agent closed its side or went away
      Close(grpc::Status::OK);
      return;
    }
    Handle(in_, [link = link_, device = device_id_, id = in_.id()](const Status& st) {
      if (!st.ok()) {
        std::fprintf(stderr, "preau-server: device %s: message %s not stored: %s\n",
                     device.c_str(), id.c_str(), st.message().c_str());
      }
      // Refused for what it holds: say so, or the agent would resend it forever and hold
      // its outbox behind it. Other failures (a full disk) get no ack: it will come again.
      bool refused = st.code() == Code::kInvalidArgument;
      if ((st.ok() || refused) && !id.empty()) {
        v1::ServerMessage ack;
        ack.mutable_ack()->set_id(id);
        if (refused) ack.mutable_ack()->set_refused(st.message());
        link->Send(ack);  // a no-op once the stream is gone: the agent will resend
      }
    });
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(mu_);
    out_.pop_front();
    writing_ = false;
    if (!ok) {
      out_.clear();
      closing_ = true;
    }
    Pump(lock);
  }

  void OnDone() override {
    if (link_) {
      link_->Detach();
      core_.connections.Remove(device_id_, link_.get());
      (void)core_.store->TouchDevice(device_id_, core_.Now());
      core_.device_events.Notify(device_id_);
    }
    delete this;
  }

  void OnCancel() override {}

  void Enqueue(const v1::ServerMessage& msg) {
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) return;
    out_.push_back(msg);
    Pump(lock);
  }

  // `retry_after_ms` > 0: when the device should come back (see DeviceLink).
  void Close(const grpc::Status& status, int64_t retry_after_ms = 0) {
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) return;
    closing_ = true;
    close_status_ = status;
    // Before Finish, which only Pump calls, once closing_ is set (under mu_).
    if (retry_after_ms > 0) ctx_->AddTrailingMetadata(kRetryAfterKey, std::to_string(retry_after_ms));
    // Keep only the message being written: the stream is going away.
    while (out_.size() > (writing_ ? 1u : 0u)) out_.pop_back();
    Pump(lock);
  }

 private:
  class Link final : public DeviceLink {
   public:
    explicit Link(DeviceStream* s) : stream_(s) {}
    void Send(const v1::ServerMessage& msg) override {
      std::lock_guard<std::mutex> lock(mu_);
      if (stream_) stream_->Enqueue(msg);
    }
    void Close(const grpc::Status& status) override {
      std::lock_guard<std::mutex> lock(mu_);
      if (stream_) stream_->Close(status);
    }
    void CloseUntil(const grpc::Status& status, int64_t retry_after_ms) override {
      std::lock_guard<std::mutex> lock(mu_);
      if (stream_) stream_->Close(status, retry_after_ms);
    }
    void Detach() {
      std::lock_guard<std::mutex> lock(mu_);
      stream_ = nullptr;
    }

   private:
    std::mutex mu_;
    DeviceStream* stream_;
  };

  // Called with mu_ held: starts the next write, or finishes once closing and drained.
  // Finish is called after unlocking, since OnDone (which deletes this) may follow at once
  // on another thread.
  void Pump(std::unique_lock<std::mutex>& lock) {
    if (writing_ || finished_) return;
    if (!out_.empty()) {
      writing_ = true;
      StartWrite(&out_.front());
    } else if (closing_) {
      finished_ = true;
      grpc::Status status = close_status_;
      lock.unlock();
      Finish(status);
    }
  }

  // Stores one message and calls `done` once it is durable; the ack follows from there.
  void Handle(const v1::AgentMessage& m, std::function<void(const Status&)> done) {
    for (auto* f : core_.features) {
      if (f->Handles(m.body_case())) {
        f->OnMessageAsync(device_id_, m, std::move(done));
        return;
      }
    }
    done(HandleCore(m));
  }

  Status HandleCore(const v1::AgentMessage& m) {
    int64_t now = core_.Now();
    switch (m.body_case()) {
      case v1::AgentMessage::kHello: {
        if (m.hello().protocol() != v1::PROTOCOL_VERSION_1) {
          return InvalidArgument("unsupported protocol version");
        }
        for (auto* f : core_.features) f->OnHello(device_id_, m.hello());
        return Status::Ok();
      }
      case v1::AgentMessage::kInventory: {
        Status st = core_.store->UpdateInventory(device_id_, m.inventory().SerializeAsString(),
                                                 m.inventory().agent_version());
        if (st.ok()) core_.device_events.Notify(device_id_);  // battery, for the console
        return st;
      }
      case v1::AgentMessage::kForegroundApp: {
        // Live state, kept with the connection (never stored): an app's name, short.
        const std::string& app = m.foreground_app().app();
        if (app.size() > kMaxForegroundAppBytes) {
          return InvalidArgument("foreground app name longer than " +
                                 std::to_string(kMaxForegroundAppBytes) + " bytes");
        }
        if (core_.connections.SetForegroundApp(device_id_, link_.get(), app)) {
          core_.device_events.Notify(device_id_);  // the console's tile
        }
        return Status::Ok();
      }
      case v1::AgentMessage::kHeartbeat:
        if (now - last_touch_ms_ >= kTouchIntervalMs) {
          last_touch_ms_ = now;
          return core_.store->TouchDevice(device_id_, now);
        }
        return Status::Ok();
      default:
        return InvalidArgument("no handler for message kind " + std::to_string(m.body_case()));
    }
  }

  ServerCore& core_;
  grpc::CallbackServerContext* ctx_;  // gRPC's, valid until OnDone
  std::string device_id_;
  std::shared_ptr<Link> link_;
  v1::AgentMessage in_;
  int64_t last_touch_ms_ = 0;

  std::mutex mu_;
  std::deque<v1::ServerMessage> out_;
  bool writing_ = false;
  bool closing_ = false;
  bool finished_ = false;
  grpc::Status close_status_;
};

// Streams one artifact file in chunks; the next chunk is read only when the previous one
// is on the wire, so memory per download stays at one chunk.
class ArtifactWriter final : public grpc::ServerWriteReactor<v1::FetchChunk> {
 public:
  ArtifactWriter(const std::string& path, const v1::FetchRequest& req) {
    chunk_ = req.max_chunk() == 0 ? kDefaultChunk : std::min<uint32_t>(req.max_chunk(), kMaxChunk);
    file_.open(path, std::ios::binary);
    if (!file_) {
      Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no artifact " + req.sha256()));
      return;
    }
    file_.seekg(0, std::ios::end);
    total_ = static_cast<uint64_t>(file_.tellg());
    if (req.offset() > total_) {
      Finish(grpc::Status(grpc::StatusCode::OUT_OF_RANGE, "offset past the end of the artifact"));
      return;
    }
    offset_ = req.offset();
    file_.seekg(static_cast<std::streamoff>(offset_));
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  static constexpr uint32_t kDefaultChunk = 256 * 1024;
  static constexpr uint32_t kMaxChunk = 1024 * 1024;

  void Next() {
    if (offset_ >= total_) {
      Finish(grpc::Status::OK);
      return;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_, total_ - offset_));
    std::string* data = msg_.mutable_data();
    data->resize(n);
    file_.read(data->data(), static_cast<std::streamsize>(n));
    if (static_cast<size_t>(file_.gcount()) != n) {
      Finish(grpc::Status(grpc::StatusCode::DATA_LOSS, "artifact read failed"));
      return;
    }
    msg_.set_offset(offset_);
    msg_.set_total_size(total_);
    offset_ += n;
    StartWrite(&msg_);
  }

  std::ifstream file_;
  uint64_t total_ = 0;
  uint64_t offset_ = 0;
  uint32_t chunk_ = kDefaultChunk;
  v1::FetchChunk msg_;
};

// A device's CSR, bounded and with its self-signature checked (enrolment and renewal).
Result<pki::CsrInfo> CheckCsr(const std::string& csr_pem) {
  if (csr_pem.size() > kMaxCsrBytes) return InvalidArgument("CSR is larger than 16 KiB");
  auto csr = pki::VerifyCsr(csr_pem);
  if (!csr.ok()) return InvalidArgument("CSR refused: " + csr.status().message());
  return csr;
}

// A device certificate for `device_id`'s key, from the device CA.
Result<pki::IssuedCertificate> IssueDeviceCertificate(const ServerCore& core,
                                                      const std::string& public_key_pem,
                                                      const std::string& device_id) {
  pki::IssueRequest issue;
  issue.public_key_pem = public_key_pem;
  issue.common_name = device_id;
  issue.organizational_unit = "device";
  issue.usage = pki::CertUsage::kClient;
  issue.valid_days = kDeviceCertDays;
  return pki::IssueCertificate(core.keys.ca_cert_pem, core.keys.ca_key_pem, issue);
}

bool IsHexSha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string ArtifactPath(const std::string& data_dir, const std::string& sha256) {
  return data_dir + "/artifacts/" + sha256;
}

Status DeviceServiceImpl::DoEnroll(const grpc::CallbackServerContext& ctx,
                                   const v1::EnrollRequest& req, v1::EnrollResponse* resp) {
  PREAU_RETURN_IF_ERROR(CheckEnrollmentTokenFormat(req.token()));
  // The token first: nothing is parsed or signed for a caller without a usable one.
  PREAU_RETURN_IF_ERROR(
      core_.store->CheckEnrollmentToken(HashEnrollmentToken(req.token()), core_.Now()));
  if (req.csr_pem().size() > kMaxCsrBytes) return InvalidArgument("CSR is larger than 16 KiB");
  if (req.requested_name().size() > kMaxNameBytes) return InvalidArgument("device name is longer than 128 bytes");
  PREAU_ASSIGN_OR_RETURN(auto csr, CheckCsr(req.csr_pem()));
  PREAU_ASSIGN_OR_RETURN(auto fingerprint, pki::KeyFingerprint(csr.public_key_pem));

  DeviceRecord d;
  d.id = "d-" + pki::RandomHex(6);
  d.name = !req.requested_name().empty() ? req.requested_name()
           : !req.inventory().hostname().empty() ? req.inventory().hostname() : d.id;
  d.key_fingerprint = fingerprint;
  d.inventory = req.inventory().SerializeAsString();
  d.agent_version = req.inventory().agent_version();

  PREAU_ASSIGN_OR_RETURN(auto cert, IssueDeviceCertificate(core_, csr.public_key_pem, d.id));
  d.cert_serial = cert.serial_hex;
  // The certificate counts only once the device row is durable: a failure here leaves no
  // device behind and the token's use unspent. The audit row commits with the device.
  if (auto* audit = PendingAudit::Current()) audit->entry().set_target(d.id);
  PREAU_ASSIGN_OR_RETURN(auto group, core_.store->EnrollDevice(
                                         HashEnrollmentToken(req.token()), d, core_.Now()));
  resp->set_device_id(d.id);
  resp->set_certificate_pem(cert.certificate_pem);
  resp->set_ca_chain_pem(core_.keys.ca_cert_pem);
  resp->set_policy_signing_key_pem(core_.keys.policy_public_pem);
  resp->set_group(group);
  return Status::Ok();
}

grpc::ServerUnaryReactor* DeviceServiceImpl::Enroll(grpc::CallbackServerContext* ctx,
                                                    const v1::EnrollRequest* req,
                                                    v1::EnrollResponse* resp) {
  // A refusal for the pace changes nothing and costs nothing: no audit row for it.
  if (grpc::Status admitted = core_.enroll_admission->AdmitCall(
          *ctx, "enrolments", pki::Sha256Hex(req->csr_pem()));
      !admitted.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(admitted);
    return r;
  }
  v1::AuditEntry entry;
  entry.set_at_unix_ms(core_.Now());
  entry.set_actor("enrollment");
  entry.set_action("device.enroll");
  entry.set_target(ctx->peer());
  Status st;
  bool audited = false;
  {
    PendingAudit pending(entry);
    const std::string host = PeerHost(ctx->peer());
    if (int64_t wait_ms = enroll_failures_.WaitFor(host, core_.Now()); wait_ms > 0) {
      st = ResourceExhausted("too many failed enrolments from this address: try again in " +
                             std::to_string((wait_ms + 999) / 1000) + " s");
    } else {
      st = DoEnroll(*ctx, *req, resp);
      if (!st.ok()) enroll_failures_.Failed(host, core_.Now());
    }
    audited = pending.written();
  }
  if (!audited) core_.Audit("enrollment", "device.enroll", ctx->peer(), st);
  auto* r = ctx->DefaultReactor();
  r->Finish(ToGrpc(st));
  return r;
}

Status DeviceServiceImpl::DoRenew(const grpc::CallbackServerContext& ctx,
                                  const v1::RenewRequest& req, v1::RenewResponse* resp,
                                  std::string* device_id) {
  PREAU_ASSIGN_OR_RETURN(auto dev, AuthenticateDevice(ctx, *core_.store));
  *device_id = dev.id;
  PREAU_ASSIGN_OR_RETURN(auto csr, CheckCsr(req.csr_pem()));
  PREAU_ASSIGN_OR_RETURN(auto fingerprint, pki::KeyFingerprint(csr.public_key_pem));
  PREAU_ASSIGN_OR_RETURN(auto cert, IssueDeviceCertificate(core_, csr.public_key_pem, dev.id));
  // Pending until the device connects with it: if this answer is lost, the current
  // certificate still works and the device simply renews again.
  PREAU_RETURN_IF_ERROR(core_.store->SetPendingCertificate(dev.id, cert.serial_hex, fingerprint));
  resp->set_certificate_pem(cert.certificate_pem);
  resp->set_ca_chain_pem(core_.keys.ca_cert_pem);
  return Status::Ok();
}

grpc::ServerUnaryReactor* DeviceServiceImpl::Renew(grpc::CallbackServerContext* ctx,
                                                   const v1::RenewRequest* req,
                                                   v1::RenewResponse* resp) {
  std::string device_id;
  Status st = DoRenew(*ctx, *req, resp, &device_id);
  core_.Audit(device_id.empty() ? "peer " + ctx->peer() : "device " + device_id,
              "device.renew", device_id.empty() ? ctx->peer() : device_id, st);
  auto* r = ctx->DefaultReactor();
  r->Finish(ToGrpc(st));
  return r;
}

grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage>* DeviceServiceImpl::Connect(
    grpc::CallbackServerContext* ctx) {
  return new DeviceStream(core_, ctx);
}

grpc::ServerWriteReactor<v1::FetchChunk>* DeviceServiceImpl::Fetch(
    grpc::CallbackServerContext* ctx, const v1::FetchRequest* req) {
  struct Refusal : grpc::ServerWriteReactor<v1::FetchChunk> {
    explicit Refusal(grpc::Status s) { Finish(s); }
    void OnDone() override { delete this; }
  };
  auto dev = AuthenticateDevice(*ctx, *core_.store);
  if (!dev.ok()) return new Refusal(ToGrpc(dev.status()));
  if (!IsHexSha256(req->sha256())) {
    return new Refusal(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "sha256 must be 64 lowercase hex digits"));
  }
  bool entitled = false;
  for (DeviceFeature* f : core_.features) entitled = entitled || f->MayFetch(*dev, req->sha256());
  if (!entitled) {
    return new Refusal(grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        "device " + dev->id + " may not download " + req->sha256() +
            ": it is neither an app assigned to its group nor a filter snapshot"));
  }
  return new ArtifactWriter(ArtifactPath(core_.data_dir, req->sha256()), *req);
}

}  // namespace preau::server
