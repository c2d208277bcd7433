#include "tools/sim/fleet.h"

#include "agent/core/server_list.h"
#include "agent/core/standard_features.h"

#include <sys/resource.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace preau::sim {

namespace {
// Device i's state folder; empty when the fleet keeps its state in memory.
std::string DeviceStateDir(const FleetOptions& opts, size_t i) {
  if (opts.state_root.empty()) return "";
  return opts.state_root + "/device-" + std::to_string(opts.first_seed + i);
}
}  // namespace

void RaiseFileLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = 200000;
  struct rlimit raised = {want, want};
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

Result<std::unique_ptr<Fleet>> Fleet::Start(const FleetOptions& opts) {
  PREAU_ASSIGN_OR_RETURN(auto servers, agent::ServerList::Parse(opts.server));
  RaiseFileLimit();
  std::unique_ptr<Fleet> f(new Fleet());
  f->agents_.resize(opts.count);
  std::atomic<size_t> next{0};
  std::mutex err_mu;
  Status first_error;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  int parallel = std::max(1, opts.enroll_parallelism);
  for (int w = 0; w < parallel; ++w) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < opts.count; i = next++) {
        agent::AgentOptions a = opts.agent;
        a.state_dir = DeviceStateDir(opts, i);
        if (a.state_dir.empty()) a.state_dir = agent::kInMemoryState;
        a.server = servers.SpecFrom(i);  // replicas share the fleet out
        a.ca_pem = opts.ca_pem;
        a.enroll_token = opts.token;
        a.name = "sim-" + std::to_string(opts.first_seed + i);
        auto agent = agent::Agent::Create(*f->io_, a, agent::MakeSimPlatform(opts.first_seed + i));
        if (!agent.ok()) {
          std::lock_guard<std::mutex> lock(err_mu);
          if (first_error.ok()) first_error = agent.status().Context("device " + a.name);
          next = opts.count;
          return;
        }
        f->agents_[i] = std::move(agent).value();
      }
    });
  }
  for (auto& w : workers) w.join();
  f->enroll_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!first_error.ok()) {
    f->agents_.clear();
    return first_error;
  }
  f->work_ = std::make_unique<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(f->io_->get_executor());
  for (int t = 0; t < std::max(1, opts.threads); ++t) {
    f->threads_.emplace_back([io = f->io_.get()] { io->run(); });
  }
  for (size_t i = 0; i < f->agents_.size(); ++i) {
    auto& a = f->agents_[i];
    agent::FeatureOptions features;
    features.state_dir = DeviceStateDir(opts, i);
    agent::AddStandardFeatures(*a, features);
    a->Start();
  }
  return f;
}

size_t Fleet::Connected() const {
  size_t n = 0;
  for (const auto& a : agents_) n += a && a->connected();
  return n;
}

void Fleet::Stop() {
  // Every agent is asked first: with thousands of devices the loop may be busy for a
  // while (each new connection sets up its TLS context on it), and the stops then wait
  // behind that backlog once, together, instead of one agent after the other.
  for (auto& a : agents_) {
    if (a) a->RequestStop();
  }
  bool leak = false;
  for (auto& a : agents_) {
    if (a) {
      a->Stop();
      leak = leak || !a->released();
    }
  }
  // The loop stops before the agents are destroyed: a timer that expired just as an agent
  // stopped still has its handler on the way, and it must never run on a deleted agent.
  if (work_) work_.reset();
  io_->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  if (leak) {
    // gRPC may still call into a stream an agent could not release (and through it, the
    // agent and the loop): destroying them would be a use after free. Keep them.
    std::fprintf(stderr, "preau-sim: some agents could not be released; keeping them\n");
    for (auto& a : agents_) {
      if (a && !a->released()) (void)a.release();
    }
    (void)io_.release();
    io_ = std::make_unique<boost::asio::io_context>();
  }
  agents_.clear();
}

Fleet::~Fleet() { Stop(); }

}  // namespace preau::sim
