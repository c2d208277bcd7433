// Benchmark: N devices fetching one large app at once, and what it costs the server.
//
// 1. Starts `preau-server run` as its own process (so its memory is its own), publishes a
//    random package of --size-mb through the real path (upload, review, approve), enrols
//    --agents simulated devices in this process (the apps plugin, 2 downloads at most per
//    device, 256 KiB chunks, partial files on disk, SHA-256 checked before install) and
//    waits until they are all connected.
// 2. Resets the server's peak RSS (/proc/PID/clear_refs), assigns the app: the server pushes
//    the catalogue to every device at once and they all fetch. Measures the time until
//    every device installed it, and the server's VmHWM / sampled VmRSS over that window.
// 3. In the same run, a plain loopback copy of the same bytes: as many TCP connections on
//    127.0.0.1 as devices, each sending the package file (read from the page cache) to a
//    receiver that discards it — no TLS, no gRPC, no disk write, no hash: the ceiling.
//
// Usage: bench_app_fetch [--agents 30] [--size-mb 200] [--server PATH]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "agent/apps/apps_feature.h"
#include "agent/core/agent.h"
#include "common/files.h"
#include "tools/preau/apps_commands.h"
#include "tools/preau/fleet_commands.h"
#include "tools/bench/proc_stats.h"


namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kGroup = "ville/bench";

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void Die(const std::string& what) {
  std::fprintf(stderr, "bench_app_fetch: %s\n", what.c_str());
  std::exit(1);
}

void Check(const preau::Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.message());
}

void WriteRandomFile(const std::string& path, uint64_t size) {
  std::ofstream out(path, std::ios::binary);
  std::mt19937_64 rng(42);
  std::vector<uint64_t> block(1 << 17);  // 1 MiB
  for (uint64_t done = 0; done < size;) {
    for (auto& w : block) w = rng();
    uint64_t n = std::min<uint64_t>(size - done, block.size() * 8);
    out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
    done += n;
  }
}

// `streams` concurrent TCP copies of `file` over 127.0.0.1, receivers discarding. Seconds.
double PlainLoopbackCopy(const std::string& file, int streams) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listener, streams);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < streams; ++i) {
    threads.emplace_back([&] {  // receiver
      int c = ::accept(listener, nullptr, nullptr);
      std::vector<char> buf(256 * 1024);
      while (::recv(c, buf.data(), buf.size(), 0) > 0) {
      }
      ::close(c);
    });
    threads.emplace_back([&, addr] {  // sender
      int s = ::socket(AF_INET, SOCK_STREAM, 0);
      ::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
      int fd = ::open(file.c_str(), O_RDONLY);
      std::vector<char> buf(256 * 1024);
      ssize_t n;
      while ((n = ::read(fd, buf.data(), buf.size())) > 0) {
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::send(s, buf.data() + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) break;
          off += w;
        }
      }
      ::close(fd);
      ::close(s);
    });
  }
  for (auto& t : threads) t.join();
  ::close(listener);
  return Seconds(Clock::now() - start);
}

}  // namespace

int main(int argc, char** argv) {
  int agents = 30;
  uint64_t size_mb = 200;
  std::string server_bin = std::string(PREAU_BENCH_BINARY_DIR) + "/preau-server";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--agents") agents = std::stoi(argv[i + 1]);
    else if (flag == "--size-mb") size_mb = std::stoull(argv[i + 1]);
    else if (flag == "--server") server_bin = argv[i + 1];
    else Die("unknown flag " + flag + " (use --agents N, --size-mb N, --server PATH)");
  }
  const uint64_t size = size_mb << 20;
  char tmpl[] = "/tmp/preau-bench-fetch-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string data = dir + "/server";

  // --- the server, as its own process -----------------------------------------------------
  pid_t init = preau::bench::Spawn({server_bin, "init", "--data", data}, dir + "/init.log");
  int status = 0;
  if (init < 0 || ::waitpid(init, &status, 0) < 0 || status != 0) Die("preau-server init failed");
  const std::string port_file = dir + "/port";
  pid_t server = preau::bench::Spawn({server_bin, "run", "--data", data, "--listen", "127.0.0.1:0",
                        "--port-file", port_file}, dir + "/server.log");
  if (server < 0) Die("cannot start " + server_bin);
  std::string port;
  for (auto deadline = Clock::now() + 20s; Clock::now() < deadline && port.empty();) {
    auto p = preau::ReadFile(port_file);
    if (p.ok()) port = *p;
    while (!port.empty() && (port.back() == '\n' || port.back() == ' ')) port.pop_back();
    std::this_thread::sleep_for(20ms);  // polling for a file another process writes
  }
  if (port.empty()) Die("the server did not write its port");
  const std::string address = "127.0.0.1:" + port;

  // --- publish the package through the real path -------------------------------------------
  namespace cli = preau::cli;
  std::ostringstream out, err;
  cli::CliContext admin;
  admin.connection.credentials_path = data + "/admin.credentials";
  admin.connection.server = address;
  admin.connection.deadline = 120s;
  admin.out = &out;
  admin.err = &err;
  Check(cli::GroupsCreate(admin, {kGroup}), "groups create");
  cli::OperatorsCreateOptions rev;
  rev.name = "reviewer";
  rev.role = "reviewer";
  rev.out = dir + "/reviewer.credentials";
  rev.server_address = address;
  Check(cli::OperatorsCreate(admin, rev), "operators create");
  cli::CliContext reviewer = admin;
  reviewer.connection.credentials_path = rev.out;

  // Random bytes: a .deb name would be refused, the server reads the header.
  const std::string package = dir + "/suite.bin";
  WriteRandomFile(package, size);
  cli::AppsUploadOptions up;
  up.file = package;
  up.name = "org.bench.suite";
  up.version = "1.0";
  up.progress = "never";
  auto t0 = Clock::now();
  Check(cli::AppsUpload(admin, up), "apps upload");
  double upload_s = Seconds(Clock::now() - t0);
  Check(cli::AppsReview(reviewer, {"org.bench.suite@1.0", true, false, ""}), "apps review");

  out.str("");
  Check(cli::TokenCreate(admin, {kGroup, static_cast<uint32_t>(agents), "1h"}), "token create");
  std::string token = out.str();
  while (!token.empty() && token.back() == '\n') token.pop_back();

  // --- the devices --------------------------------------------------------------------------
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::vector<std::thread> io_threads;
  for (int i = 0; i < 2; ++i) io_threads.emplace_back([&] { io.run(); });
  std::vector<std::unique_ptr<preau::agent::Agent>> fleet;
  std::vector<preau::agent::AppsFeature*> features;
  auto ca = preau::ReadFile(data + "/ca.pem");
  for (int i = 0; i < agents; ++i) {
    preau::agent::AgentOptions o;
    o.state_dir = dir + "/device-" + std::to_string(i);
    o.server = address;
    o.ca_pem = ca.ok() ? *ca : "";
    o.enroll_token = token;
    auto a = preau::agent::Agent::Create(io, o, preau::agent::MakeSimPlatform(1000 + i));
    if (!a.ok()) Die("enrolling device " + std::to_string(i) + ": " + a.status().message());
    preau::agent::AppsOptions apps;
    apps.dir = preau::agent::AppsDirFor(o.state_dir, "");
    auto f = std::make_unique<preau::agent::AppsFeature>(apps);
    features.push_back(f.get());
    (*a)->AddFeature(std::move(f));
    (*a)->Start();
    fleet.push_back(std::move(a).value());
  }
  for (auto deadline = Clock::now() + 60s; Clock::now() < deadline;) {
    int connected = 0;
    for (auto& a : fleet) connected += a->status().connected ? 1 : 0;
    if (connected == agents) break;
    std::this_thread::sleep_for(20ms);
  }

  // --- the fetch ----------------------------------------------------------------------------
  const double rss_before = preau::bench::StatusKb(server, "VmRSS") / 1024;
  preau::bench::ResetPeak(server);
  std::atomic<bool> sampling{true};
  std::atomic<double> rss_max{rss_before};
  std::thread sampler([&] {
    while (sampling) {
      double r = preau::bench::StatusKb(server, "VmRSS") / 1024;
      if (r > rss_max) rss_max = r;
      std::this_thread::sleep_for(20ms);
    }
  });
  t0 = Clock::now();
  Check(cli::AppsAssign(admin, {"org.bench.suite@1.0", kGroup, true, false}), "apps assign");
  bool all = false;
  for (auto deadline = Clock::now() + 1800s; Clock::now() < deadline && !all;) {
    int installed = 0;
    for (auto* f : features) installed += f->stats().installs.load() > 0 ? 1 : 0;
    all = installed == agents;
    if (!all) std::this_thread::sleep_for(20ms);
  }
  const double fetch_s = Seconds(Clock::now() - t0);
  sampling = false;
  sampler.join();
  const double hwm = preau::bench::StatusKb(server, "VmHWM") / 1024;
  uint64_t fetched = 0, hash_failures = 0;
  for (auto* f : features) {
    fetched += f->stats().bytes_fetched.load();
    hash_failures += f->stats().hash_failures.load();
  }
  for (auto& a : fleet) a->Stop();
  fleet.clear();
  work.reset();
  io.stop();
  for (auto& t : io_threads) t.join();
  ::kill(server, SIGTERM);
  ::waitpid(server, &status, 0);
  if (!all) Die("not every device installed the package within 30 minutes");

  // --- the ceiling: a plain loopback copy of the same bytes --------------------------------
  const double plain_s = PlainLoopbackCopy(package, agents);
  const double total_mb = static_cast<double>(size_mb) * agents;
  const double preau_mbps = total_mb / fetch_s, plain_mbps = total_mb / plain_s;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  std::printf("devices                      %d\n", agents);
  std::printf("package                      %llu MiB (upload %.1f s, %.0f MiB/s)\n",
              static_cast<unsigned long long>(size_mb), upload_s, size_mb / upload_s);
  std::printf("fetch + verify + install     %.1f s for all (%.0f MiB fetched, %llu hash "
              "failures)\n",
              fetch_s, static_cast<double>(fetched) / (1 << 20),
              static_cast<unsigned long long>(hash_failures));
  std::printf("aggregate throughput         %.0f MiB/s\n", preau_mbps);
  std::printf("plain loopback TCP copy      %.1f s, %.0f MiB/s (%d streams, receivers discard)\n",
              plain_s, plain_mbps, agents);
  std::printf("ratio preau / plain          %.2f\n", preau_mbps / plain_mbps);
  std::printf("server RSS before            %.1f MiB\n", rss_before);
  std::printf("server peak RSS (VmHWM)      %.1f MiB (sampled max %.1f MiB)\n", hwm,
              rss_max.load());
  std::printf("server peak RSS growth       %.1f MiB (target < 64 MiB)\n",
              std::max(hwm, rss_max.load()) - rss_before);
  return 0;
}
