// Fleet scale benchmark: the largest fleet one server holds here, what each connected
// device costs it, and how fast the whole fleet comes back after a server restart.
//
//   bench_fleet_scale [--devices 19000] [--per-process 5000] [--idle-seconds 30]
//                     [--runs 100] [--class-size 30]
//
// The real `preau-server` binary (SQLite file, mTLS, its default admission rates) on
// 0.0.0.0, and `preau-sim` processes (each device a real agent with its own key, TLS
// connection and stream) of at most --per-process devices each, each process on its own
// loopback address (127.0.0.2, .3, ...): no process here may hold more than 20,000
// descriptors, so neither the server nor one simulator can hold 50,000 connections.
// Measured in one run:
//  1. cold start: every device enrolled and connected (seconds; the simulators are started
//     one after the other, each once the previous one's devices are connected);
//  2. the server's resident memory per connected device (VmRSS with the fleet minus VmRSS
//     before any device, over the devices) and its idle CPU over --idle-seconds;
//  3. a class of --class-size among the connected fleet: class lock/unlock to the last
//     ack, p50/p99, against a bare unary call (WhoAmI) on the same channel;
//  4. the server restarted (SIGTERM, then the same data folder and port): the time until
//     every device is connected again, and how many retry-later answers it took.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "common/credentials.h"
#include "common/files.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/command.grpc.pb.h"
#include "tools/bench/admin_calls.h"
#include "tools/bench/class_lock_runs.h"
#include "tools/bench/proc_stats.h"
#include "tools/bench/stats.h"

namespace {

using Steady = std::chrono::steady_clock;
using preau::bench::Ms;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_fleet_scale: %s\n", what.c_str());
  std::exit(1);
}

struct Server {
  pid_t pid = -1;
  int port = 0;
};

Server StartServer(const std::string& bin, const std::string& data, const std::string& listen,
                   const std::string& log) {
  std::string port_file = data + "/../port";
  std::filesystem::remove(port_file);
  Server s;
  s.pid = preau::bench::Spawn({bin + "/preau-server", "run", "--data", data, "--listen", listen,
                               "--port-file", port_file, "--max-connections", "19800"},
                              log);
  if (s.pid < 0) Die("cannot start preau-server");
  auto t0 = Steady::now();
  while (Steady::now() - t0 < std::chrono::seconds(60)) {
    auto text = preau::ReadFile(port_file);
    if (text.ok() && !text->empty()) {
      s.port = std::atoi(text->c_str());
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Die("the server did not start (see " + log + ")");
}

void StopServer(Server& s) {
  kill(s.pid, SIGTERM);
  int status = 0;
  waitpid(s.pid, &status, 0);
  s.pid = -1;
}

struct Sim {
  pid_t pid = -1;
  std::string status_file;
  size_t count = 0;
};

// Devices connected now, over every simulator (from their status files).
size_t Connected(const std::vector<Sim>& sims) {
  size_t n = 0;
  for (const auto& s : sims) {
    auto text = preau::ReadFile(s.status_file);
    if (text.ok()) n += std::strtoul(text->c_str(), nullptr, 10);
  }
  return n;
}

// Dies if a simulator has exited (preau-sim gives up its whole fleet when one enrolment
// fails), naming its log, rather than waiting for devices that will never come.
void CheckSimsRunning(const std::vector<Sim>& sims) {
  for (size_t i = 0; i < sims.size(); ++i) {
    int status = 0;
    if (waitpid(sims[i].pid, &status, WNOHANG) == sims[i].pid) {
      Die("simulator " + std::to_string(i) + " exited (status " + std::to_string(status) +
          "), see " + sims[i].status_file.substr(0, sims[i].status_file.size() - 7) + ".log");
    }
  }
}

double WaitAll(const std::vector<Sim>& sims, size_t devices, Steady::time_point t0,
               std::chrono::minutes limit, const char* what) {
  size_t last = 0;
  auto last_print = Steady::now();
  for (;;) {
    CheckSimsRunning(sims);
    size_t n = Connected(sims);
    if (n >= devices) return Ms(Steady::now() - t0) / 1000;
    if (Steady::now() - t0 > limit) {
      Die(std::string(what) + ": only " + std::to_string(n) + " of " + std::to_string(devices) +
          " connected after " + std::to_string(limit.count()) + " min");
    }
    if (Steady::now() - last_print > std::chrono::seconds(15) && n != last) {
      std::fprintf(stderr, "  %s: %zu/%zu connected at %.0f s\n", what, n, devices,
                   Ms(Steady::now() - t0) / 1000);
      last = n;
      last_print = Steady::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t devices = 19000, per_process = 5000, class_size = 30;
  int idle_seconds = 30, runs = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    unsigned long v = std::strtoul(argv[i + 1], nullptr, 10);
    if (flag == "--devices") devices = v;
    else if (flag == "--per-process") per_process = v;
    else if (flag == "--idle-seconds") idle_seconds = static_cast<int>(v);
    else if (flag == "--runs") runs = static_cast<int>(v);
    else if (flag == "--class-size") class_size = v;
    else Die("unknown flag " + flag);
  }
  if (devices <= class_size || per_process == 0 || runs < 2) Die("bad arguments");
  const std::string bin = PREAU_BENCH_BINARY_DIR;
  char tmpl[] = "/tmp/bench-scale-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  const std::string root = tmpl, data = root + "/server";
  // Each simulator reaches the server on its own loopback address, which the server's
  // certificate must name.
  size_t processes = 1 + (devices - class_size + per_process - 1) / per_process;
  std::vector<std::string> init_args = {bin + "/preau-server", "init", "--data", data};
  for (size_t n = 0; n < processes; ++n) {
    init_args.insert(init_args.end(), {"--host", "127.0.0." + std::to_string(2 + n)});
  }
  pid_t init = preau::bench::Spawn(init_args, root + "/init.log");
  int st = 0;
  waitpid(init, &st, 0);
  if (st != 0) Die("preau-server init failed");

  Server server = StartServer(bin, data, "0.0.0.0:0", root + "/server.log");
  std::this_thread::sleep_for(std::chrono::seconds(2));  // settle before the baseline
  const double rss_empty_kb = preau::bench::StatusKb(server.pid, "VmRSS");

  auto creds = preau::LoadCredentials(data + "/admin.credentials");
  if (!creds.ok()) Die(creds.status().message());
  auto channel = grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server.port),
      preau::MtlsCredentials(creds->ca_pem, creds->cert_pem, creds->key_pem));
  auto admin = preau::v1::AdminService::NewStub(channel);
  auto klass = preau::v1::ClassService::NewStub(channel);
  const std::string kClass = "region/lycee/seconde-a", kRest = "region/autres";
  preau::bench::MustCreateGroup(*admin, kClass);
  preau::bench::MustCreateGroup(*admin, kRest);
  if (!preau::WriteFileAtomic(root + "/ca.pem", creds->ca_pem).ok()) Die("ca.pem");

  // The class first (its own small simulator), then the rest in processes of per_process.
  std::vector<Sim> sims;
  auto start_sim = [&](const std::string& group, size_t count, size_t first_seed) {
    Sim s;
    s.count = count;
    int n = static_cast<int>(sims.size());
    s.status_file = root + "/sim-" + std::to_string(n) + ".status";
    std::string address = "127.0.0." + std::to_string(2 + n) + ":" + std::to_string(server.port);
    s.pid = preau::bench::Spawn(
        {bin + "/preau-sim", "--server", address, "--ca", root + "/ca.pem", "--enroll",
         preau::bench::MustCreateToken(*admin, group, static_cast<uint32_t>(count)), "--count", std::to_string(count),
         "--first-seed", std::to_string(first_seed), "--threads", "2", "--status-file",
         s.status_file},
        root + "/sim-" + std::to_string(n) + ".log");
    if (s.pid < 0) Die("cannot start preau-sim");
    sims.push_back(s);
  };
  // One simulator after the other, each once the previous one's devices are all
  // connected: a simulator enrolling while others open thousands of TLS connections had
  // an enrolment's connection closed under that load (2 cores, load 16), and preau-sim
  // gives up its whole fleet on one failed enrolment. The cold start is then the sum.
  auto t0 = Steady::now();
  start_sim(kClass, class_size, 1);
  WaitAll(sims, class_size, t0, std::chrono::minutes(5), "class");
  for (size_t done = class_size; done < devices;) {
    size_t n = std::min(per_process, devices - done);
    start_sim(kRest, n, done + 1);
    done += n;
    WaitAll(sims, done, t0, std::chrono::minutes(25), "cold start");
  }
  double cold_s = Ms(Steady::now() - t0) / 1000;
  std::printf("%zu devices in %zu simulator processes (started one after the other): "
              "enrolled and connected in %.1f s\n",
              devices, sims.size(), cold_s);
  std::fflush(stdout);

  // Idle: let the enrolment's and connections' work settle, then measure.
  std::this_thread::sleep_for(std::chrono::seconds(10));
  double rss_kb = preau::bench::StatusKb(server.pid, "VmRSS");
  double cpu0 = preau::bench::CpuSeconds(server.pid);
  std::this_thread::sleep_for(std::chrono::seconds(idle_seconds));
  double idle_cpu = (preau::bench::CpuSeconds(server.pid) - cpu0) / idle_seconds;
  size_t fds = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(server.pid) + "/fd")) {
    ++fds;
  }
  std::printf("server with %zu connected devices: VmRSS %.0f MB (%.0f MB empty), "
              "%.1f KB per connected device; idle CPU %.2f %% of one core over %d s; %zu fds\n",
              devices, rss_kb / 1024, rss_empty_kb / 1024, (rss_kb - rss_empty_kb) / devices,
              idle_cpu * 100, idle_seconds, fds);
  // What 50,000 would take of the same server, from what this fleet cost: the memory, and
  // a descriptor each (this sandbox's hard limit, 20,000 per process, is what stops it).
  const double per_device_kb = (rss_kb - rss_empty_kb) / devices;
  const double server_50k_gb = (rss_empty_kb + 50000 * per_device_kb) / (1024 * 1024);
  std::printf("50,000 connected devices at this cost: %.1f GB of server memory "
              "(%.0f MB + 50,000 x %.1f KB), and more than 50,000 descriptors\n",
              server_50k_gb, rss_empty_kb / 1024,
              per_device_kb);
  // The floor that stops 50,000 here, read from the server itself in this run: its hard
  // descriptor limit (which it cannot raise without CAP_SYS_RESOURCE) against the
  // descriptors each connected device costs it.
  long hard_limit = 0;
  {
    std::ifstream limits("/proc/" + std::to_string(server.pid) + "/limits");
    std::string line;
    while (std::getline(limits, line)) {
      if (line.rfind("Max open files", 0) == 0) {
        std::istringstream fields(line.substr(std::strlen("Max open files")));
        long soft = 0;
        fields >> soft >> hard_limit;
      }
    }
  }
  const double fds_per_device = static_cast<double>(fds) / devices;
  std::printf("descriptor floor: the server's hard limit is %ld descriptors, %.3f per connected "
              "device here: at most ~%.0f devices per server process on this machine\n",
              hard_limit, fds_per_device, hard_limit / fds_per_device);
  // And of the simulators beside it on this machine: the other floor for 50,000 here.
  double sims_kb = 0;
  for (const auto& s : sims) sims_kb += preau::bench::StatusKb(s.pid, "VmRSS");
  const double sim_per_device_kb = sims_kb / devices;
  std::printf("simulators: %.0f MB for %zu devices, %.1f KB per simulated device; 50,000 "
              "simulated devices would take %.1f GB, with the server's %.1f GB, of this "
              "machine's %.1f GB\n",
              sims_kb / 1024, devices, sim_per_device_kb, 50000 * sim_per_device_kb / (1024 * 1024),
              server_50k_gb,
              preau::bench::MemTotalKb() / (1024 * 1024));
  std::fflush(stdout);

  auto lock = preau::bench::RunClassLocks(*admin, *klass, kClass, class_size, runs);
  if (!lock.ok()) Die(lock.status().message());
  preau::bench::PrintClassLocks(*lock, class_size, devices, runs);
  std::fflush(stdout);

  // Restart: every device loses its stream at once and comes back.
  // Who used the CPU while the fleet came back: on one machine the simulators compete
  // with the server for the same two cores, and this says which one set the pace.
  auto sims_cpu = [&] {
    double total = 0;
    for (const auto& s : sims) total += preau::bench::CpuSeconds(s.pid);
    return total;
  };
  const double sims_cpu0 = sims_cpu();
  StopServer(server);
  auto t1 = Steady::now();
  auto old_port = server.port;
  server = StartServer(bin, data, "0.0.0.0:" + std::to_string(old_port), root + "/server2.log");
  double restart_s = WaitAll(sims, devices, t1, std::chrono::minutes(25), "restart");
  const double server_cpu = preau::bench::CpuSeconds(server.pid);
  const double sims_used = sims_cpu() - sims_cpu0;
  std::printf("server restarted: all %zu devices connected again %.1f s after the stop "
              "(cold start: %.1f s; ratio %.2f)\n",
              devices, restart_s, cold_s, restart_s / cold_s);
  std::printf("CPU meanwhile: the new server %.1f s (%.0f %% of one core), the simulators "
              "%.1f s (%.0f %% of one core; this machine has %u)\n",
              server_cpu, 100 * server_cpu / restart_s, sims_used, 100 * sims_used / restart_s,
              std::thread::hardware_concurrency());

  for (auto& s : sims) kill(s.pid, SIGTERM);
  for (auto& s : sims) waitpid(s.pid, &st, 0);
  StopServer(server);
  std::printf("logs in %s\n", root.c_str());
  return 0;
}
