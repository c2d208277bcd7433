#include "tests/support/harness.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "agent/core/standard_features.h"
#include "agent/core/state_store.h"
#include "common/credentials.h"
#include "common/files.h"
#include "common/grpc_credentials.h"
#include "common/pki.h"
#include "server/store/postgres_db.h"
#include "server/store/sqlite_db.h"
#include "tests/support/postgres_cluster.h"

extern char** environ;

namespace preau::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/preau-test-XXXXXX";
  path_ = mkdtemp(tmpl);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling step, not a sync
  }
  return cond();
}

std::shared_ptr<grpc::Channel> OperatorChannel(const std::string& credentials_path, int port) {
  auto creds = LoadCredentials(credentials_path);
  EXPECT_TRUE(creds.ok()) << creds.status().message();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port),
      preau::MtlsCredentials(creds->ca_pem, creds->cert_pem, creds->key_pem), args);
}

std::shared_ptr<grpc::Channel> DeviceChannel(const std::string& state_dir,
                                             const std::string& address) {
  auto state = agent::StateStore::Open(state_dir);
  EXPECT_TRUE(state.ok()) << state.status().message();
  if (!state.ok()) return nullptr;
  auto id = (*state)->LoadIdentity();
  EXPECT_TRUE(id.ok() && id->has_value()) << "no identity in " << state_dir;
  if (!id.ok() || !id->has_value()) return nullptr;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(
      address, MtlsCredentials((*id)->ca_pem, (*id)->certificate_pem, (*id)->private_key_pem),
      args);
}

TestServer::TestServer(const std::string& dir, const Clock* clock,
                       const std::string& console_listen,
                       std::function<void(server::RunOptions&)> tune)
    : data_(dir + "/server"), clock_(clock), console_listen_(console_listen),
      tune_(std::move(tune)) {
  server::InitOptions init;
  init.data_dir = data_;
  init.authority_name = "Ville de Test";
  if (TestStoreIsPostgres()) {
    auto cluster = PostgresCluster::Shared();
    EXPECT_TRUE(cluster.ok()) << cluster.status().message();
    if (cluster.ok()) {
      auto url = (*cluster)->CreateDatabase();
      EXPECT_TRUE(url.ok()) << url.status().message();
      if (url.ok()) init.store = *url;
    }
  }
  Status st = server::InitDataDir(init);
  EXPECT_TRUE(st.ok()) << st.message();
  StartOn("127.0.0.1:0");
}

TestServer::~TestServer() { Stop(); }

void TestServer::StartOn(const std::string& listen) {
  server::RunOptions run;
  run.data_dir = data_;
  run.listen = listen;
  run.clock = clock_;
  run.console_listen = console_listen_;
  if (tune_) tune_(run);
  auto s = server::Server::Start(run);
  ASSERT_TRUE(s.ok()) << s.status().message();
  server_ = std::move(s).value();
  port_ = server_->port();
  admin_ = v1::AdminService::NewStub(OperatorChannel(data_ + "/admin.credentials", port_));
}

void TestServer::Stop() {
  admin_.reset();
  server_.reset();
}

void TestServer::Restart() {
  int port = port_;
  // The console comes back on its port too: an open page reconnects to where it was.
  if (server_ && server_->console_port() > 0) {
    console_listen_ = "127.0.0.1:" + std::to_string(server_->console_port());
  }
  Stop();
  StartOn("127.0.0.1:" + std::to_string(port));
}

bool TestServer::on_postgres() const { return server::PostgresDb::IsUrl(store_location()); }

std::string TestServer::store_location() const {
  auto location = server::StoreLocation(data_);
  return location.ok() ? *location : "";
}

std::unique_ptr<server::SqlDb> TestServer::OpenStore() const {
  std::string location = store_location();
  auto db = on_postgres() ? server::PostgresDb::Open(location)
                          : server::SqliteDb::Open(location, /*create=*/false);
  EXPECT_TRUE(db.ok()) << db.status().message();
  return db.ok() ? std::move(db).value() : nullptr;
}

void TestServer::BackUpStore(const std::string& path) {
  std::string location = store_location();
  if (on_postgres()) {
    auto r = RunTool("/usr/lib/postgresql/15/bin/pg_dump", {"-Fc", "-f", path, location});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    return;
  }
  std::error_code ec;
  std::filesystem::copy_file(location, path, ec);
  ASSERT_FALSE(ec) << ec.message();
}

void TestServer::RestoreStore(const std::string& path) {
  std::string location = store_location();
  if (on_postgres()) {
    auto cluster = PostgresCluster::Shared();
    ASSERT_TRUE(cluster.ok());
    Status st = (*cluster)->RecreateDatabase(location);
    ASSERT_TRUE(st.ok()) << st.message();
    auto r = RunTool("/usr/lib/postgresql/15/bin/pg_restore", {"-d", location, path});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    return;
  }
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(location + suffix, ec);
  std::filesystem::copy_file(path, location, ec);
  ASSERT_FALSE(ec) << ec.message();
}

std::string TestServer::ca_pem() const {
  auto ca = ReadFile(data_ + "/ca.pem");
  return ca.ok() ? *ca : "";
}

namespace {
// Every harness call has a deadline: a server that stops answering fails the test, it
// does not hang it.
constexpr auto kCallDeadline = std::chrono::seconds(30);
void SetDeadline(grpc::ClientContext& ctx) {
  ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
}
}  // namespace

void TestServer::CreateGroup(const std::string& path) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  v1::CreateGroupRequest req;
  req.set_path(path);
  v1::Group g;
  auto st = admin_->CreateGroup(&ctx, req, &g);
  ASSERT_TRUE(st.ok()) << st.error_message();
}

std::string TestServer::CreateToken(const std::string& group, uint32_t uses, int64_t ttl_s) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  v1::CreateTokenRequest req;
  req.set_group(group);
  req.set_uses(uses);
  req.set_ttl_seconds(ttl_s);
  v1::CreateTokenResponse resp;
  auto st = admin_->CreateToken(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp.token();
}

std::vector<v1::Device> TestServer::Devices(const std::string& group) {
  std::vector<v1::Device> out;
  v1::ListDevicesRequest req;
  req.set_group(group);
  do {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::ListDevicesResponse resp;
    auto st = admin_->ListDevices(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    if (!st.ok()) break;
    out.insert(out.end(), resp.devices().begin(), resp.devices().end());
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  return out;
}

std::vector<v1::AuditEntry> WholeAudit(v1::AdminService::Stub& admin) {
  std::vector<v1::AuditEntry> out;
  v1::ListAuditRequest req;
  do {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    v1::ListAuditResponse resp;
    auto st = admin.ListAudit(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    if (!st.ok()) break;
    out.insert(out.end(), resp.entries().begin(), resp.entries().end());
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  return out;
}

std::string TestServer::CreateOperator(const std::string& dir, const std::string& name,
                                       v1::Role role, const std::vector<std::string>& scopes,
                                       const std::string& hours) {
  return CreateOperatorAs(data_ + "/admin.credentials", dir, name, role, scopes, hours);
}

std::string TestServer::CreateOperatorAs(const std::string& creator_credentials,
                                         const std::string& dir, const std::string& name,
                                         v1::Role role, const std::vector<std::string>& scopes,
                                         const std::string& hours) {
  auto creator = v1::AdminService::NewStub(OperatorChannel(creator_credentials, port_));
  auto key = pki::GenerateKey();
  EXPECT_TRUE(key.ok());
  v1::CreateOperatorRequest req;
  req.set_name(name);
  req.set_role(role);
  for (const auto& s : scopes) req.add_scopes(s);
  req.set_hours(hours);
  req.set_csr_pem(*pki::CreateCsr(key->private_key_pem, name));
  v1::CreateOperatorResponse resp;
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  auto st = creator->CreateOperator(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  Credentials c;
  c.server = address();
  c.name = name;
  c.ca_pem = resp.ca_pem();
  c.cert_pem = resp.certificate_pem();
  c.key_pem = key->private_key_pem;
  std::string path = dir + "/" + name + ".credentials";
  EXPECT_TRUE(SaveCredentials(path, c).ok());
  return path;
}

agent::AgentOptions FastAgentOptions(const std::string& state_dir, const std::string& server) {
  agent::AgentOptions o;
  o.state_dir = state_dir;
  o.server = server;
  o.heartbeat = std::chrono::milliseconds(1000);
  o.backoff_min = std::chrono::milliseconds(50);
  o.backoff_max = std::chrono::milliseconds(500);
  return o;
}

Result<std::unique_ptr<TestAgent>> TestAgent::Start(const TestServer& server,
                                                    const std::string& state_dir,
                                                    const std::string& token,
                                                    TestAgentOptions options) {
  std::unique_ptr<TestAgent> t(new TestAgent());
  auto opts = FastAgentOptions(state_dir, server.address());
  opts.ca_pem = server.ca_pem();
  opts.enroll_token = token;
  opts.clock = options.clock;
  if (options.tune) options.tune(opts);
  auto platform = options.platform ? std::move(options.platform)
                                   : agent::MakeSimPlatform(options.seed);
  auto a = agent::Agent::Create(t->io_, opts, std::move(platform));
  if (!a.ok()) return a.status();
  t->agent_ = std::move(a).value();
  t->work_ = std::make_unique<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
      t->io_.get_executor());
  t->thread_ = std::thread([io = &t->io_] { io->run(); });
  if (options.add_features) {
    options.add_features(*t->agent_);
  } else {
    agent::FeatureOptions features;
    features.state_dir = state_dir;
    agent::AddStandardFeatures(*t->agent_, features);
  }
  t->agent_->Start();
  return t;
}

Result<std::unique_ptr<TestAgent>> TestAgent::Start(const TestServer& server,
                                                    const std::string& state_dir,
                                                    const std::string& token, uint64_t seed,
                                                    const Clock* clock) {
  TestAgentOptions options;
  options.seed = seed;
  options.clock = clock;
  return Start(server, state_dir, token, std::move(options));
}

TestAgent::~TestAgent() {
  if (agent_) agent_->Stop();
  // Stop the loop before destroying the agent (see sim::Fleet::Stop).
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
  agent_.reset();
}

bool TestAgent::WaitConnected(std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return agent_->status().connected; }, timeout);
}

std::vector<std::string> ChildEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    bool replaced = false;
    for (const auto& o : overrides) {
      replaced |= v.substr(0, v.find('=') + 1) == std::string_view(o).substr(0, o.find('=') + 1);
    }
    if (!replaced) out.emplace_back(v);
  }
  out.insert(out.end(), overrides.begin(), overrides.end());
  return out;
}
namespace {
constexpr std::chrono::seconds kBinaryDeadline{90};
}  // namespace

CommandResult RunBinary(const std::string& name, const std::vector<std::string>& args,
                        const std::vector<std::string>& env) {
  return RunTool(std::string(PREAU_BINARY_DIR) + "/" + name, args, env);
}

CommandResult RunTool(const std::string& path, const std::vector<std::string>& args,
                         const std::vector<std::string>& env) {
  TempDir tmp;
  std::string out_path = tmp / "out", err_path = tmp / "err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> argv_s = {path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = ChildEnvironment(env);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid;
  CommandResult r;
  if (posix_spawnp(&pid, path.c_str(), &fa, nullptr, argv.data(), envp.data()) != 0) {
    r.err = "cannot start " + path;
    return r;
  }
  posix_spawn_file_actions_destroy(&fa);
  // A binary that does not exit within the deadline is killed: the test fails, it does
  // not hang.
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + kBinaryDeadline;
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling step, not a sync
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    r.err = path + " did not exit within " + std::to_string(kBinaryDeadline.count()) +
            " s and was killed\n";
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto o = ReadFile(out_path);
  auto e = ReadFile(err_path);
  r.out = o.ok() ? *o : "";
  r.err += e.ok() ? *e : "";
  return r;
}

}  // namespace preau::testing
