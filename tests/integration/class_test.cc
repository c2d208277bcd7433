// Class control end to end: the real server with its SQLite file, real agents with the
// simulated platform over real mTLS, a teacher with their own certificate (created through
// AdminService.CreateOperator from a CSR), and the `preau` CLI binary.
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "agent/platform/platform.h"
#include "common/credentials.h"
#include "common/pki.h"
#include "preau/v1/command.grpc.pb.h"
#include "tests/support/harness.h"
#include "tests/support/sim_device.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClassA = "ville/jules-ferry/cm2-a";
constexpr const char* kClassB = "ville/jules-ferry/cm2-b";
constexpr int64_t kStart = 1'790'000'000'000;  // 2026-09-21, a school day

class ClassTest : public ::testing::Test {
 protected:
  // `clock` (optional) drives the server and every agent.
  void StartServer(const Clock* clock = nullptr) {
    clock_ = clock;
    server_ = std::make_unique<TestServer>(dir_.path(), clock);
    server_->CreateGroup(kClassA);
    server_->CreateGroup(kClassB);
    token_a_ = server_->CreateToken(kClassA, 10);
    token_b_ = server_->CreateToken(kClassB, 10);
    teacher_path_ = CreateTeacher("mme.martin", {kClassA});
    class_ = v1::ClassService::NewStub(OperatorChannel(teacher_path_, server_->port()));
  }

  // A teacher operator with its own key (a CSR is all the server sees); returns the
  // credentials file written for it.
  std::string CreateTeacher(const std::string& name, const std::vector<std::string>& scopes) {
    return server_->CreateOperator(dir_.path(), name, v1::ROLE_TEACHER, scopes);
  }

  std::unique_ptr<TestAgent> StartAgent(const std::string& name, const std::string& token,
                                        uint64_t seed, const Clock* clock = nullptr) {
    auto a = TestAgent::Start(*server_, dir_ / name, token, seed, clock ? clock : clock_);
    EXPECT_TRUE(a.ok()) << a.status().message();
    if (!a.ok()) return nullptr;
    EXPECT_TRUE((*a)->WaitConnected());
    return std::move(a).value();
  }

  grpc::Status Run(v1::CommandKind kind, const std::string& group, v1::ClassCommandResponse* resp,
                   int64_t for_seconds = 0, const std::string& message = "",
                   uint32_t wait_ms = 5000) {
    v1::ClassCommandRequest req;
    req.set_group(group);
    req.set_kind(kind);
    req.set_message(message);
    req.set_for_seconds(for_seconds);
    req.set_wait_ms(wait_ms);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    return class_->Run(&ctx, req, resp);
  }

  static int Count(const v1::ClassCommandResponse& r, v1::DeviceOutcome o) {
    int n = 0;
    for (const auto& d : r.results()) n += d.outcome() == o;
    return n;
  }

  TempDir dir_;
  // Clocks a test may drive; declared before the server and agents so they outlive them
  // (the server's background threads read the clock until it stops).
  ManualClock manual_clock_{kStart};
  ManualClock ahead_clock_{kStart + 3'600'000};  // an hour ahead of manual_clock_
  const Clock* clock_ = nullptr;
  std::unique_ptr<TestServer> server_;
  std::string token_a_, token_b_, teacher_path_;
  std::unique_ptr<v1::ClassService::Stub> class_;
};

TEST_F(ClassTest, TeacherLocksTheirClassThenUnlocks) {
  StartServer();
  auto a1 = StartAgent("a1", token_a_, 1);
  auto a2 = StartAgent("a2", token_a_, 2);
  auto a3 = StartAgent("a3", token_a_, 3);
  auto b1 = StartAgent("b1", token_b_, 4);
  ASSERT_TRUE(a1 && a2 && a3 && b1);

  v1::ClassCommandResponse resp;
  auto st = Run(v1::COMMAND_LOCK, kClassA, &resp, 0, "Regardez le tableau");
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(Count(resp, v1::DEVICE_DONE), 3);
  // Done means done: the state is read back at once, not waited for.
  for (auto* a : {a1.get(), a2.get(), a3.get()}) {
    auto s = agent::ReadSimState(a->agent().platform());
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->locked);
    EXPECT_EQ(s->lock_message, "Regardez le tableau");
  }
  EXPECT_FALSE(SimLocked(*b1)) << "another class was locked";

  st = Run(v1::COMMAND_UNLOCK, kClassA, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Count(resp, v1::DEVICE_DONE), 3);
  for (auto* a : {a1.get(), a2.get(), a3.get()}) EXPECT_FALSE(SimLocked(*a));

  // The audit row, written in the command's own transaction, says what the command was
  // and whom it reached.
  grpc::ClientContext ctx;
  v1::ListAuditResponse audit;
  ASSERT_TRUE(server_->admin().ListAudit(&ctx, v1::ListAuditRequest(), &audit).ok());
  int rows = 0;
  for (const auto& e : audit.entries()) {
    if (e.actor() != "mme.martin" || e.target() != kClassA) continue;
    if (e.action() != "class.lock" && e.action() != "class.unlock") continue;
    ++rows;
    EXPECT_EQ(e.result(), "ok");
    EXPECT_NE(e.detail().find(" for 3 devices, 3 online"), std::string::npos)
        << e.action() << ": '" << e.detail() << "'";
  }
  EXPECT_EQ(rows, 2);
}

TEST_F(ClassTest, FocusAndOpenReachEveryDevice) {
  StartServer();
  auto a1 = StartAgent("a1", token_a_, 1);
  auto a2 = StartAgent("a2", token_a_, 2);
  ASSERT_TRUE(a1 && a2);
  v1::ClassCommandRequest req;
  req.set_group(kClassA);
  req.set_kind(v1::COMMAND_FOCUS);
  req.set_app("fr.lumni.app");
  v1::ClassCommandResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(class_->Run(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(Count(resp, v1::DEVICE_DONE), 2);
  req.set_kind(v1::COMMAND_OPEN);
  req.clear_app();
  req.set_url("https://fr.vikidia.org/wiki/Loire");
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(class_->Run(&ctx, req, &resp).ok());
  }
  for (auto* a : {a1.get(), a2.get()}) {
    auto s = agent::ReadSimState(a->agent().platform());
    ASSERT_TRUE(s);
    EXPECT_EQ(s->focus_app, "fr.lumni.app");
    ASSERT_FALSE(s->opened_urls.empty());
    EXPECT_EQ(s->opened_urls.back(), "https://fr.vikidia.org/wiki/Loire");
  }
  // A focus without a target is refused with the field named.
  req.set_kind(v1::COMMAND_FOCUS);
  req.clear_url();
  grpc::ClientContext ctx;
  auto st = class_->Run(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("--app"), std::string::npos) << st.error_message();
}

TEST_F(ClassTest, TeacherCannotLockAnotherClassAndTheRefusalIsAudited) {
  StartServer();
  auto b1 = StartAgent("b1", token_b_, 4);
  ASSERT_TRUE(b1);
  v1::ClassCommandResponse resp;
  auto st = Run(v1::COMMAND_LOCK, kClassB, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_NE(st.error_message().find(kClassB), std::string::npos) << st.error_message();
  EXPECT_FALSE(SimLocked(*b1));

  grpc::ClientContext ctx;
  v1::ListAuditResponse audit;
  ASSERT_TRUE(server_->admin().ListAudit(&ctx, v1::ListAuditRequest(), &audit).ok());
  bool found = false;
  for (const auto& e : audit.entries()) {
    if (e.action() == "class.lock" && e.target() == kClassB && e.actor() == "mme.martin") {
      found = e.result() != "ok";
    }
  }
  EXPECT_TRUE(found) << "no refused class.lock by mme.martin on " << kClassB << " in the audit log";
}

TEST_F(ClassTest, LockForTwoMinutesEndsByItself) {
  ManualClock& clock = manual_clock_;
  StartServer(&clock);
  auto a1 = StartAgent("a1", token_a_, 1);
  ASSERT_TRUE(a1);
  v1::ClassCommandResponse resp;
  ASSERT_TRUE(Run(v1::COMMAND_LOCK, kClassA, &resp, 120).ok());
  EXPECT_EQ(resp.until_unix_ms(), kStart + 120'000);
  ASSERT_EQ(Count(resp, v1::DEVICE_DONE), 1);
  ASSERT_TRUE(SimLocked(*a1));
  clock.Advance(119'000);
  EXPECT_FALSE(WaitUntil([&] { return !SimLocked(*a1); }, 2500ms)) << "unlocked before its time";
  clock.Advance(2'000);
  EXPECT_TRUE(WaitUntil([&] { return !SimLocked(*a1); })) << "still locked after --for 2m";
}

TEST_F(ClassTest, DeviceOfflineDuringTheLockIsLockedWhenItReconnects) {
  StartServer();
  auto a1 = StartAgent("a1", token_a_, 1);
  auto a2 = StartAgent("a2", token_a_, 2);
  ASSERT_TRUE(a1 && a2);
  a2.reset();  // stops: its stream closes
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& d : server_->Devices(kClassA)) {
      if (d.online() == false) return true;
    }
    return false;
  }));
  v1::ClassCommandResponse resp;
  ASSERT_TRUE(Run(v1::COMMAND_LOCK, kClassA, &resp, 0, "Pause").ok());
  EXPECT_EQ(Count(resp, v1::DEVICE_DONE), 1);
  EXPECT_EQ(Count(resp, v1::DEVICE_OFFLINE), 1);
  EXPECT_GT(resp.expires_unix_ms(), 0);

  a2 = StartAgent("a2", "", 2);
  ASSERT_TRUE(a2);
  EXPECT_TRUE(WaitUntil([&] { return SimLocked(*a2); }));
  EXPECT_EQ(agent::ReadSimState(a2->agent().platform())->lock_message, "Pause");
}

TEST_F(ClassTest, ExpiredCommandIsNotDeliveredOnReconnect) {
  ManualClock& clock = manual_clock_;
  StartServer(&clock);
  auto a1 = StartAgent("a1", token_a_, 1);
  ASSERT_TRUE(a1);
  a1.reset();
  ASSERT_TRUE(WaitUntil([&] { return !server_->Devices(kClassA).front().online(); }));
  v1::ClassCommandResponse resp;
  ASSERT_TRUE(Run(v1::COMMAND_LOCK, kClassA, &resp, 120).ok());
  EXPECT_EQ(Count(resp, v1::DEVICE_OFFLINE), 1);
  clock.Advance(180'000);
  a1 = StartAgent("a1", "", 1);  // connected: the hello was answered
  ASSERT_TRUE(a1);
  // Anything sent on hello comes before the hello's answer on the same stream, and the
  // agent handles messages in order: had the lock been sent, it would show now.
  EXPECT_FALSE(SimLocked(*a1));
}

TEST_F(ClassTest, DeviceNeverAppliesACommandExpiredByItsOwnClock) {
  ManualClock& server_clock = manual_clock_;
  ManualClock& device_clock = ahead_clock_;  // an hour ahead
  StartServer(&server_clock);
  auto a1 = StartAgent("a1", token_a_, 1, &device_clock);
  ASSERT_TRUE(a1);
  v1::ClassCommandResponse resp;
  ASSERT_TRUE(Run(v1::COMMAND_LOCK, kClassA, &resp, 120).ok());
  ASSERT_EQ(resp.results_size(), 1);
  EXPECT_EQ(resp.results(0).outcome(), v1::DEVICE_EXPIRED);
  EXPECT_FALSE(SimLocked(*a1));
}

TEST_F(ClassTest, LockHoldsThroughAnAgentRestartEvenWithoutTheServer) {
  StartServer();
  auto a1 = StartAgent("a1", token_a_, 1);
  ASSERT_TRUE(a1);
  v1::ClassCommandResponse resp;
  ASSERT_TRUE(Run(v1::COMMAND_LOCK, kClassA, &resp, 0, "Contrôle").ok());
  ASSERT_EQ(Count(resp, v1::DEVICE_DONE), 1);
  a1.reset();
  server_->Stop();  // the lock must come from the device's own state, not a resend
  auto again = TestAgent::Start(*server_, dir_ / "a1", "", 1);  // a fresh, unlocked platform
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(WaitUntil([&] { return SimLocked(**again); }));
  EXPECT_EQ(agent::ReadSimState((*again)->agent().platform())->lock_message, "Contrôle");
}

TEST_F(ClassTest, ALiftedLockIsLockedAgain) {
  StartServer();
  auto a1 = StartAgent("a1", token_a_, 1);
  ASSERT_TRUE(a1);
  v1::ClassCommandResponse resp;
  ASSERT_TRUE(Run(v1::COMMAND_LOCK, kClassA, &resp).ok());
  ASSERT_TRUE(SimLocked(*a1));
  agent::SimForceUnlock(a1->agent().platform());
  ASSERT_FALSE(SimLocked(*a1));
  EXPECT_TRUE(WaitUntil([&] { return SimLocked(*a1); }, 5s));
}

TEST_F(ClassTest, CliPrintsWhoDidNotActAndTheSummary) {
  StartServer();
  auto a1 = StartAgent("a1", token_a_, 1);
  auto a2 = StartAgent("a2", token_a_, 2);
  ASSERT_TRUE(a1 && a2);
  std::string offline_id = a2->agent().device_id();
  a2.reset();
  ASSERT_TRUE(WaitUntil([&] {
    int online = 0;
    for (const auto& d : server_->Devices(kClassA)) online += d.online();
    return online == 1;
  }));
  auto r = RunBinary("preau", {"class", "lock", kClassA, "--message", "Pause", "--wait", "3s",
                               "--credentials", teacher_path_, "--server", server_->address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(offline_id + "): offline (will lock when it reconnects, until "),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1/2 locked, 1 offline (will lock when it reconnects, until "),
            std::string::npos) << r.out;
  EXPECT_TRUE(SimLocked(*a1));

  // Another class: refused, exit 1, and the reason on stderr.
  r = RunBinary("preau", {"class", "lock", kClassB, "--credentials", teacher_path_, "--server",
                          server_->address()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.err;

  // A usage error: allow without --for.
  r = RunBinary("preau", {"class", "allow", kClassA, "--site", "fr.wikipedia.org",
                          "--credentials", teacher_path_});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
}  // namespace preau::testing
