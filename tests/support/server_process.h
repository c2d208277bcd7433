// ServerProcess: `preau-server run` as a process of its own, for tests that must kill a
// server the hard way (kill -9, SIGSTOP) or run several on one data folder (replicas).
// Its stderr goes to a log file; it is killed (SIGKILL) and reaped at the end.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace preau::testing {

class ServerProcess {
 public:
  // Runs `WRAPPER... preau-server run --data DATA --listen 127.0.0.1:0 --port-file PORT_FILE
  // EXTRA...`; `wrapper` e.g. {"/usr/bin/prlimit", "--nofile=200:256", "--"} (a full path).
  ServerProcess(const std::string& data, const std::string& port_file, const std::string& log,
                const std::vector<std::string>& extra = {},
                const std::vector<std::string>& wrapper = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // The port, once the server wrote it; 0 if it did not within `timeout` or exited.
  int WaitPort(std::chrono::milliseconds timeout);
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  bool Running() const;
  // Sends `sig` (SIGSTOP: the server freezes, its connections stay open and unanswered).
  void Signal(int sig);
  // kill -9, and reaps it.
  void Kill();
  // What the server wrote to stderr so far.
  std::string Log() const;
  pid_t pid() const { return pid_; }
  // Resident memory in kB and open sockets, from /proc.
  long RssKb() const;
  size_t OpenSockets() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string port_file_, log_;
};

}  // namespace preau::testing
