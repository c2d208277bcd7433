// ChildServer: a real Préau server (its SQLite file, mTLS) in a forked child process of a
// benchmark, so that what the benchmark measures of the server is the server's alone (its
// peak memory, its file descriptors) and not the load generator's. Fork before the parent
// starts gRPC. The parent may ask the server one question (a number) as often as it wants
// through `Ask`; destroying the ChildServer shuts the server down and waits for it.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "server/server.h"

namespace preau::bench {

class ChildServer {
 public:
  using Question = std::function<uint64_t(server::Server&)>;

  // Runs the server on `data_dir` (initialised already) in a child; exits the benchmark
  // with a message if it cannot start.
  explicit ChildServer(const std::string& data_dir, Question question = {}) {
    int to_parent[2], to_child[2];
    if (pipe(to_parent) != 0 || pipe(to_child) != 0) Fail("pipe failed");
    std::fflush(stdout);
    pid_ = fork();
    if (pid_ < 0) Fail("fork failed");
    if (pid_ == 0) {
      close(to_parent[0]);
      close(to_child[1]);
      server::RunOptions run;
      run.data_dir = data_dir;
      auto server = server::Server::Start(run);
      if (!server.ok()) Fail(server.status().message());
      int port = (*server)->port();
      if (write(to_parent[1], &port, sizeof port) != sizeof port) Fail("pipe write failed");
      char c;
      while (read(to_child[0], &c, 1) > 0) {  // each byte asks the question once
        uint64_t n = question ? question(**server) : 0;
        if (write(to_parent[1], &n, sizeof n) != sizeof n) break;
      }
      (*server)->Shutdown();
      server->reset();
      _exit(0);
    }
    close(to_parent[1]);
    close(to_child[0]);
    from_child_ = to_parent[0];
    to_child_ = to_child[1];
    if (read(from_child_, &port_, sizeof port_) != sizeof port_) Fail("the server did not start");
  }
  ~ChildServer() {
    close(to_child_);  // the server shuts down
    int status = 0;
    waitpid(pid_, &status, 0);
    close(from_child_);
  }
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // The answer to the question given at construction (0 if it cannot be asked).
  uint64_t Ask() {
    char c = '?';
    uint64_t n = 0;
    if (write(to_child_, &c, 1) != 1 || read(from_child_, &n, sizeof n) != sizeof n) return 0;
    return n;
  }

 private:
  [[noreturn]] static void Fail(const std::string& what) {
    std::fprintf(stderr, "child server: %s\n", what.c_str());
    std::exit(1);
  }

  pid_t pid_ = -1;
  int port_ = 0;
  int from_child_ = -1, to_child_ = -1;
};

}  // namespace preau::bench
