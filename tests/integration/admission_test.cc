// Admission: a server that lets devices in at a set pace answers the rest at once with
// RESOURCE_EXHAUSTED and a retry-after hint, which agents and enrolment honour: a burst
// of devices far beyond the rate ends with every one of them enrolled and connected.
// The real server on 127.0.0.1:0 (SQLite file, mTLS) and real agents of the simulator.
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include "agent/core/enroller.h"
#include "common/grpc_credentials.h"
#include "common/pki.h"
#include "common/retry_after.h"
#include "preau/v1/device.grpc.pb.h"
#include "server/fleet/admission.h"
#include "tests/support/harness.h"
#include "tools/sim/fleet.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClass = "ville/jules-ferry/cm2-a";

// A caller told to come back keeps its slot: back early it is told the same slot, not a
// later one; back at its time it is let in although tokens came meanwhile, and a newcomer
// queues behind the slots given. (Before, the newcomer took the token, the caller back at
// its slot got a later one, and a fleet arriving faster than the rate was sent away for
// minutes.) Time passes by sleeping here: the slots are 200 ms apart, the queue 2 s long.
TEST(AdmissionTest, ACallerToldToComeBackKeepsItsSlot) {
  server::Admission admission(5, 1);  // 5 a second, no burst
  ASSERT_EQ(admission.Admit("first"), 0);
  std::vector<int64_t> slots;
  for (int i = 0; i < 10; ++i) slots.push_back(admission.Admit("device-" + std::to_string(i)));
  for (int i = 0; i < 10; ++i) {
    EXPECT_GT(slots[i], 0);
    if (i > 0) EXPECT_GT(slots[i], slots[i - 1]) << "each refused caller has its own slot";
  }
  // Early: the same slot, and asking again takes nobody's place.
  int64_t early = admission.Admit("device-0");
  EXPECT_GT(early, 0);
  EXPECT_LE(early, slots[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(slots[0]));
  // A token has come by now; the newcomer still queues behind the ten slots given.
  int64_t newcomer = admission.Admit("newcomer");
  EXPECT_GT(newcomer, slots[9] - slots[0] - 50) << "a newcomer took a place kept for another";
  EXPECT_EQ(admission.Admit("device-0"), 0) << "back at its slot, not let in";
  EXPECT_EQ(admission.stats().admitted, 2u);
}

// An enrolment beyond the rate is answered at once, clearly, with a hint, and changes
// nothing (the token keeps its use); the same enrolment through the agent's enroller
// waits for its slot and succeeds.
TEST(AdmissionTest, AnEnrolmentBeyondTheRateIsToldWhenToComeBack) {
  TempDir dir;
  TestServer server(dir.path(), nullptr, "", [](server::RunOptions& run) {
    run.admit_enrolments_per_s = 0.5;  // one now, the next in 2 s
  });
  server.CreateGroup(kClass);
  std::string token = server.CreateToken(kClass, /*uses=*/2);

  auto enroll_raw = [&](grpc::ClientContext& ctx) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = v1::DeviceService::NewStub(
        grpc::CreateCustomChannel(server.address(), MtlsCredentials(server.ca_pem()), args));
    auto key = pki::GenerateKey();
    v1::EnrollRequest req;
    req.set_token(token);
    req.set_csr_pem(*pki::CreateCsr(key->private_key_pem, "preau-device"));
    v1::EnrollResponse resp;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return stub->Enroll(&ctx, req, &resp);
  };
  grpc::ClientContext first_ctx;
  ASSERT_TRUE(enroll_raw(first_ctx).ok());
  grpc::ClientContext second_ctx;
  auto start = std::chrono::steady_clock::now();
  grpc::Status second = enroll_raw(second_ctx);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(second.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << second.error_message();
  EXPECT_NE(second.error_message().find("retry in"), std::string::npos) << second.error_message();
  int64_t hint = RetryAfterMs(second_ctx.GetServerTrailingMetadata());
  EXPECT_GT(hint, 0);
  EXPECT_LE(hint, 2000);
  EXPECT_LT(took, 1500ms) << "answered at once, not left to time out";
  EXPECT_EQ(server.Devices().size(), 1u) << "the deferred enrolment changed nothing";

  // The agent's enroller honours the hint and gets in with the token's second use.
  agent::EnrollRequestOptions e;
  e.server = server.address();
  e.ca_pem = server.ca_pem();
  e.token = token;
  e.name = "patient";
  auto id = agent::Enroll(e);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(server.Devices().size(), 2u);
  EXPECT_GE(server.server().core().enroll_admission->stats().deferred, 1u);
}

// Connect streams admitted at 20 a second, enrolments unthrottled.
void AdmitConnectsAt20PerSecond(server::RunOptions& run) {
  run.admit_connects_per_s = 20;
  run.admit_enrolments_per_s = 0;
}

// `count` simulated devices enrolled (8 at a time) into kClass on `server`, connecting.
Result<std::unique_ptr<sim::Fleet>> StartFleet(TestServer& server, size_t count) {
  server.CreateGroup(kClass);
  sim::FleetOptions fo;
  fo.server = server.address();
  fo.ca_pem = server.ca_pem();
  fo.token = server.CreateToken(kClass, count);
  fo.count = count;
  fo.enroll_parallelism = 8;
  fo.agent = FastAgentOptions("", "");
  return sim::Fleet::Start(fo);
}

// 80 devices connect at once against a server admitting 20 streams per second: many are
// told to come back later, and every one ends connected. (Enrolments are not throttled
// here: the test above covers them, and a fleet whose start fails on one enrolment waits
// out each agent's stop deadline on the way out, see docs/PERFORMANCE.md.)
TEST(AdmissionTest, ABurstBeyondTheRateEndsWithEveryDeviceConnected) {
  TempDir dir;
  TestServer server(dir.path(), nullptr, "", AdmitConnectsAt20PerSecond);
  constexpr size_t kDevices = 80;
  auto fleet = StartFleet(server, kDevices);
  ASSERT_TRUE(fleet.ok()) << fleet.status().message();
  EXPECT_EQ(server.server().core().enroll_admission->stats().deferred, 0u);
  EXPECT_TRUE(WaitUntil([&] { return (*fleet)->Connected() == kDevices; }, 60s))
      << (*fleet)->Connected() << "/" << kDevices << " connected";
  auto connects = server.server().core().connect_admission->stats();
  EXPECT_GT(connects.deferred, 0u) << "80 connections at once against 20 per second";
  int deferrals = 0;
  for (size_t i = 0; i < (*fleet)->size(); ++i) deferrals += (*fleet)->agent(i).status().deferrals;
  EXPECT_GT(deferrals, 0) << "agents were told to retry later, and came back";
  EXPECT_LE(static_cast<uint64_t>(deferrals), connects.deferred);
  EXPECT_EQ(server.Devices().size(), kDevices);
  (*fleet)->Stop();
}

// A server stopping for a restart tells each device when to come back, one every
// 1/rate: the fleet returns at the pace the restarted server admits, nearly without being
// told to wait again. Without the hints, the 40 devices (reconnect window 0.5 s in tests)
// came back together against 20 a second, and 12 of them were deferred (checked).
TEST(AdmissionTest, AfterARestartTheFleetComesBackAtTheSlotsTheServerGaveIt) {
  TempDir dir;
  TestServer server(dir.path(), nullptr, "", AdmitConnectsAt20PerSecond);
  constexpr size_t kDevices = 40;
  auto fleet = StartFleet(server, kDevices);
  ASSERT_TRUE(fleet.ok()) << fleet.status().message();
  ASSERT_TRUE(WaitUntil([&] { return (*fleet)->Connected() == kDevices; }, 60s));
  int before = 0;
  for (size_t i = 0; i < kDevices; ++i) before += (*fleet)->agent(i).status().deferrals;

  server.Restart();
  ASSERT_TRUE(WaitUntil([&] { return (*fleet)->Connected() == kDevices; }, 60s))
      << (*fleet)->Connected() << "/" << kDevices << " back";
  int told = 0;
  for (size_t i = 0; i < kDevices; ++i) told += (*fleet)->agent(i).status().deferrals;
  // Every device was given its moment (the agent counts a hint as a deferral)...
  EXPECT_GE(told - before, static_cast<int>(kDevices));
  // ...and the restarted server, admitting 20 a second, hardly had to defer any.
  EXPECT_LE(server.server().core().connect_admission->stats().deferred, kDevices / 8)
      << "the fleet came back together, not at its slots";
  (*fleet)->Stop();
}

}  // namespace
}  // namespace preau::testing
