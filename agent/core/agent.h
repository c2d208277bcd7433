// Agent: one enrolled device's connection to its server. It keeps the identity in the
// state folder, holds one Connect stream open (reconnecting with jittered exponential
// backoff after any loss, server restarts included), says hello, sends its inventory on
// connect and when it changes, heartbeats, and delivers the outbox reliably (a report is
// deleted only after the server's ack). Plugins join through AgentFeature.
//
// An Agent runs on an io_context it is given (through its own strand) and owns no thread,
// so the fleet simulator runs thousands in one process.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <grpcpp/channel.h>

#include "agent/core/agent_feature.h"
#include "agent/core/server_list.h"
#include "agent/core/state_store.h"
#include "agent/platform/platform.h"
#include "common/clock.h"
#include "common/clock_check.h"
#include "common/status.h"
#include "preau/v1/device.grpc.pb.h"

namespace preau::agent {

inline constexpr const char* kAgentVersion = "0.1.0";

struct AgentOptions {
  std::string state_dir;
  // host:port, or replicas host1:port1,host2:port2 (see ServerList); defaults to the
  // server(s) enrolled with. The agent is on one; a lost stream moves it to the next.
  std::string server;
  std::string ca_pem;          // needed for the first enrolment only
  std::string enroll_token;    // needed for the first enrolment only
  std::string name;            // device name asked for at enrolment
  std::chrono::milliseconds heartbeat{60'000};
  std::chrono::milliseconds inventory_check{15 * 60'000};
  std::chrono::milliseconds backoff_min{1'000};
  std::chrono::milliseconds backoff_max{300'000};
  // The least time a connection attempt (TCP and TLS handshake) gets before gRPC gives
  // up on it: a server busy with a whole fleet's handshakes answers late, not never.
  std::chrono::milliseconds connect_timeout{20'000};
  // A connected device whose stream ends tries again at a random moment within this
  // window: after a server restart, the fleet comes back spread over it.
  std::chrono::milliseconds reconnect_spread{10'000};
  size_t outbox_max = 10'000;  // reports kept while offline; the oldest are dropped past it
  // The device certificate is renewed (DeviceService.Renew, a new key) once it has less
  // than this left; checked on every connection and every renew_check.
  std::chrono::hours renew_before{60 * 24};
  std::chrono::milliseconds renew_check{6 * 3'600'000};
  const Clock* clock = nullptr;
};

struct AgentStatus {
  bool connected = false;      // the server acked this connection's hello
  std::string device_id;
  std::string group;
  std::string server;          // the server the agent is on (connected or trying)
  int connections = 0;         // successful connections so far
  Status last_error;           // why the last stream ended / attempt failed
  int64_t outbox_pending = 0;
  std::string last_refusal;    // "<report id>: <why>" for the last report the server refused
  int renewals = 0;            // certificates renewed by this process
  int deferrals = 0;           // connections the server's admission told to come back later
  int64_t certificate_not_after_unix = 0;  // the end of the certificate in use
};

class Agent : private AgentContext {
 public:
  // Opens the state folder and, the first time, enrols (blocking). Refuses a corrupt state.
  static Result<std::unique_ptr<Agent>> Create(boost::asio::io_context& io, AgentOptions opts,
                                               std::unique_ptr<Platform> platform);
  ~Agent() override;

  void AddFeature(std::unique_ptr<AgentFeature> feature);
  // Starts connecting (returns at once).
  void Start();
  // Asks the agent to stop and returns at once; Stop() then waits. A fleet asks every
  // agent first, so that all their stops wait behind the event loop's backlog together
  // rather than one after the other.
  void RequestStop();
  // Closes the stream and cancels timers; blocks until the stream is gone, at most about
  // a minute per step (then it logs what did not finish and returns). Call from a thread
  // other than the io_context's. An agent never started has nothing on its event loop:
  // stopping (or destroying) it returns at once, whether the loop runs or not.
  void Stop();
  // False when Stop gave up while gRPC still held this agent's stream: the agent and its
  // io_context must then be kept (leaked), as gRPC may still call into them.
  bool released() const { return released_; }

  AgentStatus status() const;
  // Whether the server acked this connection's hello: status() without the outbox count,
  // which is a query (a simulator asks this of thousands of agents every second).
  bool connected() const;
  Platform& platform() override { return *platform_; }
  const std::string& device_id() const { return identity_.device_id; }
  // Re-reads the inventory now and sends it if it changed (tests, and platform events).
  void CheckInventory();

 private:
  class Stream;
  Agent(boost::asio::io_context& io, AgentOptions opts, ServerList servers,
        std::unique_ptr<Platform> platform, std::unique_ptr<StateStore> state, Identity id);

  // AgentContext
  StateStore& state() override { return *state_; }
  const Clock& clock() override { return *clock_; }
  Strand& strand() override { return strand_; }
  const Identity& identity() override { return identity_; }
  void SendReliable(v1::AgentMessage msg, const std::string& kind, bool replace_kind) override;
  bool SendLive(v1::AgentMessage msg) override;
  void Resync() override;
  std::shared_ptr<grpc::Channel> channel() override { return channel_; }

  void Connect();
  // After a stream ended: at the server's hint if it gave one, spread over the reconnect
  // window if the device was connected, else with jittered exponential backoff.
  void ScheduleReconnect(int64_t retry_after_ms, bool was_connected);
  void ArmReconnect(std::chrono::milliseconds delay);
  // After a lost stream or a failed attempt: the next server of the list, if there is
  // one (a new channel, so every call follows); none when the server gave a slot.
  void MoveToNextServer();
  void OnServerMessage(uint64_t gen, const v1::ServerMessage& msg);
  void OnStreamDone(uint64_t gen, const grpc::Status& status, int64_t retry_after_ms);
  void SendHello();
  void FlushOutbox();
  // Runs `tick` on the strand every `every` while the agent runs and `tick` returns true.
  void Repeat(boost::asio::steady_timer& timer, std::chrono::milliseconds every,
              std::function<bool()> tick);
  void ArmHeartbeat();
  void ArmInventoryCheck();
  void QueueInventory(bool force);
  void SetError(const Status& st);
  // Renews the certificate if it ends within renew_before (one renewal at a time).
  void MaybeRenew();
  void ArmRenewCheck();
  // Keeps the renewed certificate: saved first, then used for every new connection. The
  // stream open now stays up (it was authenticated once, at its start).
  void AdoptRenewal(const std::string& key_pem, const v1::RenewResponse& resp);
  std::shared_ptr<grpc::Channel> MakeChannel() const;

  boost::asio::io_context& io_;
  Strand strand_;
  AgentOptions opts_;
  const Clock* clock_;
  ServerList servers_;  // touched on the strand once started
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<StateStore> state_;
  Identity identity_;
  std::shared_ptr<grpc::Channel> channel_;  // to servers_.current()
  std::unique_ptr<v1::DeviceService::Stub> stub_;
  std::vector<std::unique_ptr<AgentFeature>> features_;

  // Touched only on the strand.
  Stream* stream_ = nullptr;  // the current Connect call, if any (owned)
  uint64_t gen_ = 0;
  std::string hello_id_;
  int attempt_ = 0;
  std::string connected_to_;  // the server of the last connection
  // The validity of identity_'s certificate and CA, read at the first failed connection.
  std::optional<std::pair<std::optional<CertificateDates>, std::optional<CertificateDates>>>
      identity_dates_;
  bool stopping_ = false;
  std::set<std::string> inflight_;
  std::string last_inventory_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer heartbeat_timer_;
  boost::asio::steady_timer inventory_timer_;
  boost::asio::steady_timer renew_timer_;
  bool renewing_ = false;
  std::minstd_rand rng_;
  uint64_t next_msg_ = 0;
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  // Set by RequestStop: the stream being cancelled (null if none), once the loop ran it.
  std::shared_future<Stream*> stop_requested_;
  bool released_ = true;
  // Set by Start (on the owner's thread, as Stop is called): until then nothing of this
  // agent is on the event loop, which may not even run yet (a fleet whose enrolment
  // failed half-way destroys the agents it made before starting its loop).
  std::atomic<bool> started_{false};

  mutable std::mutex status_mu_;
  AgentStatus status_;
};

}  // namespace preau::agent
