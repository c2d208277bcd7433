// Policies end to end: the real server (PolicyService, per-device signed bundles, rollout,
// compliance) and real agents over mTLS, each with the policy plugin on its SQLite state.
#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "agent/core/state_store.h"
#include "agent/enforce/default_enforcers.h"
#include "agent/policy/policy_engine.h"
#include "agent/policy/state_policy_store.h"
#include "common/files.h"
#include "common/pki.h"
#include "common/policy/bundle.h"
#include "preau/v1/policy.grpc.pb.h"
#include "server/policy/rollout.h"
#include "tests/support/harness.h"
#include "tests/support/sim_device.h"
#include "tools/sim/fleet.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClass = "ville/jules-ferry/cm2-a";

// Wi-Fi off outside a teacher's demand: something the simulated platform shows at once.
constexpr const char* kWifiOff = R"(name: cm2-wifi
timezone: Europe/Paris
wifi:
  mode: always_off
  teacher_demand: true
)";

// The right to disconnect: locked 21:00-07:00, every day.
constexpr const char* kCurfew = R"(name: domicile
timezone: Europe/Paris
schedule:
  curfew:
    enabled: true
    start: "21:00"
    end: "07:00"
    mode: lock
    message: "Bonne nuit"
)";

// 2026-01-15 22:00 in Paris (CET, UTC+1): inside the curfew.
constexpr int64_t kThursdayTenPm = 1768510800000;

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    server_->CreateGroup(kClass);
    Connect();
  }
  void Connect() {
    policy_ = v1::PolicyService::NewStub(
        OperatorChannel(server_->data_dir() + "/admin.credentials", server_->port()));
  }

  std::unique_ptr<TestAgent> StartAgent(const std::string& name, const std::string& token,
                                        uint64_t seed = 1, const Clock* clock = nullptr) {
    auto a = TestAgent::Start(*server_, dir_ / name, token, seed, clock);
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? std::move(a).value() : nullptr;
  }

  grpc::Status Apply(const std::string& source, const std::string& group, uint32_t rollout,
                     v1::ApplyPolicyResponse* resp, const std::string& file = "test.yaml") {
    v1::ApplyPolicyRequest req;
    req.set_group(group);
    req.set_source(source);
    req.set_file(file);
    req.set_rollout_percent(rollout);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return policy_->Apply(&ctx, req, resp);
  }
  v1::ApplyPolicyResponse MustApply(const std::string& source, const std::string& group,
                                    uint32_t rollout = 100) {
    v1::ApplyPolicyResponse resp;
    grpc::Status st = Apply(source, group, rollout, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }

  std::vector<v1::PolicyVersionStatus> Versions(const std::string& name = "") {
    v1::PolicyStatusRequest req;
    req.set_name(name);
    v1::PolicyStatusResponse resp;
    grpc::ClientContext ctx;
    auto st = policy_->GetStatus(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return {resp.versions().begin(), resp.versions().end()};
  }
  std::optional<v1::PolicyVersionStatus> StatusOf(const std::string& name, uint64_t version) {
    for (const auto& v : Versions(name)) {
      if (v.version() == version) return v;
    }
    return std::nullopt;
  }

  v1::Device DeviceById(const std::string& id) {
    for (const auto& d : server_->Devices()) {
      if (d.id() == id) return d;
    }
    ADD_FAILURE() << "no device " << id;
    return {};
  }

  void Inject(const std::string& device_id, const v1::SignedPolicyBundle& bundle) {
    v1::ServerMessage m;
    *m.mutable_policy() = bundle;
    ASSERT_TRUE(server_->server().core().connections.Send(device_id, m));
  }
  v1::SignedPolicyBundle SignedFor(const std::string& device_id, uint64_t version,
                                   const std::string& key_pem) {
    v1::PolicySpec spec;
    spec.set_name("forged");
    spec.mutable_wifi()->set_mode(v1::WIFI_ALWAYS_ON);
    auto s = policy::SignBundle(policy::MakeBundle("forged", version, device_id, spec, 1), key_pem);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : v1::SignedPolicyBundle{};
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<v1::PolicyService::Stub> policy_;
};

TEST_F(PolicyTest, ApplyReachesAgentsAndStatusCountsWhatTheyReported) {
  std::string token = server_->CreateToken(kClass, 3);
  auto a1 = StartAgent("a1", token, 1);
  auto a2 = StartAgent("a2", token, 2);
  auto a3 = StartAgent("a3", token, 3);
  ASSERT_TRUE(a1 && a2 && a3);
  ASSERT_TRUE(a1->WaitConnected() && a2->WaitConnected() && a3->WaitConnected());
  ASSERT_TRUE(SimWifiOn(*a1));

  // Through the CLI, as IT staff would.
  std::string file = dir_ / "cm2.yaml";
  ASSERT_TRUE(WriteFileAtomic(file, kWifiOff).ok());
  std::vector<std::string> conn = {"--credentials", server_->data_dir() + "/admin.credentials",
                                   "--server", server_->address()};
  auto check = RunBinary("preau", {"policy", "check", file});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  std::vector<std::string> args = {"policy", "apply", file, "--group", kClass, "-o", "json"};
  args.insert(args.end(), conn.begin(), conn.end());
  auto applied = RunBinary("preau", args);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_NE(applied.out.find("\"targeted\": 3"), std::string::npos) << applied.out;

  ASSERT_TRUE(WaitUntil([&] {
    auto devices = server_->Devices(kClass);
    return std::all_of(devices.begin(), devices.end(), [](const v1::Device& d) {
      return d.policy_version() > 0 && d.policy_state() == "applied";
    });
  })) << "not every device reported the policy applied";
  EXPECT_FALSE(SimWifiOn(*a1));
  EXPECT_FALSE(SimWifiOn(*a2));
  EXPECT_FALSE(SimWifiOn(*a3));

  auto st = StatusOf("cm2-wifi", 1);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->group(), kClass);
  EXPECT_EQ(st->targeted(), 3u);
  EXPECT_EQ(st->applied(), 3u);
  EXPECT_EQ(st->failed(), 0u);
  EXPECT_EQ(st->pending(), 0u);

  std::vector<std::string> status_args = {"policy", "status", "cm2-wifi", "-o", "json"};
  status_args.insert(status_args.end(), conn.begin(), conn.end());
  auto status = RunBinary("preau", status_args);
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("\"applied\": 3"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\"pending\": 0"), std::string::npos) << status.out;

  // Audited, with the operator's name.
  grpc::ClientContext ctx;
  v1::ListAuditResponse audit;
  ASSERT_TRUE(server_->admin().ListAudit(&ctx, v1::ListAuditRequest(), &audit).ok());
  bool found = false;
  for (const auto& e : audit.entries()) {
    found |= e.action() == "policy.apply" && e.actor() == "admin" && e.result() == "ok";
  }
  EXPECT_TRUE(found);
}

TEST_F(PolicyTest, TamperedOlderAndForeignBundlesAreRefusedAndReported) {
  std::string token = server_->CreateToken(kClass, 1);
  auto a = StartAgent("a", token);
  ASSERT_TRUE(a && a->WaitConnected());
  std::string id = a->agent().device_id();
  auto resp = MustApply(kWifiOff, kClass);
  uint64_t held = resp.revision();
  ASSERT_TRUE(WaitUntil([&] { return DeviceById(id).policy_state() == "applied"; }));
  ASSERT_EQ(DeviceById(id).policy_version(), held);
  const std::string& key = server_->server().core().keys.policy_key_pem;

  // Tampered: a real signature over other bytes (the version raised after signing).
  v1::SignedPolicyBundle tampered = SignedFor(id, held + 10, key);
  v1::PolicyBundle b;
  ASSERT_TRUE(b.ParseFromString(tampered.bundle()));
  b.set_version(held + 11);
  tampered.set_bundle(b.SerializeAsString());
  Inject(id, tampered);
  ASSERT_TRUE(WaitUntil([&] {
    return DeviceById(id).policy_state().rfind("refused v" + std::to_string(held + 11), 0) == 0;
  })) << DeviceById(id).policy_state();
  EXPECT_NE(DeviceById(id).policy_state().find("signature does not match"), std::string::npos);

  // Older (here: the same version replayed), correctly signed.
  Inject(id, SignedFor(id, held, key));
  ASSERT_TRUE(WaitUntil([&] {
    return DeviceById(id).policy_state().find("not newer") != std::string::npos;
  })) << DeviceById(id).policy_state();

  // Signed by another key.
  auto other = pki::GenerateKey();
  ASSERT_TRUE(other.ok());
  Inject(id, SignedFor(id, held + 20, other->private_key_pem));
  ASSERT_TRUE(WaitUntil([&] {
    return DeviceById(id).policy_state().rfind("refused v" + std::to_string(held + 20), 0) == 0;
  })) << DeviceById(id).policy_state();
  EXPECT_NE(DeviceById(id).policy_state().find("trusts only key"), std::string::npos);

  // None of them changed what the device holds or does.
  EXPECT_EQ(DeviceById(id).policy_version(), held);
  EXPECT_FALSE(SimWifiOn(*a));
  // The refusals were of bundles the server never issued: its own version stays applied.
  auto st = StatusOf("cm2-wifi", 1);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->applied(), 1u);
  EXPECT_EQ(st->failed(), 0u);
}

TEST_F(PolicyTest, AgentRestartedWithTheServerStoppedKeepsEnforcingItsPolicy) {
  ManualClock clock(kThursdayTenPm);
  std::string token = server_->CreateToken(kClass, 1);
  std::string state_dir = dir_ / "a";
  auto a = StartAgent("a", token, 1, &clock);
  ASSERT_TRUE(a && a->WaitConnected());
  auto resp = MustApply(kCurfew, kClass);
  std::string id = a->agent().device_id();
  ASSERT_TRUE(WaitUntil([&] { return DeviceById(id).policy_state() == "applied"; }));
  ASSERT_TRUE(WaitUntil([&] { return agent::ReadSimState(a->agent().platform())->locked; }));

  a.reset();
  server_->Stop();

  // What the agent kept: the engine reloads it from the state folder, signature checked.
  {
    auto state = agent::StateStore::Open(state_dir);
    ASSERT_TRUE(state.ok()) << state.status().message();
    auto identity = (*state)->LoadIdentity();
    ASSERT_TRUE(identity.ok() && identity->has_value());
    agent::StatePolicyStore store(state->get());
    agent::PolicyEngine engine({id, (*identity)->policy_key_pem, &clock}, &store, {});
    ASSERT_TRUE(engine.Load().ok());
    EXPECT_EQ(engine.held_version(), resp.revision());
  }

  // A fresh (unlocked) simulated device with the same state, and no server to talk to.
  auto again = TestAgent::Start(*server_, state_dir, "", 1, &clock);
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_TRUE(WaitUntil([&] {
    auto s = agent::ReadSimState((*again)->agent().platform());
    return s && s->locked && s->lock_message == "Bonne nuit";
  })) << "the curfew was not enforced offline after a restart";
  EXPECT_FALSE((*again)->status().connected);
}

TEST_F(PolicyTest, OfflineDeviceGetsThePolicyOnItsNextHello) {
  std::string token = server_->CreateToken(kClass, 1);
  std::string id;
  {
    auto a = StartAgent("a", token);
    ASSERT_TRUE(a && a->WaitConnected());
    id = a->agent().device_id();
  }
  auto resp = MustApply(kWifiOff, kClass);
  EXPECT_EQ(resp.targeted(), 1u);
  EXPECT_EQ(resp.sent(), 0u);
  EXPECT_EQ(resp.queued(), 1u);
  auto pending = StatusOf("cm2-wifi", 1);
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->pending(), 1u);

  auto a = StartAgent("a", "");
  ASSERT_TRUE(a && a->WaitConnected());
  ASSERT_TRUE(WaitUntil([&] {
    auto d = DeviceById(id);
    return d.policy_version() == resp.revision() && d.policy_state() == "applied";
  }));
  EXPECT_FALSE(SimWifiOn(*a));
}

TEST_F(PolicyTest, TenPercentRolloutReachesTheStatedDevicesThenEveryone) {
  constexpr size_t kDevices = 20;
  std::string token = server_->CreateToken(kClass, kDevices);
  sim::FleetOptions fo;
  fo.server = server_->address();
  fo.ca_pem = server_->ca_pem();
  fo.token = token;
  fo.count = kDevices;
  fo.agent = FastAgentOptions("", server_->address());
  auto fleet = sim::Fleet::Start(fo);
  ASSERT_TRUE(fleet.ok()) << fleet.status().message();
  ASSERT_TRUE(WaitUntil([&] { return (*fleet)->Connected() == kDevices; }, 30s));

  auto on_revision = [&](uint64_t revision) {
    std::set<std::string> ids;
    for (const auto& d : server_->Devices(kClass)) {
      if (d.policy_version() == revision && d.policy_state() == "applied") ids.insert(d.id());
    }
    return ids;
  };
  // The rule stated in server/policy/rollout.h: ceil(10 % of 20) = 2 devices, the first in
  // ascending SHA-256("<name>/<device id>").
  std::vector<std::pair<std::string, std::string>> order;
  for (const auto& d : server_->Devices(kClass)) {
    order.emplace_back(server::RolloutOrderKey("cm2-wifi", d.id()), d.id());
  }
  std::sort(order.begin(), order.end());
  std::set<std::string> first_two = {order[0].second, order[1].second};

  auto pilot = MustApply(kWifiOff, kClass, 10);
  EXPECT_EQ(pilot.group_devices(), kDevices);
  EXPECT_EQ(pilot.targeted(), 2u);
  ASSERT_TRUE(WaitUntil([&] { return on_revision(pilot.revision()).size() == 2; }));
  EXPECT_EQ(on_revision(pilot.revision()), first_two);
  auto st = StatusOf("cm2-wifi", 1);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->rollout_percent(), 10u);
  EXPECT_EQ(st->targeted(), 2u);
  EXPECT_EQ(st->applied(), 2u);

  // The same file with a larger share widens the same version; the pilot devices stay in.
  auto half = MustApply(kWifiOff, kClass, 50);
  EXPECT_TRUE(half.promoted());
  EXPECT_EQ(half.revision(), pilot.revision());
  EXPECT_EQ(half.targeted(), 10u);
  ASSERT_TRUE(WaitUntil([&] { return on_revision(pilot.revision()).size() == 10; }));
  auto widened = on_revision(pilot.revision());
  for (const auto& id : first_two) EXPECT_TRUE(widened.count(id)) << id;

  auto all = MustApply(kWifiOff, kClass, 100);
  EXPECT_EQ(all.targeted(), kDevices);
  EXPECT_EQ(all.sent(), kDevices - 10);  // the others already hold this version
  ASSERT_TRUE(WaitUntil([&] { return on_revision(pilot.revision()).size() == kDevices; }, 20s));
  st = StatusOf("cm2-wifi", 1);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->targeted(), kDevices);
  EXPECT_EQ(st->applied(), kDevices);
  EXPECT_EQ(st->pending(), 0u);

  // A rollout only widens.
  v1::ApplyPolicyResponse resp;
  EXPECT_EQ(Apply(kWifiOff, kClass, 10, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(PolicyTest, ServerRefusesBadPoliciesWhateverTheClientSends) {
  v1::ApplyPolicyResponse resp;
  // A typo, with its line, straight to the server (no CLI check on the way).
  grpc::Status st = Apply("name: x\napps:\n  blokced: [a]\n", kClass, 100, &resp, "x.yaml");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("x.yaml:3: apps.blokced: unknown key"), std::string::npos)
      << st.error_message();

  // No name.
  st = Apply("timezone: Europe/Paris\n", kClass, 100, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("needs a name"), std::string::npos) << st.error_message();

  // A bad share and an unknown group.
  EXPECT_EQ(Apply(kWifiOff, kClass, 101, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Apply(kWifiOff, "ville/nowhere", 100, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Each level fine on its own, in conflict once combined: the town blocks the app that the
  // class makes its kiosk. The class's apply is refused, naming the file and line.
  MustApply("name: ville\napps:\n  blocked: [com.game]\n", "ville");
  st = Apply("name: cm2\nkiosk:\n  app: com.game\n", kClass, 100, &resp, "cm2.yaml");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("cm2.yaml:3: kiosk.app"), std::string::npos)
      << st.error_message();
  EXPECT_TRUE(Versions("cm2").empty()) << "a refused policy must not be stored";

  // Refusals are audited too.
  grpc::ClientContext ctx;
  v1::ListAuditResponse audit;
  ASSERT_TRUE(server_->admin().ListAudit(&ctx, v1::ListAuditRequest(), &audit).ok());
  int refused = 0;
  for (const auto& e : audit.entries()) refused += e.action() == "policy.apply" && e.result() != "ok";
  EXPECT_GE(refused, 5);
}

TEST_F(PolicyTest, ClosestLevelWinsKeyByKey) {
  std::string token = server_->CreateToken(kClass, 1);
  auto a = StartAgent("a", token);
  ASSERT_TRUE(a && a->WaitConnected());
  std::string id = a->agent().device_id();
  // The town turns the radio off; the class turns it back on: the class is closer.
  MustApply("name: ville\ntimezone: Europe/Paris\nwifi:\n  mode: always_off\n", "ville");
  ASSERT_TRUE(WaitUntil([&] { return !SimWifiOn(*a); }));
  auto cls = MustApply("name: cm2\nwifi:\n  mode: always_on\n", kClass);
  ASSERT_TRUE(WaitUntil([&] { return DeviceById(id).policy_version() == cls.revision(); }));
  ASSERT_TRUE(WaitUntil([&] { return SimWifiOn(*a); }));
  // Both versions count the device.
  EXPECT_EQ(StatusOf("ville", 1)->targeted(), 1u);
  EXPECT_EQ(StatusOf("cm2", 1)->targeted(), 1u);
}

}  // namespace
}  // namespace preau::testing
