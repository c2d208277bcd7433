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
  // The server forgets the stream when its reactor ends, which may be just after the agent
  // has read the refusal.
  EXPECT_TRUE(WaitUntil([&] { return !server_->server().core().connections.Online(id); }, 2s));
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

namespace preau::testing {
namespace {

// Issue 17, item 9: two agents with one identity (a cloned disk image). The second
// connection is refused and flagged as a clone (audit, `devices show`); the first stays.
TEST_F(EnrollmentTest, ASecondConnectionOfOneIdentityIsRefusedAsACloneAndTheFirstStays) {
  std::string token = server_->CreateToken(kClass, 1);
  auto first = StartAgent("original", token);
  ASSERT_TRUE(first && first->WaitConnected());
  const std::string id = first->agent().device_id();
  first.reset();  // the disk is imaged while the device is off
  std::filesystem::copy(dir_ / "original", dir_ / "clone",
                        std::filesystem::copy_options::recursive);
  first = StartAgent("original", "");
  ASSERT_TRUE(first && first->WaitConnected());

  auto clone = StartAgent("clone", "");
  ASSERT_TRUE(clone);
  EXPECT_EQ(clone->agent().device_id(), id);
  ASSERT_TRUE(WaitUntil([&] { return clone->status().last_error.code() == Code::kAlreadyExists; }))
      << clone->status().last_error.message();
  EXPECT_NE(clone->status().last_error.message().find("clone"), std::string::npos)
      << clone->status().last_error.message();
  EXPECT_FALSE(clone->status().connected);
  EXPECT_EQ(clone->status().connections, 0);
  // The first was never replaced: still its first connection, and online.
  EXPECT_TRUE(first->status().connected);
  EXPECT_EQ(first->status().connections, 1);
  EXPECT_TRUE(server_->Devices()[0].online());

  // Flagged once the refusal repeats with the first still connected (a restart racing its
  // own old stream is refused once, not flagged): in the audit and in `devices show`.
  auto clone_refusals = [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::GetDeviceRequest req;
    req.set_id(id);
    v1::Device d;
    return server_->admin().GetDevice(&ctx, req, &d).ok() ? d.clone_refusals() : 0u;
  };
  ASSERT_TRUE(WaitUntil([&] { return clone_refusals() == 1; }, 20s));
  EXPECT_TRUE(first->status().connected);
  EXPECT_EQ(first->status().connections, 1);
  CommandResult show = RunBinary("preau", {"devices", "show", id, "-o", "json", "--credentials",
                                           server_->data_dir() + "/admin.credentials",
                                           "--server", server_->address()});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("\"clone_refusals\": 1"), std::string::npos) << show.out;
  CommandResult audit = RunBinary("preau", {"audit", "list", "-o", "csv", "--credentials",
                                            server_->data_dir() + "/admin.credentials",
                                            "--server", server_->address()});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  EXPECT_NE(audit.out.find("device.clone"), std::string::npos) << audit.out;

  // Once the clone is gone and the original reconnects, nothing is refused.
  clone.reset();
  first.reset();
  first = StartAgent("original", "");
  ASSERT_TRUE(first && first->WaitConnected());
}

}  // namespace
}  // namespace preau::testing

namespace preau::testing {
namespace {

agent::Identity IdentityIn(const std::string& state_dir) {
  auto state = agent::StateStore::Open(state_dir);
  EXPECT_TRUE(state.ok()) << state.status().message();
  if (!state.ok()) return {};
  auto id = (*state)->LoadIdentity();
  EXPECT_TRUE(id.ok() && id->has_value());
  return id.ok() && id->has_value() ? **id : agent::Identity{};
}

std::string SerialOf(const std::string& cert_pem) {
  auto info = pki::ParseCertificate(cert_pem);
  EXPECT_TRUE(info.ok()) << info.status().message();
  return info.ok() ? info->serial_hex : "";
}

// Issue 17, item 10: a device certificate near its end is renewed in place (a new key, over
// the device's own mTLS identity) without dropping the stream; the new certificate takes
// over at the next connection and the old one stops working.
TEST_F(EnrollmentTest, ACertificateNearItsEndIsRenewedInPlaceWithoutDroppingTheStream) {
  std::string token = server_->CreateToken(kClass, 1);
  { auto a = StartAgent("tablet", token); ASSERT_TRUE(a && a->WaitConnected()); }
  const agent::Identity before = IdentityIn(dir_ / "tablet");

  // A window longer than the certificate's 825 days: it is due at once.
  TestAgentOptions options;
  options.tune = [](agent::AgentOptions& o) { o.renew_before = std::chrono::hours(24 * 900); };
  auto a = TestAgent::Start(*server_, dir_ / "tablet", "", std::move(options));
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE((*a)->WaitConnected());
  ASSERT_TRUE(WaitUntil([&] { return (*a)->status().renewals == 1; }))
      << (*a)->status().last_error.message();
  // Still the first stream, and it still carries reports.
  EXPECT_EQ((*a)->status().connections, 1);
  EXPECT_TRUE((*a)->status().connected);
  (*a)->agent().CheckInventory();
  EXPECT_TRUE(WaitUntil([&] { return (*a)->status().outbox_pending == 0; }));
  a->reset();

  const agent::Identity after = IdentityIn(dir_ / "tablet");
  EXPECT_EQ(after.device_id, before.device_id);
  EXPECT_NE(after.private_key_pem, before.private_key_pem) << "a renewal makes a new key";
  ASSERT_NE(SerialOf(after.certificate_pem), SerialOf(before.certificate_pem));

  // The next connection uses the new certificate, which takes over on the server.
  auto b = StartAgent("tablet", "");
  ASSERT_TRUE(b && b->WaitConnected());
  ASSERT_TRUE(WaitUntil([&] {
    return server_->Devices()[0].certificate_serial() == SerialOf(after.certificate_pem);
  }));
  b.reset();
  // The old certificate no longer opens a stream.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto old_stub = v1::DeviceService::NewStub(grpc::CreateCustomChannel(
      server_->address(),
      MtlsCredentials(before.ca_pem, before.certificate_pem, before.private_key_pem), args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::RenewRequest req;
  req.set_csr_pem(FreshCsr());
  v1::RenewResponse resp;
  EXPECT_EQ(old_stub->Renew(&ctx, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// Issue 17, item 10: the server certificate is rotated with `preau-server rotate-cert`;
// agents trust the CA, so they reconnect to the restarted server by themselves.
TEST_F(EnrollmentTest, ARotatedServerCertificateIsTrustedByConnectedAgents) {
  auto a = StartAgent("tablet", server_->CreateToken(kClass, 1));
  ASSERT_TRUE(a && a->WaitConnected());
  auto old_cert = ReadFile(server_->data_dir() + "/server.pem");
  ASSERT_TRUE(old_cert.ok());
  server_->Stop();
  CommandResult r = RunBinary("preau-server", {"rotate-cert", "--data", server_->data_dir(),
                                               "--host", "mdm.ville.example"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restart the server"), std::string::npos) << r.out;
  auto new_cert = ReadFile(server_->data_dir() + "/server.pem");
  ASSERT_TRUE(new_cert.ok());
  auto info = pki::ParseCertificate(*new_cert);
  ASSERT_TRUE(info.ok());
  EXPECT_NE(info->serial_hex, SerialOf(*old_cert));
  // The names of the old certificate are kept, the new one added.
  for (const char* name : {"localhost", "mdm.ville.example"}) {
    EXPECT_NE(std::find(info->dns_names.begin(), info->dns_names.end(), name),
              info->dns_names.end()) << name;
  }
  EXPECT_NE(std::find(info->ip_addresses.begin(), info->ip_addresses.end(), "127.0.0.1"),
            info->ip_addresses.end());
  int before = a->status().connections;
  server_->Restart();
  ASSERT_TRUE(WaitUntil([&] { return a->status().connections > before && a->status().connected; },
                        20s)) << a->status().last_error.message();
}

}  // namespace
}  // namespace preau::testing
