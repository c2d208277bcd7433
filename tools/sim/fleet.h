// Fleet: N simulated devices in one process, each a real Agent with its own identity, its
// own mTLS connection and its own stream, on a shared event loop. Used by `preau-sim`, by
// the benchmarks that need thousands of devices, and by tests.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "agent/core/agent.h"

namespace preau::sim {

struct FleetOptions {
  std::string server;          // host:port, or replicas a:port,b:port (device i starts on i % n)
  std::string ca_pem;
  std::string token;           // needs at least `count` uses for a new fleet
  std::string state_root;      // empty: state in memory only
  size_t count = 5;
  size_t first_seed = 1;
  int threads = 2;             // event-loop threads shared by every agent
  int enroll_parallelism = 8;  // enrolments in flight at once
  agent::AgentOptions agent;   // template for each agent (state_dir, server… are set here)
};

class Fleet {
 public:
  // Enrols (or reloads) every device, then starts them all.
  static Result<std::unique_ptr<Fleet>> Start(const FleetOptions& opts);
  ~Fleet();
  void Stop();

  size_t size() const { return agents_.size(); }
  agent::Agent& agent(size_t i) { return *agents_[i]; }
  size_t Connected() const;
  // Seconds spent enrolling / reloading the devices in Start.
  double enroll_seconds() const { return enroll_seconds_; }

 private:
  Fleet() = default;
  // On the heap: if an agent could not be released (its stream still gRPC's), the loop
  // and that agent are leaked rather than destroyed under gRPC's feet.
  std::unique_ptr<boost::asio::io_context> io_ = std::make_unique<boost::asio::io_context>();
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<agent::Agent>> agents_;
  double enroll_seconds_ = 0;
};

// Raises the open-file limit as far as allowed (every device holds a socket).
void RaiseFileLimit();

}  // namespace preau::sim
