// Enrolment, connection and retirement, end to end: the real server on 127.0.0.1:0 with its
// SQLite file, real agents over real mTLS.
#include <filesystem>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "agent/core/state_store.h"
#include "common/files.h"
#include "common/grpc_credentials.h"
#include "common/pki.h"
#include "preau/v1/device.grpc.pb.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClass = "ville/jules-ferry/cm2-a";

class EnrollmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    server_->CreateGroup(kClass);
  }
  std::unique_ptr<TestAgent> StartAgent(const std::string& name, const std::string& token,
                                        uint64_t seed = 1) {
    auto a = TestAgent::Start(*server_, dir_ / name, token, seed);
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? std::move(a).value() : nullptr;
  }
  // A DeviceService stub that authenticates the server only (as an enrolling agent does).
  std::unique_ptr<v1::DeviceService::Stub> AnonymousDeviceStub(const std::string& ca_pem) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return v1::DeviceService::NewStub(
        grpc::CreateCustomChannel(server_->address(), preau::MtlsCredentials(ca_pem), args));
  }
  grpc::Status EnrollWith(const std::string& token, const std::string& csr) {
    auto stub = AnonymousDeviceStub(server_->ca_pem());
    v1::EnrollRequest req;
    req.set_token(token);
    req.set_csr_pem(csr);
    v1::EnrollResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return stub->Enroll(&ctx, req, &resp);
  }
  std::string FreshCsr() {
    auto key = pki::GenerateKey();
    return *pki::CreateCsr(key->private_key_pem, "preau-device");
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(EnrollmentTest, EnrolledAgentsAppearOnlineWithTheirInventory) {
  std::string token = server_->CreateToken(kClass, 3);
  auto a1 = StartAgent("a1", token, 1);
  auto a2 = StartAgent("a2", token, 2);
  auto a3 = StartAgent("a3", token, 3);
  ASSERT_TRUE(a1 && a2 && a3);
  ASSERT_TRUE(a1->WaitConnected() && a2->WaitConnected() && a3->WaitConnected());
  ASSERT_TRUE(WaitUntil([&] {
    auto devices = server_->Devices(kClass);
    if (devices.size() != 3) return false;
    for (const auto& d : devices) {
      if (!d.online() || d.inventory().model().empty()) return false;
    }
    return true;
  }));
  for (const auto& d : server_->Devices()) {
    EXPECT_EQ(d.group(), kClass);
    EXPECT_EQ(d.inventory().platform(), "sim");
    EXPECT_GT(d.inventory().memory_bytes(), 0u);
    EXPECT_FALSE(d.inventory().serial().empty());
    EXPECT_EQ(d.inventory().agent_version(), agent::kAgentVersion);
  }
  // The token had three uses: a fourth device is refused.
  EXPECT_EQ(EnrollWith(token, FreshCsr()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(EnrollmentTest, AgentRestartKeepsItsIdentity) {
  std::string token = server_->CreateToken(kClass, 1);
  auto a = StartAgent("a", token);
  ASSERT_TRUE(a && a->WaitConnected());
  std::string id = a->agent().device_id();
  a.reset();
  ASSERT_TRUE(WaitUntil([&] { return !server_->Devices()[0].online(); }));
  // No token this time: the identity in the state folder is enough.
  a = StartAgent("a", "");
  ASSERT_TRUE(a && a->WaitConnected());
  EXPECT_EQ(a->agent().device_id(), id);
  auto devices = server_->Devices();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].id(), id);
  EXPECT_TRUE(WaitUntil([&] { return server_->Devices()[0].online(); }));
}

TEST_F(EnrollmentTest, AgentsComeBackAfterAServerRestartAndNothingIsLost) {
  std::string token = server_->CreateToken(kClass, 2);
  auto a1 = StartAgent("a1", token, 1);
  auto a2 = StartAgent("a2", token, 2);
  ASSERT_TRUE(a1->WaitConnected() && a2->WaitConnected());
  auto before = server_->Devices();
  int connections = a1->status().connections;
  server_->Restart();
  ASSERT_TRUE(WaitUntil([&] {
    return a1->status().connections > connections && a1->status().connected &&
           a2->status().connected;
  }, 20s));
  auto after = server_->Devices();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].id(), before[i].id());
    EXPECT_EQ(after[i].inventory().serial(), before[i].inventory().serial());
  }
  EXPECT_TRUE(WaitUntil([&] {
    auto d = server_->Devices();
    return d.size() == 2 && d[0].online() && d[1].online();
  }));
}

TEST_F(EnrollmentTest, RetiredDeviceIsDisconnectedAndCannotComeBack) {
  std::string token = server_->CreateToken(kClass, 5);
  auto a = StartAgent("a", token);
  ASSERT_TRUE(a && a->WaitConnected());
  std::string id = a->agent().device_id();
  int connections = a->status().connections;

  grpc::ClientContext ctx;
  v1::RetireDeviceRequest req;
  req.set_id(id);
  v1::Device out;
  ASSERT_TRUE(server_->admin().RetireDevice(&ctx, req, &out).ok());
  EXPECT_TRUE(out.retired());
  // The open stream is closed within a second, and the reason reaches the agent.
  EXPECT_TRUE(WaitUntil([&] { return !a->status().connected; }, 1s));
  EXPECT_TRUE(WaitUntil([&] {
    return a->status().last_error.code() == Code::kPermissionDenied;
  }, 5s)) << a->status().last_error.message();
  EXPECT_FALSE(server_->server().core().connections.Online(id));
  EXPECT_EQ(a->status().connections, connections);

  // Restarted, it is still refused.
  a.reset();
  a = StartAgent("a", "");
  ASSERT_TRUE(a);
  EXPECT_TRUE(WaitUntil([&] {
    return a->status().last_error.code() == Code::kPermissionDenied;
  }, 5s));
  EXPECT_FALSE(a->status().connected);

  // Its key cannot enrol again, even with a fresh token.
  auto state = agent::StateStore::Open(dir_ / "a");
  ASSERT_TRUE(state.ok());
  auto identity = (*state)->LoadIdentity();
  ASSERT_TRUE(identity.ok() && identity->has_value());
  auto csr = pki::CreateCsr((*identity)->private_key_pem, "preau-device");
  auto st = EnrollWith(server_->CreateToken(kClass, 1), *csr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("retired"), std::string::npos) << st.error_message();
}

TEST_F(EnrollmentTest, ExpiredTokenIsRefused) {
  ManualClock clock(1'800'000'000'000);
  TempDir other;
  TestServer server(other.path(), &clock);
  server.CreateGroup(kClass);
  std::string token = server.CreateToken(kClass, 5, 3600);
  clock.Advance(3601 * 1000);
  auto a = TestAgent::Start(server, other / "a", token);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("expired"), std::string::npos) << a.status().message();
  EXPECT_TRUE(server.Devices().empty());
}

TEST_F(EnrollmentTest, MalformedTokensAreRefusedWithAClearMessage) {
  std::string token = server_->CreateToken(kClass, 5);
  auto garbage = EnrollWith("hello", FreshCsr());
  EXPECT_EQ(garbage.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(garbage.error_message().find("malformed"), std::string::npos);
  auto truncated = EnrollWith(token.substr(0, token.size() - 3), FreshCsr());
  EXPECT_EQ(truncated.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(truncated.error_message().find("truncated"), std::string::npos) << truncated.error_message();
  std::string mistyped = token;
  mistyped[10] = mistyped[10] == 'a' ? 'b' : 'a';
  EXPECT_EQ(EnrollWith(mistyped, FreshCsr()).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Nothing was consumed: the real token still works five times.
  EXPECT_TRUE(server_->Devices().empty());
  EXPECT_TRUE(EnrollWith(token, FreshCsr()).ok());
}

TEST_F(EnrollmentTest, CsrWhoseSignatureDoesNotMatchItsKeyIsRefused) {
  std::string token = server_->CreateToken(kClass, 1);
  std::string csr = FreshCsr();
  // Flip one byte inside the base64 body, near the end where the signature lives.
  size_t pos = csr.find("-----END") - 10;
  csr[pos] = csr[pos] == 'A' ? 'B' : 'A';
  auto st = EnrollWith(token, csr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_NE(st.error_message().find("CSR"), std::string::npos);
  EXPECT_TRUE(server_->Devices().empty());
  EXPECT_TRUE(EnrollWith(token, FreshCsr()).ok()) << "the token's use was not spent";
}

TEST_F(EnrollmentTest, OversizedMessageIsRefused) {
  std::string token = server_->CreateToken(kClass, 1);
  auto st = EnrollWith(token, std::string(5 * 1024 * 1024, 'x'));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_TRUE(server_->Devices().empty());
}

TEST_F(EnrollmentTest, TokenForAnUnknownGroupIsRefused) {
  grpc::ClientContext ctx;
  v1::CreateTokenRequest req;
  req.set_group("ville/nowhere");
  v1::CreateTokenResponse resp;
  auto st = server_->admin().CreateToken(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(st.error_message().find("ville/nowhere"), std::string::npos);
}

TEST_F(EnrollmentTest, AgentTrustingAnotherCaIsRefused) {
  std::string token = server_->CreateToken(kClass, 1);
  TempDir other;
  server::InitOptions init;
  init.data_dir = other / "data";
  ASSERT_TRUE(server::InitDataDir(init).ok());
  auto opts = FastAgentOptions(dir_ / "a", server_->address());
  opts.ca_pem = *ReadFile(other / "data/ca.pem");
  opts.enroll_token = token;
  opts.name = "x";
  boost::asio::io_context io;
  // Enrolment happens in Create; keep its timeout short, the handshake fails at once.
  auto a = agent::Agent::Create(io, opts, agent::MakeSimPlatform(1));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kUnavailable) << a.status().message();
  EXPECT_TRUE(server_->Devices().empty());
}

TEST_F(EnrollmentTest, ClientWithoutCertificateIsRefusedOnConnectAndAdmin) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(server_->address(),
                                           preau::MtlsCredentials(server_->ca_pem()), args);

  auto admin = v1::AdminService::NewStub(channel);
  grpc::ClientContext actx;
  v1::ListDevicesResponse devices;
  auto st = admin->ListDevices(&actx, v1::ListDevicesRequest(), &devices);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();

  auto device = v1::DeviceService::NewStub(channel);
  grpc::ClientContext dctx;
  dctx.set_deadline(std::chrono::system_clock::now() + 10s);
  auto stream = device->Connect(&dctx);
  v1::ServerMessage msg;
  EXPECT_FALSE(stream->Read(&msg));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server_->server().core().connections.Count(), 0u);
}

TEST_F(EnrollmentTest, CorruptAgentStateIsRefusedWithAClearMessage) {
  std::filesystem::create_directories(dir_ / "bad");
  ASSERT_TRUE(WriteFileAtomic(dir_ / "bad/state.db", std::string(8192, 'z')).ok());
  auto a = TestAgent::Start(*server_, dir_ / "bad", server_->CreateToken(kClass, 1));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), Code::kDataLoss);
  EXPECT_NE(a.status().message().find("enrol this device again"), std::string::npos)
      << a.status().message();
  // The corrupt file was left as it was, for whoever investigates.
  EXPECT_EQ(ReadFile(dir_ / "bad/state.db")->size(), 8192u);
}

TEST_F(EnrollmentTest, InitRefusesAnExistingDataFolder) {
  auto r = RunBinary("preau-server", {"init", "--data", server_->data_dir()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  // The existing folder is untouched: the running server still answers.
  EXPECT_TRUE(server_->Devices().empty());
  EXPECT_TRUE(std::filesystem::exists(server_->data_dir() + "/ca.key"));
}

}  // namespace
}  // namespace preau::testing
