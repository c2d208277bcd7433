// An agent given several servers (replicas of one Préau service) moves to another when
// the one it is on dies, and nothing it reported is lost. Two real `preau-server run`
// processes on ONE store — one data folder's SQLite file (WAL), or, when the suite runs on
// PostgreSQL (PREAU_TEST_STORE=postgresql), one PostgreSQL database — so a device enrolled
// through one is known to the other; a real agent in-process with real mTLS to both.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "agent/core/enroller.h"
#include "agent/core/server_list.h"
#include "agent/core/standard_features.h"
#include "common/files.h"
#include "tests/support/harness.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/server_process.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGroup = "replicas/cm2";

// An agent on its own event loop, made with `opts` (not started by the harness, which
// knows one in-process server only).
class LoopAgent {
 public:
  explicit LoopAgent(agent::AgentOptions opts) {
    auto a = agent::Agent::Create(io_, opts, agent::MakeSimPlatform(7));
    if (!a.ok()) {
      error_ = a.status();
      return;
    }
    agent_ = std::move(a).value();
    agent::FeatureOptions features;
    features.state_dir = opts.state_dir;
    agent::AddStandardFeatures(*agent_, features);
    thread_ = std::thread([this] { io_.run(); });
    agent_->Start();
  }
  ~LoopAgent() {
    if (agent_) agent_->Stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  const Status& error() const { return error_; }
  agent::Agent& agent() { return *agent_; }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_ =
      std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          io_.get_executor());
  std::thread thread_;
  Status error_;
  std::unique_ptr<agent::Agent> agent_;
};

std::unique_ptr<v1::AdminService::Stub> Admin(const std::string& data, int port) {
  return v1::AdminService::NewStub(OperatorChannel(data + "/admin.credentials", port));
}

std::optional<v1::Device> GetDevice(v1::AdminService::Stub& admin, const std::string& id) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::GetDeviceRequest req;
  req.set_id(id);
  v1::Device d;
  if (!admin.GetDevice(&ctx, req, &d).ok()) return std::nullopt;
  return d;
}

bool HasApp(const v1::Device& d, const std::string& app_id) {
  for (const auto& app : d.inventory().apps()) {
    if (app.id() == app_id) return true;
  }
  return false;
}

// Two `preau-server run` processes, A and B, on one store (see the top), with a group.
class Replicas {
 public:
  Replicas() {
    std::vector<std::string> init_args = {"init", "--data", data};
    if (TestStoreIsPostgres()) {
      init_args.push_back("--store");
      init_args.push_back(FreshStoreLocation(""));
    }
    auto init = RunBinary("preau-server", init_args);
    EXPECT_EQ(init.exit_code, 0) << init.err;
    a = std::make_unique<ServerProcess>(data, dir / "a.port", dir / "a.log");
    b = std::make_unique<ServerProcess>(data, dir / "b.port", dir / "b.log");
    EXPECT_GT(a->WaitPort(20s), 0) << a->Log();
    EXPECT_GT(b->WaitPort(20s), 0) << b->Log();
    admin_a = Admin(data, a->port());
    admin_b = Admin(data, b->port());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::CreateGroupRequest req;
    req.set_path(kGroup);
    v1::Group g;
    auto st = admin_a->CreateGroup(&ctx, req, &g);
    EXPECT_TRUE(st.ok()) << st.error_message();
  }
  bool ok() const { return a->port() > 0 && b->port() > 0 && !::testing::Test::HasFailure(); }
  // A token made through A, for `uses` devices.
  std::string Token(uint32_t uses) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::CreateTokenRequest req;
    req.set_group(kGroup);
    req.set_uses(uses);
    req.set_ttl_seconds(600);
    v1::CreateTokenResponse resp;
    auto st = admin_a->CreateToken(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.token();
  }
  std::string list() const { return a->address() + "," + b->address(); }

  TempDir dir;
  std::string data = dir / "server";
  std::unique_ptr<ServerProcess> a, b;
  std::unique_ptr<v1::AdminService::Stub> admin_a, admin_b;
};

// Connected to A; A freezes (SIGSTOP), so a report written to it is never acked; A is
// killed (-9). The agent moves to B, sends B the unacked report again, and works on with
// B: B has the report in the shared store and shows the device online.
TEST(AgentFailoverTest, AReplicaKilledItsDeviceMovesToTheOtherWithItsReports) {
  Replicas r;
  ASSERT_TRUE(r.ok());
  ServerProcess& a = *r.a;
  ServerProcess& b = *r.b;
  auto& admin_a = r.admin_a;
  auto& admin_b = r.admin_b;
  TempDir dir;
  std::string token = r.Token(1);

  auto opts = FastAgentOptions(dir / "device", a.address() + "," + b.address());
  auto ca = ReadFile(r.data + "/ca.pem");
  ASSERT_TRUE(ca.ok());
  opts.ca_pem = *ca;
  opts.enroll_token = token;
  LoopAgent device(opts);
  ASSERT_TRUE(device.error().ok()) << device.error().message();
  agent::Agent& agent = device.agent();
  ASSERT_TRUE(WaitUntil([&] { return agent.status().connected; }, 20s))
      << agent.status().last_error.message() << "\n" << a.Log();
  EXPECT_EQ(agent.status().server, a.address());
  const std::string id = agent.device_id();
  // Enrolled through A, known to B: one store.
  ASSERT_TRUE(WaitUntil([&] {
    auto d = GetDevice(*admin_b, id);
    return d && d->group() == kGroup;
  }, 10s)) << b.Log();
  ASSERT_TRUE(WaitUntil([&] {
    auto d = GetDevice(*admin_a, id);
    return d && d->online();
  }, 10s));
  // Nothing left to send before the freeze.
  ASSERT_TRUE(WaitUntil([&] { return agent.status().outbox_pending == 0; }, 10s));

  // A freezes: its connection stays open and nothing on it is answered.
  a.Signal(SIGSTOP);
  ASSERT_TRUE(agent.platform().InstallApp("fr.ac.failover.atlas", "2.1", "").ok());
  agent.CheckInventory();  // the inventory report goes to A, and is never acked
  ASSERT_TRUE(WaitUntil([&] { return agent.status().outbox_pending >= 1; }, 10s));
  EXPECT_TRUE(agent.status().connected);  // still on the frozen A
  a.Kill();

  // On B within the deadline, the unacked report sent again and acked there.
  ASSERT_TRUE(WaitUntil([&] {
    auto s = agent.status();
    return s.connected && s.server == b.address();
  }, 45s)) << agent.status().last_error.message() << "\n" << b.Log();
  EXPECT_GE(agent.status().connections, 2);
  ASSERT_TRUE(WaitUntil([&] {
    auto d = GetDevice(*admin_b, id);
    return d && HasApp(*d, "fr.ac.failover.atlas");
  }, 20s)) << "the report made on A's watch never reached the store through B";
  EXPECT_TRUE(WaitUntil([&] { return agent.status().outbox_pending == 0; }, 10s));

  // And it keeps working on B: online there, and a new report reaches the store.
  auto d = GetDevice(*admin_b, id);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->online());
  ASSERT_TRUE(agent.platform().RemoveApp("fr.ac.failover.atlas").ok());
  agent.CheckInventory();
  EXPECT_TRUE(WaitUntil([&] {
    auto d = GetDevice(*admin_b, id);
    return d && !HasApp(*d, "fr.ac.failover.atlas");
  }, 20s));
  EXPECT_EQ(agent.status().server, b.address());
}

// preau-sim given both replicas spreads its fleet over them (device i starts on entry
// i mod 2: each server holds connections), and when A is killed every device gathers on B.
TEST(AgentFailoverTest, ASimulatedFleetSpreadsOverTheReplicasAndGathersOnTheSurvivor) {
  Replicas r;
  ASSERT_TRUE(r.ok());
  constexpr size_t kDevices = 10;
  size_t a_before = r.a->OpenSockets(), b_before = r.b->OpenSockets();
  std::string status = r.dir / "sim.status";
  ChildProcess sim({std::string(PREAU_BINARY_DIR) + "/preau-sim", "--server", r.list(), "--ca",
                    r.data + "/ca.pem", "--enroll", r.Token(kDevices), "--count",
                    std::to_string(kDevices), "--threads", "1", "--status-file", status},
                   r.dir / "sim.log");
  auto all_connected = [&] {
    auto text = ReadFile(status);
    return text.ok() && *text == "10 10\n";
  };
  ASSERT_TRUE(WaitUntil(all_connected, 60s)) << sim.Log();
  // Each server holds its half (sockets beyond those it had: the devices' connections).
  EXPECT_TRUE(WaitUntil([&] {
    return r.a->OpenSockets() >= a_before + kDevices / 2 &&
           r.b->OpenSockets() >= b_before + kDevices / 2;
  }, 10s)) << "A holds " << r.a->OpenSockets() - a_before << ", B holds "
           << r.b->OpenSockets() - b_before;

  r.a->Kill();
  // Every device on B: B holds a connection for each, and the fleet says all connected.
  ASSERT_TRUE(WaitUntil([&] { return r.b->OpenSockets() >= b_before + kDevices; }, 60s))
      << "B holds " << r.b->OpenSockets() - b_before << "\n" << sim.Log();
  EXPECT_TRUE(WaitUntil(all_connected, 30s)) << sim.Log();
  sim.Signal(SIGTERM);
  EXPECT_EQ(sim.Wait(60s), std::optional<int>(0)) << sim.Log();
  EXPECT_EQ(sim.Log().find("giving up"), std::string::npos) << sim.Log();
}

// The list, with the first server down from the start: enrolment and the stream go to
// the second.
TEST(AgentFailoverTest, TheFirstServerDownTheAgentEnrolsAndConnectsThroughTheNext) {
  TempDir dir;
  TestServer server(dir.path());
  server.CreateGroup(kGroup);
  // A port that refuses connections: bound (so no other test takes it), not listening.
  int hold = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(hold, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(hold, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(hold, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string dead = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto opts = FastAgentOptions(dir / "device", dead + "," + server.address());
  opts.ca_pem = server.ca_pem();
  opts.enroll_token = server.CreateToken(kGroup, 1);
  LoopAgent device(opts);
  ASSERT_TRUE(device.error().ok()) << device.error().message();
  ASSERT_TRUE(WaitUntil([&] { return device.agent().status().connected; }, 20s))
      << device.agent().status().last_error.message();
  EXPECT_EQ(device.agent().status().server, server.address());
  EXPECT_EQ(server.Devices(kGroup).size(), 1u);
  close(hold);
}

// The only server down when enrolment starts, up again a moment later: the enroller tries
// again (a few rounds, later each time) instead of giving the device up on its first
// refused connection, as a server busy with a school's handshakes may close one.
TEST(AgentFailoverTest, AnEnrolmentThatFindsTheServerDownTriesAgainAMomentLater) {
  TempDir dir;
  TestServer server(dir.path());
  server.CreateGroup(kGroup);
  agent::EnrollRequestOptions e;
  e.server = server.address();
  e.ca_pem = server.ca_pem();
  e.token = server.CreateToken(kGroup, 1);
  e.name = "patient";
  server.Stop();
  std::optional<Result<agent::Identity>> enrolled;
  std::thread enrolling([&] { enrolled = agent::Enroll(e); });
  server.Restart();  // same port: its first attempt was refused
  enrolling.join();
  ASSERT_TRUE(enrolled.has_value());
  ASSERT_TRUE(enrolled->ok()) << enrolled->status().message();
  EXPECT_FALSE((*enrolled)->device_id.empty());
  EXPECT_EQ(server.Devices(kGroup).size(), 1u);
}

// Addresses written as numbers go to gRPC's address resolver (no DNS polling while the
// server is away), names to its DNS resolver; the list itself keeps what was given.
TEST(AgentFailoverTest, NumericAddressesSkipTheDnsResolver) {
  auto list = agent::ServerList::Parse("10.0.0.5:7443,[fd00::5]:7443,preau.example.fr:7443");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->ChannelTarget(), "ipv4:10.0.0.5:7443");
  EXPECT_EQ(list->current(), "10.0.0.5:7443");
  ASSERT_TRUE(list->Advance());
  EXPECT_EQ(list->ChannelTarget(), "ipv6:[fd00::5]:7443");
  ASSERT_TRUE(list->Advance());
  EXPECT_EQ(list->ChannelTarget(), "preau.example.fr:7443");
}

// A list with an empty entry is refused, naming it, before anything is enrolled.
TEST(AgentFailoverTest, ABadServerListIsRefused) {
  TempDir dir;
  auto agent = RunBinary("preau-agent", {"--state", dir / "device", "--platform", "sim",
                                         "--server", "127.0.0.1:1,,127.0.0.1:2",
                                         "--enroll", "t", "--ca", "/dev/null"});
  EXPECT_EQ(agent.exit_code, 1);
  EXPECT_NE(agent.err.find("'127.0.0.1:1,,127.0.0.1:2' has an empty entry"), std::string::npos)
      << agent.err;
  auto sim = RunBinary("preau-sim", {"--server", "127.0.0.1:1,", "--ca", "/dev/null",
                                     "--count", "1"});
  EXPECT_EQ(sim.exit_code, 1);
  EXPECT_NE(sim.err.find("'127.0.0.1:1,' has an empty entry"), std::string::npos) << sim.err;
}

}  // namespace
}  // namespace preau::testing
