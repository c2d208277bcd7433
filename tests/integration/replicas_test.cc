// Several `preau-server run` replicas on one real PostgreSQL (tests/support/
// postgres_cluster.h): a teacher's lock through one replica reaches and hears back from
// devices whose streams other replicas hold; any replica lists the whole fleet online; a
// replica killed with SIGKILL while a policy rolls out loses nothing: its devices come
// back through another replica (the agent's list of servers) and every one applies the
// policy, and the audit has the roll-out. Replicas need PostgreSQL, so this test always
// runs on it, whatever PREAU_TEST_STORE says.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "agent/platform/platform.h"
#include "common/files.h"
#include "preau/v1/command.grpc.pb.h"
#include "tests/support/harness.h"
#include "tests/support/server_process.h"
#include "tests/support/sim_device.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClass = "ville/jules-ferry/cm2-a";
constexpr const char* kWifiOff = R"(name: cm2-wifi
timezone: Europe/Paris
wifi:
  mode: always_off
)";

class ReplicasTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("PREAU_TEST_STORE", "postgresql", 1); }

  void SetUp() override {
    first_ = std::make_unique<TestServer>(dir_.path());
    ASSERT_TRUE(first_->on_postgres());
    first_->CreateGroup(kClass);
    token_ = first_->CreateToken(kClass, 20);
    admin_path_ = first_->data_dir() + "/admin.credentials";
  }

  // Another replica in this process, on the first one's data folder (its keys, its
  // store.url): what `preau-server run --data` does on a second machine with a copy.
  std::unique_ptr<server::Server> StartReplica() {
    server::RunOptions run;
    run.data_dir = first_->data_dir();
    run.listen = "127.0.0.1:0";
    auto s = server::Server::Start(run);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Enrols through the first replica, then keeps its stream on `servers` ("a,b": the first
  // that answers, the next when it goes).
  std::unique_ptr<TestAgent> StartAgent(const std::string& name, uint64_t seed,
                                        const std::string& servers) {
    TestAgentOptions o;
    o.seed = seed;
    o.tune = [servers](agent::AgentOptions& a) { a.server = servers; };
    auto a = TestAgent::Start(*first_, dir_ / name, token_, std::move(o));
    EXPECT_TRUE(a.ok()) << a.status().message();
    if (!a.ok()) return nullptr;
    EXPECT_TRUE((*a)->WaitConnected());
    return std::move(a).value();
  }

  std::vector<v1::Device> DevicesVia(int port) {
    auto admin = v1::AdminService::NewStub(OperatorChannel(admin_path_, port));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ListDevicesRequest req;
    req.set_group(kClass);
    v1::ListDevicesResponse resp;
    auto st = admin->ListDevices(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return {resp.devices().begin(), resp.devices().end()};
  }

  size_t OnlineVia(int port) {
    auto devices = DevicesVia(port);
    return std::count_if(devices.begin(), devices.end(),
                         [](const v1::Device& d) { return d.online(); });
  }

  bool AllOnlineVia(int port, size_t count) {
    auto devices = DevicesVia(port);
    return devices.size() == count &&
           std::all_of(devices.begin(), devices.end(), [](const v1::Device& d) { return d.online(); });
  }

  TempDir dir_;
  std::unique_ptr<TestServer> first_;
  std::string token_, admin_path_;
};

TEST_F(ReplicasTest, ClassLockThroughOneReplicaReachesDevicesHeldByTheOthers) {
  auto second = StartReplica();
  auto third = StartReplica();
  ASSERT_TRUE(second && third);
  std::string on_second = "127.0.0.1:" + std::to_string(second->port());
  std::string on_third = "127.0.0.1:" + std::to_string(third->port());
  auto a1 = StartAgent("a1", 1, on_second);
  auto a2 = StartAgent("a2", 2, on_second);
  auto a3 = StartAgent("a3", 3, on_third);
  ASSERT_TRUE(a1 && a2 && a3);

  // Presence is in the shared store: each replica lists every device online, including
  // those whose streams the others hold.
  for (int port : {first_->port(), second->port(), third->port()}) {
    EXPECT_TRUE(WaitUntil([&] { return AllOnlineVia(port, 3); }))
        << "replica on port " << port << " does not see the fleet online";
  }

  std::string teacher = first_->CreateOperator(dir_.path(), "mme.martin", v1::ROLE_TEACHER, {kClass});
  auto cls = v1::ClassService::NewStub(OperatorChannel(teacher, first_->port()));
  v1::ClassCommandRequest req;
  req.set_group(kClass);
  req.set_kind(v1::COMMAND_LOCK);
  req.set_message("Regardez le tableau");
  req.set_wait_ms(10000);
  v1::ClassCommandResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 30s);
  auto st = cls->Run(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), 3);
  for (const auto& r : resp.results()) {
    EXPECT_EQ(r.outcome(), v1::DEVICE_DONE) << r.device_name() << ": " << r.detail();
  }
  // Done means done: the acks came back through the replica that holds each device.
  EXPECT_TRUE(SimLocked(*a1) && SimLocked(*a2) && SimLocked(*a3));

  // The CLI on the third replica unlocks what the first locked.
  auto r = RunBinary("preau", {"class", "unlock", kClass, "--credentials", teacher, "--server",
                               on_third});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3/3"), std::string::npos) << r.out;
  EXPECT_FALSE(SimLocked(*a1) || SimLocked(*a2) || SimLocked(*a3));

  // A device that leaves the replica holding it is offline on the others (its presence
  // row says gone, and they read what changed every second).
  a2.reset();
  EXPECT_TRUE(WaitUntil([&] { return OnlineVia(first_->port()) == 2; }, 5s));
  EXPECT_TRUE(WaitUntil([&] { return OnlineVia(third->port()) == 2; }, 5s));
  // A replica that stops takes its devices off the shared presence at once (its heartbeat
  // goes), though its device is still there trying to come back.
  third.reset();
  EXPECT_TRUE(WaitUntil([&] { return OnlineVia(first_->port()) == 1; }, 5s));
  EXPECT_TRUE(WaitUntil([&] { return OnlineVia(second->port()) == 1; }, 5s));
}

TEST_F(ReplicasTest, AReplicaKilledDuringAPolicyRollOutLosesNothing) {
  // The second replica is its own process, so that it can die by SIGKILL.
  ServerProcess second(first_->data_dir(), dir_ / "second.port", dir_ / "second.log");
  ASSERT_NE(second.WaitPort(20s), 0) << second.Log();
  std::string servers = second.address() + "," + first_->address();

  std::vector<std::unique_ptr<TestAgent>> agents;
  for (int i = 0; i < 6; ++i) {
    agents.push_back(StartAgent("a" + std::to_string(i), i + 1, servers));
    ASSERT_TRUE(agents.back());
    EXPECT_EQ(agents.back()->status().server, second.address()) << "not on the first listed";
  }
  ASSERT_TRUE(WaitUntil([&] { return AllOnlineVia(first_->port(), 6); }));

  std::string file = dir_ / "cm2.yaml";
  ASSERT_TRUE(WriteFileAtomic(file, kWifiOff).ok());
  auto applied = RunBinary("preau", {"policy", "apply", file, "--group", kClass, "-o", "json",
                                     "--credentials", admin_path_, "--server", first_->address()});
  // Killed while the roll-out reaches the devices it holds.
  second.Kill();
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_NE(applied.out.find("\"targeted\": 6"), std::string::npos) << applied.out;

  // Back through the first replica (until its row expires, the killed replica's devices
  // still count online: so the agents themselves are asked where they are).
  EXPECT_TRUE(WaitUntil(
      [&] {
        for (auto& a : agents) {
          auto s = a->status();
          if (!s.connected || s.server != first_->address()) return false;
        }
        auto devices = first_->Devices(kClass);
        return devices.size() == 6 &&
               std::all_of(devices.begin(), devices.end(), [](const v1::Device& d) {
                 return d.online() && d.policy_version() > 0 && d.policy_state() == "applied";
               });
      },
      60s))
      << "not every device came back and applied the policy";
  for (auto& a : agents) {
    EXPECT_FALSE(SimWifiOn(*a));
    EXPECT_EQ(a->status().server, first_->address()) << "not on the replica left";
  }
  int rows = 0;
  for (const auto& e : WholeAudit(first_->admin())) {
    rows += e.action() == "policy.apply" && e.actor() == "admin" && e.result() == "ok";
  }
  EXPECT_EQ(rows, 1);
}

// A replica that dies (kill -9: nothing removes its rows) takes its devices offline on the
// others once its heartbeat expires (15 s), while a device that cannot move (its list
// names only the dead replica) stays offline, and one that can comes back online.
TEST_F(ReplicasTest, AKilledReplicasDevicesTurnOfflineOnTheOthersWhenItsHeartbeatExpires) {
  ServerProcess second(first_->data_dir(), dir_ / "second.port", dir_ / "second.log");
  ASSERT_NE(second.WaitPort(20s), 0) << second.Log();
  auto stuck = StartAgent("stuck", 1, second.address());
  auto mover = StartAgent("mover", 2, second.address() + "," + first_->address());
  ASSERT_TRUE(stuck && mover);
  ASSERT_TRUE(WaitUntil([&] { return AllOnlineVia(first_->port(), 2); }));

  second.Kill();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitUntil(
      [&] {
        for (const auto& d : DevicesVia(first_->port())) {
          if (d.id() == stuck->agent().device_id() && d.online()) return false;
          if (d.id() == mover->agent().device_id() && !d.online()) return false;
        }
        return true;
      },
      40s))
      << "the dead replica's device still counts online";
  // Not at once: nothing said the replica stopped; its heartbeat had to run out.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(mover->status().server, first_->address());
}

}  // namespace
}  // namespace preau::testing
