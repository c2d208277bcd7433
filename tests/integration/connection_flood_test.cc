// Finding 1: idle TCP connections up to the server's file limit made every call time out,
// and once they closed the server never accepted again (gRPC 1.51's listener stops after
// one EMFILE). The real preau-server runs here as a separate process under a low
// `prlimit`, flooded with idle connections on loopback.
#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/files.h"
#include "server/net/accept_loop.h"
#include "tests/support/harness.h"
#include "tests/support/idle_connections.h"
#include "tests/support/server_process.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

TEST(ConnectionFloodTest, AFloodPastTheFileLimitNeitherHangsNorStopsTheServer) {
  // The flood needs more descriptors than a default soft limit may give this test.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = std::max<rlim_t>(rl.rlim_cur, std::min<rlim_t>(rl.rlim_max, 4096));
  setrlimit(RLIMIT_NOFILE, &rl);

  TempDir dir;
  std::string data = dir / "server";
  auto init = RunBinary("preau-server", {"init", "--data", data});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  // The server binary, run under `prlimit` so that its file limit is low.
  ServerProcess server(data, data + "/port", dir / "server.log", {},
                       {"/usr/bin/prlimit", "--nofile=200:256", "--"});
  int port = server.WaitPort(20s);
  ASSERT_GT(port, 0) << ReadFile(dir / "server.log").value();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  auto call = [&] {
    return RunBinary("preau", {"groups", "list", "--credentials", data + "/admin.credentials",
                               "--server", address});
  };
  ASSERT_EQ(call().exit_code, 0);
  long rss_before = server.RssKb();
  size_t sockets_before = server.OpenSockets();

  // Twice the file limit of idle connections: the kernel's listen queue takes them all.
  std::vector<int> flood = OpenIdleConnections(port, 512);
  ASSERT_EQ(flood.size(), 512u);
  // What the server holds once it has taken what it can (its cap is below its limit).
  size_t held = 0;
  WaitUntil([&] {
    size_t now = server.OpenSockets() - sockets_before;
    bool settled = now == held && now > 0;
    held = now;
    return settled;
  }, 5s);
  long rss_flooded = server.RssKb();
  std::printf("flood: %zu idle connections held by the server (file limit 256); RSS %ld -> %ld "
              "kB, %.1f kB per connection\n",
              held, rss_before, rss_flooded,
              held ? static_cast<double>(rss_flooded - rss_before) / held : 0.0);
  EXPECT_GT(held, 100u);
  EXPECT_LT(held, 256u);

  // While flooded, an operator call succeeds or fails fast, saying why.
  auto start = SteadyClock::now();
  auto during = call();
  auto took = SteadyClock::now() - start;
  std::printf("flood: operator call while flooded: exit %d in %lld ms %s\n", during.exit_code,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(took).count()),
              during.err.c_str());
  if (during.exit_code != 0) {
    EXPECT_LT(took, 10s) << during.err;
    EXPECT_NE(during.err.find("cannot reach the server"), std::string::npos) << during.err;
  }
  EXPECT_TRUE(server.Running());

  // After the flood, the same server serves again, with no restart.
  for (int fd : flood) close(fd);
  EXPECT_TRUE(WaitUntil([&] { return call().exit_code == 0; }, 30s))
      << ReadFile(dir / "server.log").value();
  EXPECT_TRUE(server.Running());

  auto log = ReadFile(dir / "server.log");
  ASSERT_TRUE(log.ok());
  EXPECT_NE(log->find("file limit raised from 200 to 256"), std::string::npos) << *log;
}

// Stands in for gRPC behind the accept loop: keeps what it is handed (closed at the end).
class KeepingAcceptor : public grpc::experimental::ExternalConnectionAcceptor {
 public:
  ~KeepingAcceptor() override {
    for (int fd : fds_) close(fd);
  }
  void HandleNewConnection(NewConnectionParameters* p) override {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(p->fd);
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return fds_.size();
  }

 private:
  std::mutex mu_;
  std::vector<int> fds_;
};

// The accept loop itself, in a process with no descriptor left: the waiting connections are
// closed at once (their peers see the end of the stream) and, once descriptors are free,
// new connections are accepted again by the same loop.
TEST(AcceptLoopTest, OutOfDescriptorsItDrainsTheQueueAndThenAcceptsAgain) {
  auto loop = server::AcceptLoop::Listen("127.0.0.1:0");
  ASSERT_TRUE(loop.ok()) << loop.status().message();
  KeepingAcceptor acceptor;
  (*loop)->Start(&acceptor, 1000);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>((*loop)->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

  std::vector<int> hog;  // every descriptor left in this process
  for (;;) {
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    hog.push_back(fd);
  }
  ASSERT_EQ(errno, EMFILE);
  for (int fd : clients) {
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  bool drained = WaitUntil([&] { return (*loop)->stats().refused_emfile >= 3; }, 10s);
  for (int fd : hog) close(fd);
  ASSERT_TRUE(drained) << (*loop)->stats().refused_emfile;
  for (int fd : clients) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10000), 1);
    char byte;
    EXPECT_LE(recv(fd, &byte, 1, 0), 0);  // the end of the stream, or a reset
    close(fd);
  }
  EXPECT_EQ(acceptor.count(), 0u);

  std::vector<int> later = OpenIdleConnections((*loop)->port(), 2);
  ASSERT_EQ(later.size(), 2u);
  EXPECT_TRUE(WaitUntil([&] { return acceptor.count() == 2; }, 10s));
  for (int fd : later) close(fd);
  (*loop)->Stop();
}

}  // namespace
}  // namespace preau::testing
