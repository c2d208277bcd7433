// Benchmark: what idle, unauthenticated TCP connections cost the server, and what an
// operator call costs while they are held.
//
// Starts a real server (its SQLite file, mTLS) in a child process, measures an operator call
// (WhoAmI over a fresh mTLS channel) with nothing else connected, then opens --connections
// TCP connections that never send a byte and measures, while they are held: how many the
// server took (the rest it closed at once, past its cap), its resident memory per held
// connection, and the same operator call (the ratio to the idle figure is printed). Then it
// waits for the server's handshake timeout to close them and prints how long they lasted.
//
// Usage: bench_connection_flood [--connections 5000]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>

#include "common/credentials.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "server/server.h"
#include "tests/support/idle_connections.h"
#include "tools/bench/child_server.h"
#include "tools/bench/proc_stats.h"

namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Median time of `n` WhoAmI calls, each on a new channel (a new connection and handshake).
double OperatorCallMs(const preau::Credentials& creds, const std::string& address, int n,
                      int* failures) {
  std::vector<double> times;
  for (int i = 0; i < n; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto stub = preau::v1::AdminService::NewStub(grpc::CreateCustomChannel(
        address, preau::MtlsCredentials(creds.ca_pem, creds.cert_pem, creds.key_pem), args));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    preau::v1::Operator op;
    auto start = Steady::now();
    grpc::Status st = stub->WhoAmI(&ctx, preau::v1::WhoAmIRequest(), &op);
    times.push_back(Ms(Steady::now() - start));
    if (!st.ok()) ++*failures;
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  size_t connections = 5000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--connections") == 0) connections = std::stoul(argv[i + 1]);
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  std::string dir = std::filesystem::temp_directory_path() / ("preau-bench-flood-" + std::to_string(getpid()));
  preau::server::InitOptions init;
  init.data_dir = dir + "/server";
  if (auto st = preau::server::InitDataDir(init); !st.ok()) {
    std::fprintf(stderr, "init: %s\n", st.message().c_str());
    return 1;
  }
  auto creds = preau::LoadCredentials(init.data_dir + "/admin.credentials");
  if (!creds.ok()) return 1;
  {
    preau::bench::ChildServer server(init.data_dir, [](preau::server::Server& s) {
      return static_cast<uint64_t>(s.connection_stats().open);
    });
    int failures = 0;
    OperatorCallMs(*creds, server.address(), 5, &failures);  // warm-up: first TLS setups
    failures = 0;
    double idle_ms = OperatorCallMs(*creds, server.address(), 21, &failures);
    double rss_before = preau::bench::StatusKb(server.pid(), "VmRSS");

    auto opened = Steady::now();
    std::vector<int> fds = preau::testing::OpenIdleConnections(server.port(), connections);
    // Let the server take them all (its accept loop runs on its own thread).
    uint64_t held = 0;
    for (auto deadline = Steady::now() + 5s; Steady::now() < deadline;) {
      uint64_t now = server.Ask();
      if (now == held && now > 0) break;
      held = now;
      std::this_thread::sleep_for(100ms);  // sampling step of a measurement, not a sync
    }
    double rss_flooded = preau::bench::StatusKb(server.pid(), "VmRSS");
    int flooded_failures = 0;
    double flooded_ms = OperatorCallMs(*creds, server.address(), 21, &flooded_failures);

    // The handshake timeout (10 s by default) closes them.
    double lasted_s = -1;
    for (auto deadline = Steady::now() + 60s; Steady::now() < deadline;) {
      if (server.Ask() <= held / 10) {
        lasted_s = Ms(Steady::now() - opened) / 1000;
        break;
      }
      std::this_thread::sleep_for(100ms);  // sampling step of a measurement, not a sync
    }
    for (int fd : fds) close(fd);

    std::printf("connection flood: %zu idle TCP connections opened, %llu held by the server\n",
                fds.size(), static_cast<unsigned long long>(held));
    std::printf("  server RSS %.1f MB -> %.1f MB: %.1f kB per held unauthenticated connection\n",
                rss_before / 1024, rss_flooded / 1024,
                held ? (rss_flooded - rss_before) / static_cast<double>(held) : 0.0);
    std::printf("  operator call (new mTLS connection + WhoAmI), median of 21: idle %.2f ms, "
                "flooded %.2f ms (x%.2f), failures idle %d, flooded %d\n",
                idle_ms, flooded_ms, flooded_ms / idle_ms, failures, flooded_failures);
    std::printf("  the idle connections were closed by the handshake timeout after %.1f s\n",
                lasted_s);
  }
  std::filesystem::remove_all(dir);
  return 0;
}
