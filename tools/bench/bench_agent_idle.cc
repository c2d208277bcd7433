// Benchmark: what an idle, connected agent costs its device, and how fast devices enrol.
//
// 1. Starts a real server (in this process) and one `preau-agent --platform sim` process,
//    waits until it is connected, then samples the agent's /proc figures for --seconds:
//    VmRSS and RssAnon (/proc/PID/status), PSS (/proc/PID/smaps_rollup), and CPU time
//    (/proc/PID/stat). The same figures are taken in the same run for a bare baseline:
//    this binary re-executed as a minimal gRPC client holding one mTLS Connect stream
//    open and doing nothing else — the floor any gRPC agent pays.
// 2. Enrols --enroll-count simulated devices (in-memory state, 8 at a time) against the
//    same server and prints devices/s.
//
// Usage: bench_agent_idle [--seconds 60] [--enroll-count 500] [--agent PATH]
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "agent/core/enroller.h"
#include "common/credentials.h"
#include "common/files.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/device.grpc.pb.h"
#include "server/server.h"
#include "tools/bench/admin_calls.h"
#include "tools/sim/fleet.h"
#include "tools/bench/proc_stats.h"


namespace {

using namespace std::chrono_literals;

struct Sample {
  double rss_mb = 0, anon_mb = 0, pss_mb = 0;
};

Sample Measure(pid_t pid) {
  std::string base = "/proc/" + std::to_string(pid);
  return {preau::bench::ProcKb(base + "/status", "VmRSS:") / 1024, preau::bench::ProcKb(base + "/status", "RssAnon:") / 1024,
          preau::bench::ProcKb(base + "/smaps_rollup", "Pss:") / 1024};
}

int Threads(pid_t pid) {
  return static_cast<int>(preau::bench::ProcKb("/proc/" + std::to_string(pid) + "/status", "Threads:"));
}

struct Idle {
  Sample avg, max;
  double cpu_pct = 0;
  int threads = 0;
};

Idle Observe(pid_t pid, int seconds) {
  Idle r;
  double cpu0 = preau::bench::CpuSeconds(pid);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < seconds; ++i) {
    std::this_thread::sleep_for(1s);  // sampling period of the measurement, not a sync
    Sample s = Measure(pid);
    r.avg.rss_mb += s.rss_mb / seconds;
    r.avg.anon_mb += s.anon_mb / seconds;
    r.avg.pss_mb += s.pss_mb / seconds;
    r.max.rss_mb = std::max(r.max.rss_mb, s.rss_mb);
    r.max.anon_mb = std::max(r.max.anon_mb, s.anon_mb);
    r.max.pss_mb = std::max(r.max.pss_mb, s.pss_mb);
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_pct = 100.0 * (preau::bench::CpuSeconds(pid) - cpu0) / wall;
  r.threads = Threads(pid);
  return r;
}

// The baseline: one mTLS Connect stream, a hello, then nothing.
int BareClient(const std::string& state_db_dir, const std::string& server) {
  auto store = preau::agent::StateStore::Open(state_db_dir);
  if (!store.ok()) return 1;
  auto id = (*store)->LoadIdentity();
  if (!id.ok() || !id->has_value()) return 1;
  store->reset();
  auto stub = preau::v1::DeviceService::NewStub(grpc::CreateChannel(
      server,
      preau::MtlsCredentials((*id)->ca_pem, (*id)->certificate_pem, (*id)->private_key_pem)));
  grpc::ClientContext ctx;
  auto stream = stub->Connect(&ctx);
  preau::v1::AgentMessage hello;
  hello.set_id("bare-hello");
  hello.mutable_hello()->set_protocol(preau::v1::PROTOCOL_VERSION_1);
  stream->Write(hello);
  preau::v1::ServerMessage m;
  while (stream->Read(&m)) {
  }
  return 0;
}

void Wait(pid_t pid) {
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
}

}  // namespace

int main(int argc, char** argv) {
  int seconds = 60;
  size_t enroll_count = 500;
  std::string agent_bin = std::string(PREAU_BENCH_BINARY_DIR) + "/preau-agent";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--bare-client" && i + 2 < argc) return BareClient(argv[i + 1], argv[i + 2]);
    if (a == "--seconds" && i + 1 < argc) seconds = std::stoi(argv[++i]);
    else if (a == "--enroll-count" && i + 1 < argc) enroll_count = std::stoul(argv[++i]);
    else if (a == "--agent" && i + 1 < argc) agent_bin = argv[++i];
  }
  char tmpl[] = "/tmp/preau-bench-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  preau::server::InitOptions init;
  init.data_dir = dir + "/server";
  if (auto st = preau::server::InitDataDir(init); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  preau::server::RunOptions run;
  run.data_dir = init.data_dir;
  auto server = preau::server::Server::Start(run);
  if (!server.ok()) return 1;
  std::string address = "127.0.0.1:" + std::to_string((*server)->port());
  auto creds = preau::LoadCredentials(init.data_dir + "/admin.credentials");
  auto admin = preau::v1::AdminService::NewStub(grpc::CreateChannel(
      address, preau::MtlsCredentials(creds->ca_pem, creds->cert_pem, creds->key_pem)));
  preau::bench::MustCreateGroup(*admin, "bench/school/class");
  auto token = [&](uint32_t uses) {
    return preau::bench::MustCreateToken(*admin, "bench/school/class", uses);
  };

  // --- idle agent ---
  auto& conns = (*server)->core().connections;
  pid_t agent = preau::bench::Spawn({agent_bin, "--state", dir + "/agent", "--server", address, "--ca",
                       init.data_dir + "/ca.pem", "--enroll", token(1), "--platform", "sim"});
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (conns.Count() < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  if (conns.Count() < 1) {
    std::fprintf(stderr, "agent did not connect\n");
    return 1;
  }
  std::printf("Idle agent, %d s, sampled every second (preau-agent --platform sim):\n", seconds);
  Idle a = Observe(agent, seconds);
  Wait(agent);
  while (conns.Count() > 0) std::this_thread::sleep_for(10ms);

  pid_t bare = preau::bench::Spawn({"/proc/self/exe", "--bare-client", dir + "/agent", address});
  bare = bare > 0 ? bare : preau::bench::Spawn({argv[0], "--bare-client", dir + "/agent", address});
  deadline = std::chrono::steady_clock::now() + 30s;
  while (conns.Count() < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  Idle b = Observe(bare, seconds);
  Wait(bare);

  std::printf("  %-26s %10s %10s %10s %10s %8s %8s\n", "", "VmRSS MB", "PSS MB", "RssAnon MB",
              "max RSS", "CPU %", "threads");
  std::printf("  %-26s %10.1f %10.1f %10.1f %10.1f %8.3f %8d\n", "preau-agent", a.avg.rss_mb,
              a.avg.pss_mb, a.avg.anon_mb, a.max.rss_mb, a.cpu_pct, a.threads);
  std::printf("  %-26s %10.1f %10.1f %10.1f %10.1f %8.3f %8d\n", "bare gRPC mTLS client", b.avg.rss_mb,
              b.avg.pss_mb, b.avg.anon_mb, b.max.rss_mb, b.cpu_pct, b.threads);
  std::printf("  %-26s %10.2f %10.2f %10.2f\n", "ratio agent / bare", a.avg.rss_mb / b.avg.rss_mb,
              a.avg.pss_mb / b.avg.pss_mb, a.avg.anon_mb / b.avg.anon_mb);

  // --- enrolment throughput ---
  preau::sim::FleetOptions f;
  f.server = address;
  f.ca_pem = *preau::ReadFile(init.data_dir + "/ca.pem");
  f.token = token(static_cast<uint32_t>(enroll_count));
  f.count = enroll_count;
  f.enroll_parallelism = 8;
  auto fleet = preau::sim::Fleet::Start(f);
  if (!fleet.ok()) {
    std::fprintf(stderr, "enrolment failed: %s\n", fleet.status().message().c_str());
    return 1;
  }
  std::printf("Enrolment: %zu devices in %.2f s = %.0f devices/s (8 in flight, server in-process, "
              "key generation included)\n",
              enroll_count, (*fleet)->enroll_seconds(), enroll_count / (*fleet)->enroll_seconds());
  (*fleet)->Stop();
  (*server)->Shutdown();
  std::string rm = "rm -rf " + dir;
  return std::system(rm.c_str()) == 0 ? 0 : 1;
}
