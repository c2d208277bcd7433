// Replicas benchmark: one PostgreSQL, one replica then three (deploy/SCALE-OUT.md), each a
// real `preau-server run` process on the same data folder, and a simulated fleet spread
// over them by the agents' list of servers. On one 2-core machine this is not a speed-up:
// it shows that a class spread over three replicas is locked through one of them, what
// that costs against one replica holding the whole class, and how the CPU splits between
// the replicas and PostgreSQL.
//
//   bench_replicas [devices=600] [runs=40] [class_size=30]
//
// For each count (1, then 3) on a fresh database: the fleet connects, then `runs` class
// commands through replica 1 (lock/unlock alternating, each returning on the last ack)
// with bare unary calls beside them (tools/bench/class_lock_runs.h), and the CPU each
// process used during those runs.
#include <dirent.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/credentials.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/command.grpc.pb.h"
#include "server/server.h"
#include "tests/support/postgres_cluster.h"
#include "tests/support/server_process.h"
#include "tools/bench/admin_calls.h"
#include "tools/bench/class_lock_runs.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/stats.h"
#include "tools/sim/fleet.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
using preau::bench::Ms;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_replicas: %s\n", what.c_str());
  std::exit(1);
}

// CPU seconds of every PostgreSQL process on the machine (the test cluster's server and
// its backends: the benchmark's is the only one running).
double PostgresCpuSeconds() {
  double total = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream comm(e.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c == "postgres") total += preau::bench::CpuSeconds(std::stoi(name));
  }
  return total;
}

struct Round {
  preau::bench::ClassLockTimes times;
  std::vector<double> replica_cpu_s;
  double postgres_cpu_s = 0;
  double connect_s = 0;
};

Round RunWith(int replicas, size_t devices, int runs, size_t class_size, const std::string& tmp) {
  auto cluster = preau::testing::PostgresCluster::Shared();
  if (!cluster.ok()) Die(cluster.status().message());
  auto url = (*cluster)->CreateDatabase();
  if (!url.ok()) Die(url.status().message());
  std::string data = tmp + "/server-" + std::to_string(replicas);
  preau::server::InitOptions init;
  init.data_dir = data;
  init.store = *url;
  if (auto st = preau::server::InitDataDir(init); !st.ok()) Die(st.message());

  std::vector<std::unique_ptr<preau::testing::ServerProcess>> servers;
  std::string list;
  for (int i = 0; i < replicas; ++i) {
    std::string n = std::to_string(i + 1);
    servers.push_back(std::make_unique<preau::testing::ServerProcess>(
        data, data + "/port-" + n, tmp + "/replica-" + std::to_string(replicas) + "-" + n + ".log"));
    if (servers.back()->WaitPort(std::chrono::seconds(30)) == 0) Die("replica " + n + " did not start");
    list += (i ? "," : "") + servers.back()->address();
  }

  auto creds = preau::LoadCredentials(data + "/admin.credentials");
  if (!creds.ok()) Die(creds.status().message());
  auto channel = grpc::CreateChannel(servers[0]->address(),
                                     preau::MtlsCredentials(creds->ca_pem, creds->cert_pem,
                                                            creds->key_pem));
  auto admin = preau::v1::AdminService::NewStub(channel);
  auto klass = preau::v1::ClassService::NewStub(channel);
  const std::string kClass = "ville/jules-ferry/cm2-a", kRest = "ville/autres/ecoles";
  auto fleet = [&](const std::string& group, size_t count, size_t first_seed) {
    preau::sim::FleetOptions o;
    o.server = list;  // device i starts on replica i % n
    o.ca_pem = creds->ca_pem;
    preau::bench::MustCreateGroup(*admin, group);
    o.token = preau::bench::MustCreateToken(*admin, group, static_cast<uint32_t>(count));
    o.count = count;
    o.first_seed = first_seed;
    auto f = preau::sim::Fleet::Start(o);
    if (!f.ok()) Die("fleet: " + f.status().message());
    return std::move(f).value();
  };
  auto t0 = SteadyClock::now();
  auto in_class = fleet(kClass, class_size, 1);
  auto rest = fleet(kRest, devices - class_size, class_size + 1);
  while (in_class->Connected() + rest->Connected() < devices) {
    if (SteadyClock::now() - t0 > std::chrono::minutes(5)) Die("devices did not all connect");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Round r;
  r.connect_s = Ms(SteadyClock::now() - t0) / 1000;
  // Every replica sees the class online (presence in the store) before the runs.
  std::this_thread::sleep_for(std::chrono::seconds(2));

  std::vector<double> cpu0;
  for (auto& s : servers) cpu0.push_back(preau::bench::CpuSeconds(s->pid()));
  double pg0 = PostgresCpuSeconds();
  auto times = preau::bench::RunClassLocks(*admin, *klass, kClass, class_size, runs);
  if (!times.ok()) Die(times.status().message());
  r.times = *times;
  for (size_t i = 0; i < servers.size(); ++i) {
    r.replica_cpu_s.push_back(preau::bench::CpuSeconds(servers[i]->pid()) - cpu0[i]);
  }
  r.postgres_cpu_s = PostgresCpuSeconds() - pg0;
  in_class->Stop();
  rest->Stop();
  return r;
}

void Print(int replicas, const Round& r, size_t devices, int runs, size_t class_size) {
  std::printf("\n%d replica%s on one PostgreSQL, %zu devices spread over them (all connected in %.1f s)\n",
              replicas, replicas > 1 ? "s" : "", devices, r.connect_s);
  preau::bench::PrintClassLocks(r.times, class_size, devices, runs);
  std::printf("  CPU during the runs:");
  for (size_t i = 0; i < r.replica_cpu_s.size(); ++i) {
    std::printf(" replica %zu %.2f s,", i + 1, r.replica_cpu_s[i]);
  }
  std::printf(" PostgreSQL %.2f s\n", r.postgres_cpu_s);
}

}  // namespace

int main(int argc, char** argv) {
  size_t devices = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 600;
  int runs = argc > 2 ? std::atoi(argv[2]) : 40;
  size_t class_size = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 30;
  if (devices <= class_size || runs < 2 || class_size == 0) {
    Die("usage: bench_replicas [devices] [runs] [class_size]");
  }
  preau::sim::RaiseFileLimit();
  char tmpl[] = "/tmp/bench-replicas-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  Round one = RunWith(1, devices, runs, class_size, tmpl);
  Print(1, one, devices, runs, class_size);
  Round three = RunWith(3, devices, runs, class_size, tmpl);
  Print(3, three, devices, runs, class_size);
  double p50_1 = preau::bench::Percentile(one.times.class_ms, 0.5);
  double p50_3 = preau::bench::Percentile(three.times.class_ms, 0.5);
  double p99_1 = preau::bench::Percentile(one.times.class_ms, 0.99);
  double p99_3 = preau::bench::Percentile(three.times.class_ms, 0.99);
  std::printf("\nclass lock, 3 replicas / 1 replica (same run): p50 %.2fx, p99 %.2fx\n",
              p50_3 / p50_1, p99_3 / p99_1);
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return 0;
}
