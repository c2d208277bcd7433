#include "agent/core/agent.h"

#include <cstdio>
#include <deque>
#include <future>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "agent/core/enroller.h"
#include "common/clock_check.h"
#include "common/grpc_credentials.h"
#include "common/grpc_status.h"
#include "common/retry_after.h"
#include "common/pki.h"

namespace preau::agent {

namespace asio = boost::asio;

// The client side of one Connect call. gRPC calls it on its own threads; it forwards
// everything to the agent's strand. The agent deletes it on its strand, once OnDone has
// finished with it (done_). The agent writes from its strand at any time, so the stream
// holds the call open (AddHold) until its read side has ended and no write can start any
// more: a StartWrite after gRPC has finished the call would touch freed call state.
class Agent::Stream final : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ServerMessage> {
 public:
  Stream(Agent* agent, uint64_t gen) : agent_(agent), gen_(gen), alive_(agent->alive_) {}

  void Begin(v1::DeviceService::Stub* stub) {
    stub->async()->Connect(&ctx_, this);
    AddHold();  // removed once writes are closed (OnReadDone(false))
    StartRead(&in_);
    StartCall();
  }

  bool Write(const v1::AgentMessage& m) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    out_.push_back(m);
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
    return true;
  }

  void Cancel() { ctx_.TryCancel(); }

  // Whether the stream ended within `timeout`.
  bool WaitDone(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return done_; });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    out_.pop_front();
    writing_ = false;
    if (!ok || closed_) {
      out_.clear();
      return;
    }
    if (!out_.empty()) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The stream is ending (OnDone follows with the reason): no write starts from now
      // on, so the call may finish once the one in flight, if any, is done.
      {
        std::lock_guard<std::mutex> lock(mu_);
        closed_ = true;
      }
      RemoveHold();
      return;
    }
    Post([msg = in_](Agent* a, uint64_t gen) { a->OnServerMessage(gen, msg); });
    StartRead(&in_);
  }

  void OnDone(const grpc::Status& s) override {
    // A server admitting devices at its pace, or going away for a restart, says when to
    // come back.
    int64_t retry_after_ms = 0;
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
        s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      retry_after_ms = RetryAfterMs(ctx_.GetServerTrailingMetadata());
    }
    // The handler is posted BEFORE done_ is set: Agent::Stop returns once done_ is set,
    // and its owner may then destroy the event loop; a post after that would reach a
    // destroyed io_context. The handler waits for done_ before it deletes this stream,
    // and nothing here touches `this` once done_ is set.
    Post([s, retry_after_ms](Agent* a, uint64_t gen) { a->OnStreamDone(gen, s, retry_after_ms); });
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

 private:
  template <typename Fn>
  void Post(Fn fn) {
    std::weak_ptr<std::atomic<bool>> alive = alive_;
    Agent* agent = agent_;
    uint64_t gen = gen_;
    asio::post(agent_->strand_, [alive, agent, gen, fn = std::move(fn)] {
      auto a = alive.lock();
      if (a && *a) fn(agent, gen);
    });
  }

  Agent* agent_;
  uint64_t gen_;
  std::shared_ptr<std::atomic<bool>> alive_;
  grpc::ClientContext ctx_;
  v1::ServerMessage in_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::AgentMessage> out_;
  bool writing_ = false;
  bool closed_ = false;  // the read side ended: no more StartWrite
  bool done_ = false;
};

Result<std::unique_ptr<Agent>> Agent::Create(asio::io_context& io, AgentOptions opts,
                                             std::unique_ptr<Platform> platform) {
  // A bad list is refused before anything is enrolled or opened.
  if (!opts.server.empty()) PREAU_RETURN_IF_ERROR(ServerList::Parse(opts.server).status());
  PREAU_ASSIGN_OR_RETURN(auto state, StateStore::Open(opts.state_dir));
  PREAU_ASSIGN_OR_RETURN(auto existing, state->LoadIdentity());
  Identity id;
  if (existing) {
    id = *existing;
    // An identity that does not hold together is a corrupt state, not a reason to guess.
    Status ok = pki::CheckKeyMatchesCertificate(id.private_key_pem, id.certificate_pem);
    if (!ok.ok()) {
      return DataLoss("state folder " + opts.state_dir + " holds a broken identity (" +
                      ok.message() + "); move it away and enrol again with a new token");
    }
  } else {
    EnrollRequestOptions e;
    e.server = opts.server;
    e.ca_pem = opts.ca_pem;
    e.token = opts.enroll_token;
    e.name = opts.name;
    e.inventory = platform->CollectInventory();
    e.inventory.set_agent_version(kAgentVersion);
    PREAU_ASSIGN_OR_RETURN(id, Enroll(e));
    PREAU_RETURN_IF_ERROR(state->SaveIdentity(id).Context("saving the new identity"));
  }
  if (opts.server.empty()) opts.server = id.server;
  auto servers = ServerList::Parse(opts.server);
  if (!servers.ok()) {
    return servers.status().Context("the server(s) this device enrolled with (give --server)");
  }
  return std::unique_ptr<Agent>(new Agent(io, std::move(opts), std::move(servers).value(),
                                          std::move(platform), std::move(state), std::move(id)));
}

Agent::Agent(asio::io_context& io, AgentOptions opts, ServerList servers,
             std::unique_ptr<Platform> platform, std::unique_ptr<StateStore> state, Identity id)
    : io_(io),
      strand_(asio::make_strand(io)),
      opts_(std::move(opts)),
      clock_(opts_.clock ? opts_.clock : &Clock::System()),
      servers_(std::move(servers)),
      platform_(std::move(platform)),
      state_(std::move(state)),
      identity_(std::move(id)),
      reconnect_timer_(io),
      heartbeat_timer_(io),
      inventory_timer_(io),
      renew_timer_(io),
      rng_(std::random_device{}()) {
  channel_ = MakeChannel();
  stub_ = v1::DeviceService::NewStub(channel_);
  status_.device_id = identity_.device_id;
  status_.group = identity_.group;
  status_.server = servers_.current();
  if (auto cert = pki::ParseCertificate(identity_.certificate_pem); cert.ok()) {
    status_.certificate_not_after_unix = cert->not_after_unix;
  }
}

std::shared_ptr<grpc::Channel> Agent::MakeChannel() const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per simulated device
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 60'000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(opts_.backoff_min.count()));
  // gRPC also takes its minimum reconnect backoff as the least time a connection attempt
  // (TCP + TLS handshake) is given: at 1 s, a handshake queued behind a busy server's
  // others was dropped and started again, about ten times per device after a restart.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(opts_.connect_timeout.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(opts_.backoff_max.count()));
  // The server's certificate is checked against the host name of this entry.
  return grpc::CreateCustomChannel(
      servers_.ChannelTarget(),
      preau::MtlsCredentials(identity_.ca_pem, identity_.certificate_pem,
                             identity_.private_key_pem),
      args);
}

void Agent::Repeat(asio::steady_timer& timer, std::chrono::milliseconds every,
                   std::function<bool()> tick) {
  timer.expires_after(every);
  timer.async_wait(asio::bind_executor(
      strand_, [this, &timer, every, tick = std::move(tick),
                alive = std::weak_ptr<std::atomic<bool>>(alive_)](boost::system::error_code ec) {
        // A timer that expired as the agent stopped still delivers its handler: the guard
        // keeps it off a stopped (or deleted) agent.
        auto a = alive.lock();
        if (ec || !a || !*a || stopping_) return;
        if (tick()) Repeat(timer, every, tick);
      }));
}

void Agent::ArmRenewCheck() {
  Repeat(renew_timer_, opts_.renew_check, [this] {
    MaybeRenew();
    return true;
  });
}

void Agent::MaybeRenew() {
  if (renewing_ || stopping_) return;
  auto cert = pki::ParseCertificate(identity_.certificate_pem);
  if (!cert.ok()) return;
  int64_t left_s = cert->not_after_unix - clock_->NowUnixMs() / 1000;
  if (left_s > std::chrono::duration_cast<std::chrono::seconds>(opts_.renew_before).count()) {
    return;
  }
  auto key = pki::GenerateKey();
  if (!key.ok()) return SetError(key.status());
  auto csr = pki::CreateCsr(key->private_key_pem, identity_.device_id);
  if (!csr.ok()) return SetError(csr.status());
  renewing_ = true;
  struct Call {
    grpc::ClientContext ctx;
    v1::RenewRequest req;
    v1::RenewResponse resp;
    std::string key_pem;
  };
  auto call = std::make_shared<Call>();
  call->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  call->req.set_csr_pem(*csr);
  call->key_pem = key->private_key_pem;
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  // The strand is copied: the answer may come after the agent stopped.
  stub_->async()->Renew(&call->ctx, &call->req, &call->resp,
                        [this, call, alive, strand = strand_](grpc::Status st) {
    asio::post(strand, [this, call, alive, st] {
      auto a = alive.lock();
      if (!a || !*a) return;
      renewing_ = false;
      if (!st.ok()) {
        // The current certificate still works: the next check tries again.
        std::fprintf(stderr, "preau-agent: certificate renewal failed: %s\n",
                     st.error_message().c_str());
        return;
      }
      AdoptRenewal(call->key_pem, call->resp);
    });
  });
}

void Agent::AdoptRenewal(const std::string& key_pem, const v1::RenewResponse& resp) {
  Identity next = identity_;
  next.private_key_pem = key_pem;
  next.certificate_pem = resp.certificate_pem();
  if (!resp.ca_chain_pem().empty()) next.ca_pem = resp.ca_chain_pem();
  auto cert = pki::ParseCertificate(next.certificate_pem);
  Status ok = pki::CheckKeyMatchesCertificate(next.private_key_pem, next.certificate_pem);
  if (ok.ok() && (!cert.ok() || cert->common_name != identity_.device_id)) {
    ok = InvalidArgument("the renewed certificate is not this device's");
  }
  if (ok.ok()) ok = state_->SaveIdentity(next);
  if (!ok.ok()) {
    std::fprintf(stderr, "preau-agent: renewed certificate not kept: %s\n", ok.message().c_str());
    return;
  }
  identity_ = std::move(next);
  identity_dates_.reset();
  // New connections use the new identity; the stream open now keeps the old channel
  // (its call holds it) and runs on undisturbed.
  channel_ = MakeChannel();
  stub_ = v1::DeviceService::NewStub(channel_);
  std::fprintf(stderr, "preau-agent: certificate renewed (serial %s)\n",
               cert->serial_hex.c_str());
  std::lock_guard<std::mutex> lock(status_mu_);
  ++status_.renewals;
  status_.certificate_not_after_unix = cert->not_after_unix;
}

Agent::~Agent() {
  if (alive_->load()) Stop();
}

void Agent::AddFeature(std::unique_ptr<AgentFeature> feature) {
  features_.push_back(std::move(feature));
}

void Agent::Start() {
  started_ = true;
  asio::post(strand_, [this] {
    for (auto& f : features_) f->Start(*this);
    ArmInventoryCheck();
    ArmRenewCheck();
    Connect();
  });
}

void Agent::RequestStop() {
  if (!alive_->load() || stop_requested_.valid()) return;
  if (!started_) {
    // Nothing of it is on the loop: no stream, no timer armed, no feature started.
    alive_->store(false);
    return;
  }
  auto cancelled = std::make_shared<std::promise<Stream*>>();
  stop_requested_ = cancelled->get_future().share();
  asio::post(strand_, [this, cancelled] {
    stopping_ = true;
    reconnect_timer_.cancel();
    heartbeat_timer_.cancel();
    inventory_timer_.cancel();
    renew_timer_.cancel();
    for (auto& f : features_) f->Stop();
    if (stream_) stream_->Cancel();
    cancelled->set_value(stream_);
  });
}

void Agent::Stop() {
  if (!alive_->load()) return;
  // Every wait here has a deadline: a stop that cannot finish says so and returns,
  // rather than hanging the process that asked. The promises are shared with the posted
  // handlers, which may still run after a wait gave up. A loop busy with thousands of
  // devices' connections can take a while to reach the stop: it is given a minute.
  constexpr auto kStopDeadline = std::chrono::seconds(60);
  RequestStop();
  if (!stop_requested_.valid()) return;  // never started: nothing to wait for
  if (stop_requested_.wait_for(kStopDeadline) != std::future_status::ready) {
    std::fprintf(stderr, "preau-agent: stop: the event loop did not run the stop within 60 s "
                         "(is it running?); giving up\n");
    alive_->store(false);
    released_ = false;  // its stream, if any, may still be gRPC's
    return;
  }
  if (Stream* s = stop_requested_.get(); s && !s->WaitDone(kStopDeadline)) {
    // gRPC still owns the stream: leaking it is the only safe thing left to do.
    std::fprintf(stderr, "preau-agent: stop: the stream did not end within 60 s of its "
                         "cancellation; leaving it\n");
    alive_->store(false);
    released_ = false;
    return;
  }
  // The stream's own OnDone handler may run before or after this; once alive_ is false it
  // does nothing, and while stopping_ it never drops the stream itself.
  auto finished = std::make_shared<std::promise<void>>();
  auto finished_f = finished->get_future();
  asio::post(strand_, [this, finished] {
    delete stream_;
    stream_ = nullptr;
    alive_->store(false);
    finished->set_value();
  });
  if (finished_f.wait_for(kStopDeadline) != std::future_status::ready) {
    std::fprintf(stderr, "preau-agent: stop: the event loop stopped before the stream was "
                         "released\n");
    alive_->store(false);
  }
  std::lock_guard<std::mutex> lock(status_mu_);
  status_.connected = false;
}

bool Agent::connected() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  return status_.connected;
}

AgentStatus Agent::status() const {
  std::lock_guard<std::mutex> lock(status_mu_);
  AgentStatus s = status_;
  auto pending = state_->PendingCount();
  s.outbox_pending = pending.ok() ? *pending : -1;
  return s;
}

void Agent::SetError(const Status& st) {
  std::lock_guard<std::mutex> lock(status_mu_);
  status_.last_error = st;
}

void Agent::Connect() {
  if (stopping_) return;
  ++gen_;
  stream_ = new Stream(this, gen_);
  stream_->Begin(stub_.get());
  SendHello();
}

void Agent::SendHello() {
  v1::AgentMessage m;
  hello_id_ = "hello-" + pki::RandomHex(8);
  m.set_id(hello_id_);
  auto* h = m.mutable_hello();
  h->set_protocol(v1::PROTOCOL_VERSION_1);
  h->set_agent_version(kAgentVersion);
  for (auto& f : features_) f->FillHello(h);
  if (stream_) stream_->Write(m);
}

void Agent::Resync() {
  if (stream_) SendHello();
}

void Agent::ScheduleReconnect(int64_t retry_after_ms, bool was_connected) {
  if (stopping_) return;
  using std::chrono::milliseconds;
  if (retry_after_ms > 0) {
    // Admission control: the server gave this device a slot. Come back then, a little
    // later at random (never earlier), without counting it as a failure.
    std::uniform_int_distribution<int64_t> late(0, std::min<int64_t>(retry_after_ms / 4 + 200, 5'000));
    ArmReconnect(milliseconds(retry_after_ms + late(rng_)));
    return;
  }
  if (was_connected) {
    // The stream of a connected device ended: the server went away, and with it every
    // device at the same moment. Spread the first try over the reconnect window so that a
    // whole fleet does not come back within the same second.
    int64_t window = std::min(opts_.reconnect_spread.count(), opts_.backoff_max.count());
    std::uniform_int_distribution<int64_t> spread(opts_.backoff_min.count() / 4,
                                                  std::max(opts_.backoff_min.count() / 4, window));
    ArmReconnect(milliseconds(spread(rng_)));
    return;
  }
  int64_t min = opts_.backoff_min.count(), max = opts_.backoff_max.count();
  int64_t delay = min << std::min(attempt_, 20);
  if (delay > max || delay <= 0) delay = max;
  Status last;
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    last = status_.last_error;
  }
  // A retired or unknown device will not be let in by retrying fast.
  // (A copy refused as a clone, ALREADY_EXISTS, backs off as usual: the same refusal
  // also meets an agent restarting before the server saw its old stream end.)
  if (last.code() == Code::kPermissionDenied || last.code() == Code::kUnauthenticated) delay = max;
  // Full jitter over the upper half, so a fleet that lost its server does not return at once.
  std::uniform_int_distribution<int64_t> jitter(delay / 2, delay);
  ++attempt_;
  ArmReconnect(milliseconds(jitter(rng_)));
}

void Agent::ArmReconnect(std::chrono::milliseconds delay) {
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait(asio::bind_executor(
      strand_, [this, alive = std::weak_ptr<std::atomic<bool>>(alive_)](boost::system::error_code ec) {
        auto a = alive.lock();
        if (!ec && a && *a) Connect();
      }));
}

void Agent::OnStreamDone(uint64_t gen, const grpc::Status& s, int64_t retry_after_ms) {
  if (gen != gen_ || stopping_) return;
  // A server going away gives each device its moment to come back to it; with other
  // servers on the list, the device goes to the next one at once instead.
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE && servers_.size() > 1) retry_after_ms = 0;
  bool was_connected;
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    was_connected = status_.connected;
    if (retry_after_ms > 0) ++status_.deferrals;
  }
  // Posted by OnDone just before it lets go of the stream: wait for that (microseconds).
  if (!stream_->WaitDone(std::chrono::seconds(10))) {
    std::fprintf(stderr, "preau-agent: a finished stream did not let go within 10 s; leaving it\n");
  } else {
    delete stream_;
  }
  stream_ = nullptr;
  inflight_.clear();
  heartbeat_timer_.cancel();
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    status_.connected = false;
    status_.last_error = s.ok() ? Unavailable("the server closed the stream") : FromGrpc(s);
    // A handshake refused because of the clock looks like a network fault: say which.
    if (!s.ok()) {
      if (!identity_dates_) {
        identity_dates_ = {ReadCertificateDates(identity_.certificate_pem),
                           ReadCertificateDates(identity_.ca_pem)};
      }
      if (auto why = ClockProblem(clock_->NowUnixMs(), identity_dates_->first,
                                  identity_dates_->second, "this device's certificate")) {
        status_.last_error = Status(status_.last_error.code(),
                                    "cannot connect to the server: " + *why + " (" +
                                        s.error_message() + ")");
        std::fprintf(stderr, "preau-agent: %s\n", status_.last_error.message().c_str());
      }
    }
  }
  // The server's words for a retired device (server/pki/peer.cc).
  if (s.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
      s.error_message().find(" was retired") != std::string::npos) {
    for (auto& f : features_) f->OnRetired();
  }
  // A server that gave this device a slot is the one to come back to; otherwise the next
  // try goes to the next server of the list (a replica that died, or never answered).
  if (retry_after_ms == 0) MoveToNextServer();
  ScheduleReconnect(retry_after_ms, was_connected && s.error_code() != grpc::StatusCode::PERMISSION_DENIED);
}

void Agent::MoveToNextServer() {
  if (!servers_.Advance()) return;
  channel_ = MakeChannel();
  stub_ = v1::DeviceService::NewStub(channel_);
  std::lock_guard<std::mutex> lock(status_mu_);
  status_.server = servers_.current();
}

void Agent::OnServerMessage(uint64_t gen, const v1::ServerMessage& msg) {
  if (gen != gen_ || stopping_) return;
  if (msg.has_ack()) {
    const std::string& id = msg.ack().id();
    const std::string& refused = msg.ack().refused();
    if (!refused.empty()) {
      // Refused for what it holds: resending cannot help, so it leaves the outbox (below).
      std::fprintf(stderr, "preau-agent: the server refused %s: %s\n", id.c_str(),
                   refused.c_str());
      std::lock_guard<std::mutex> lock(status_mu_);
      status_.last_refusal = id + ": " + refused;
      if (id == hello_id_) status_.last_error = FailedPrecondition("hello refused: " + refused);
    }
    if (id == hello_id_ && !refused.empty()) return;
    if (id == hello_id_) {
      bool newly_connected = false;
      {
        std::lock_guard<std::mutex> lock(status_mu_);
        newly_connected = !status_.connected;
        status_.connected = true;
        status_.last_error = Status::Ok();
        if (newly_connected) ++status_.connections;
      }
      if (newly_connected) {
        // Said when the device changed server (not at first: a fleet would say it 10^4 times).
        if (!connected_to_.empty() && connected_to_ != servers_.current()) {
          std::fprintf(stderr, "preau-agent: now on server %s (was on %s)\n",
                       servers_.current().c_str(), connected_to_.c_str());
        }
        connected_to_ = servers_.current();
        attempt_ = 0;
        QueueInventory(/*force=*/true);
        FlushOutbox();
        ArmHeartbeat();
        MaybeRenew();
        for (auto& f : features_) f->OnConnected();
      }
      return;
    }
    Status st = state_->Acked(id);
    if (!st.ok()) std::fprintf(stderr, "preau-agent: %s\n", st.message().c_str());
    inflight_.erase(id);
    if (inflight_.empty()) FlushOutbox();
    return;
  }
  for (auto& f : features_) {
    if (f->OnServerMessage(msg)) return;
  }
}

void Agent::SendReliable(v1::AgentMessage msg, const std::string& kind, bool replace_kind) {
  if (msg.id().empty()) msg.set_id(kind + "-" + pki::RandomHex(8));
  OutboxItem item;
  item.id = msg.id();
  item.kind = kind;
  item.body = msg.SerializeAsString();
  Status st = state_->Enqueue(item, replace_kind, opts_.outbox_max);
  if (!st.ok()) {
    // A full disk: the report is lost only if it cannot be kept; say so loudly.
    std::fprintf(stderr, "preau-agent: cannot queue %s report: %s\n", kind.c_str(), st.message().c_str());
    SetError(st);
    return;
  }
  bool connected;
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    connected = status_.connected;
  }
  if (connected && stream_ && inflight_.insert(item.id).second) stream_->Write(msg);
}

bool Agent::SendLive(v1::AgentMessage msg) {
  {
    std::lock_guard<std::mutex> lock(status_mu_);
    if (!status_.connected) return false;
  }
  if (!stream_) return false;
  stream_->Write(msg);
  return true;
}

void Agent::FlushOutbox() {
  if (!stream_) return;
  constexpr size_t kBatch = 256;
  auto pending = state_->Pending(kBatch);
  if (!pending.ok()) {
    SetError(pending.status());
    return;
  }
  for (const auto& item : *pending) {
    if (!inflight_.insert(item.id).second) continue;
    v1::AgentMessage m;
    if (!m.ParseFromString(item.body)) {
      // Never block the queue on one bad entry.
      (void)state_->Acked(item.id);
      inflight_.erase(item.id);
      continue;
    }
    stream_->Write(m);
  }
}

void Agent::ArmHeartbeat() {
  Repeat(heartbeat_timer_, opts_.heartbeat, [this] {
    if (!stream_) return false;  // re-armed on the next connection
    v1::AgentMessage m;
    m.mutable_heartbeat()->set_sent_unix_ms(clock_->NowUnixMs());
    stream_->Write(m);
    return true;
  });
}

void Agent::ArmInventoryCheck() {
  Repeat(inventory_timer_, opts_.inventory_check, [this] {
    QueueInventory(/*force=*/false);
    return true;
  });
}

void Agent::CheckInventory() {
  asio::post(strand_, [this] { QueueInventory(/*force=*/false); });
}

void Agent::QueueInventory(bool force) {
  v1::AgentMessage m;
  *m.mutable_inventory() = platform_->CollectInventory();
  m.mutable_inventory()->set_agent_version(kAgentVersion);
  std::string bytes = m.inventory().SerializeAsString();
  if (!force && bytes == last_inventory_) return;
  last_inventory_ = bytes;
  SendReliable(std::move(m), "inventory", /*replace_kind=*/true);
}

}  // namespace preau::agent
