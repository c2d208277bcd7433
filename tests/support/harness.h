// The integration-test harness: a real Préau server (in-process, on 127.0.0.1:0, with a
// real SQLite file — or a real PostgreSQL, see postgres_cluster.h — and real mTLS) and real agents on their own event loop, plus helpers
// to wait on a condition with a deadline (never a bare sleep) and to run the project's
// binaries as a user would.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <grpcpp/channel.h>

#include "agent/core/agent.h"
#include "common/clock.h"
#include "preau/v1/admin.grpc.pb.h"
#include "server/server.h"
#include "server/store/sql.h"

namespace preau::testing {

// A fresh folder under /tmp, removed with its contents at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Polls `cond` until it holds or `timeout` passes; returns whether it held.
bool WaitUntil(const std::function<bool()>& cond,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

// An mTLS channel for the credentials file at `path`, to 127.0.0.1:`port`.
std::shared_ptr<grpc::Channel> OperatorChannel(const std::string& credentials_path, int port);

// An mTLS channel to `address` as the device whose agent kept its state in `state_dir`
// (the agent must be stopped: its identity is read from its state). Null on failure.
std::shared_ptr<grpc::Channel> DeviceChannel(const std::string& state_dir,
                                             const std::string& address);

class TestServer {
 public:
  // Initialises a data folder in `dir` and starts a server on 127.0.0.1:0; with
  // `console_listen` ("127.0.0.1:0"), the teachers' console too (console_port()).
  // `tune` adjusts the server's run options (e.g. its admission rates).
  explicit TestServer(const std::string& dir, const Clock* clock = nullptr,
                      const std::string& console_listen = "",
                      std::function<void(server::RunOptions&)> tune = {});
  ~TestServer();
  void Stop();
  // Stops and starts again on the same data folder and the same port (and console port).
  void Restart();

  int port() const { return port_; }
  int console_port() const { return server_->console_port(); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return data_; }
  // The server's store: DIR/store.db, or a PostgreSQL database when the test process runs
  // on PostgreSQL (PREAU_TEST_STORE=postgresql, see tests/support/postgres_cluster.h).
  std::string store_location() const;
  bool on_postgres() const;
  // A second connection to the server's store, as someone editing it by hand (or an older
  // version) would use; null (and a test failure) if it cannot be opened.
  std::unique_ptr<server::SqlDb> OpenStore() const;
  // With the server stopped: a backup of its store to `path` (a copy of the file, or a
  // pg_dump), and the store put back as that backup holds it.
  void BackUpStore(const std::string& path);
  void RestoreStore(const std::string& path);
  std::string ca_pem() const;
  server::Server& server() { return *server_; }
  v1::AdminService::Stub& admin() { return *admin_; }

  // Admin shortcuts; each asserts success.
  void CreateGroup(const std::string& path);
  std::string CreateToken(const std::string& group, uint32_t uses = 100, int64_t ttl_s = 3600);
  std::vector<v1::Device> Devices(const std::string& group = "");
  // Creates an operator the way `preau operators create` does (its key stays here, the
  // server sees a CSR) and writes its credentials file into `dir`; returns the file's path.
  // `hours` for a periscolaire operator.
  std::string CreateOperator(const std::string& dir, const std::string& name, v1::Role role,
                             const std::vector<std::string>& scopes,
                             const std::string& hours = "");
  // The same, created by the operator of `creator_credentials` instead of the first admin
  // (e.g. a reviewer appointed by someone other than the admin who uploads).
  std::string CreateOperatorAs(const std::string& creator_credentials, const std::string& dir,
                               const std::string& name, v1::Role role,
                               const std::vector<std::string>& scopes,
                               const std::string& hours = "");

 private:
  void StartOn(const std::string& listen);
  std::string data_;
  const Clock* clock_;
  std::string console_listen_;
  std::function<void(server::RunOptions&)> tune_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  int port_ = 0;
};

// An agent with the simulated platform, on its own event-loop thread.
// How a TestAgent is made, beyond its server, state folder and token.
struct TestAgentOptions {
  uint64_t seed = 1;                          // of the simulated platform
  const Clock* clock = nullptr;               // the device's clock (null: the system's)
  std::unique_ptr<agent::Platform> platform;  // instead of the simulated one
  std::function<void(agent::AgentOptions&)> tune;  // e.g. a smaller outbox
  // Adds the plugins under test; without it, the agent gets the standard set.
  std::function<void(agent::Agent&)> add_features;
};

class TestAgent {
 public:
  // Enrols with `token` the first time; reuses the identity in `state_dir` after.
  static Result<std::unique_ptr<TestAgent>> Start(const TestServer& server,
                                                  const std::string& state_dir,
                                                  const std::string& token,
                                                  TestAgentOptions options);
  static Result<std::unique_ptr<TestAgent>> Start(const TestServer& server,
                                                  const std::string& state_dir,
                                                  const std::string& token, uint64_t seed = 1,
                                                  const Clock* clock = nullptr);
  ~TestAgent();
  agent::Agent& agent() { return *agent_; }
  agent::AgentStatus status() const { return agent_->status(); }
  bool WaitConnected(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  TestAgent() = default;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::unique_ptr<agent::Agent> agent_;
};

// The whole audit log as `admin` may read it, following its pages.
std::vector<v1::AuditEntry> WholeAudit(v1::AdminService::Stub& admin);

// Agent options suited to tests: fast reconnects, fast heartbeats.
agent::AgentOptions FastAgentOptions(const std::string& state_dir, const std::string& server);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs one of the project's binaries (name relative to the build folder) with `args`;
// `env` ("NAME=value") adds to the environment and replaces what it names. A binary still
// running after 90 s is killed (the result says so).
CommandResult RunBinary(const std::string& name, const std::vector<std::string>& args,
                        const std::vector<std::string>& env = {});
// This process's environment with `overrides` ("NAME=value") replacing or adding entries.
std::vector<std::string> ChildEnvironment(const std::vector<std::string>& overrides);
// Runs any program (a path, or a name looked up in PATH) to its end.
CommandResult RunTool(const std::string& path, const std::vector<std::string>& args,
                         const std::vector<std::string>& env = {});

}  // namespace preau::testing
