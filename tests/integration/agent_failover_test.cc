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

#include <thread>

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

// Connected to A; A freezes (SIGSTOP), so a report written to it is never acked; A is
// killed (-9). The agent moves to B, sends B the unacked report again, and works on with
// B: B has the report in the shared store and shows the device online.
TEST(AgentFailoverTest, AReplicaKilledItsDeviceMovesToTheOtherWithItsReports) {
  TempDir dir;
  std::string data = dir / "server";
  std::vector<std::string> init_args = {"init", "--data", data};
  if (TestStoreIsPostgres()) {
    init_args.push_back("--store");
    init_args.push_back(FreshStoreLocation(""));
  }
  auto init = RunBinary("preau-server", init_args);
  ASSERT_EQ(init.exit_code, 0) << init.err;
  ServerProcess a(data, dir / "a.port", dir / "a.log");
  ServerProcess b(data, dir / "b.port", dir / "b.log");
  ASSERT_GT(a.WaitPort(20s), 0) << a.Log();
  ASSERT_GT(b.WaitPort(20s), 0) << b.Log();
  auto admin_a = Admin(data, a.port());
  auto admin_b = Admin(data, b.port());
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::CreateGroupRequest req;
    req.set_path(kGroup);
    v1::Group g;
    auto st = admin_a->CreateGroup(&ctx, req, &g);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  std::string token;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::CreateTokenRequest req;
    req.set_group(kGroup);
    req.set_uses(1);
    req.set_ttl_seconds(600);
    v1::CreateTokenResponse resp;
    auto st = admin_a->CreateToken(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    token = resp.token();
  }

  auto opts = FastAgentOptions(dir / "device", a.address() + "," + b.address());
  auto ca = ReadFile(data + "/ca.pem");
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
