// ChildProcess: one of the project's programs run as a process of its own, for tests that
// must signal it the hard way (kill -9, SIGSTOP) or keep it running beside the test
// (RunBinary waits for the end). ServerProcess: `preau-server run` so, e.g. several on one
// store (replicas). Stderr goes to a log file; the process is killed (SIGKILL) and reaped
// at the end.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace preau::testing {

class ChildProcess {
 public:
  // Runs argv (argv[0] a full path); stderr to `log`, stdout to /dev/null.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool Running() const;
  // Sends `sig` (SIGSTOP: the process freezes, its connections stay open and unanswered).
  void Signal(int sig);
  // kill -9, and reaps it.
  void Kill();
  // Its exit code once it ended within `timeout` (128 + N if killed by signal N).
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  // What it wrote to stderr so far.
  std::string Log() const;
  pid_t pid() const { return pid_; }
  // Resident memory in kB and open sockets, from /proc.
  long RssKb() const;
  size_t OpenSockets() const;

 private:
  pid_t pid_ = -1;
  mutable std::optional<int> exit_code_;  // set once reaped
  std::string log_;
};

class ServerProcess : public ChildProcess {
 public:
  // Runs `WRAPPER... preau-server run --data DATA --listen 127.0.0.1:0 --port-file PORT_FILE
  // EXTRA...`; `wrapper` e.g. {"/usr/bin/prlimit", "--nofile=200:256", "--"} (a full path).
  ServerProcess(const std::string& data, const std::string& port_file, const std::string& log,
                const std::vector<std::string>& extra = {},
                const std::vector<std::string>& wrapper = {});

  // The port, once the server wrote it; 0 if it did not within `timeout` or exited.
  int WaitPort(std::chrono::milliseconds timeout);
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::string port_file_;
  int port_ = 0;
};

}  // namespace preau::testing
