#include "agent/filter/filter_guard.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

extern char** environ;

namespace preau::agent {

Result<FilterGuard> StartFilterGuard(const std::vector<std::string>& command) {
  if (command.empty()) return InvalidArgument("filter guard: no command");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Internal(std::string("filter guard: pipe: ") + std::strerror(errno));
  constexpr int kChildFd = 3;
  std::vector<std::string> args = command;
  for (auto& a : args) {
    size_t at = a.find("{fd}");
    if (at != std::string::npos) a.replace(at, 4, std::to_string(kChildFd));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], kChildFd);  // dup2 clears CLOEXEC
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group: a Ctrl-C meant for the agent in a terminal does not reach it.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[0]);
  if (rc != 0) {
    ::close(fds[1]);
    return Internal("filter guard: cannot start " + command[0] + ": " + std::strerror(rc));
  }
  return FilterGuard{pid, fds[1]};
}

bool FilterGuardAlive(FilterGuard& guard) {
  if (guard.pid <= 0) return false;
  int status = 0;
  if (::waitpid(guard.pid, &status, WNOHANG) == 0) return true;
  guard.pid = -1;
  if (guard.pipe_fd >= 0) ::close(guard.pipe_fd);
  guard.pipe_fd = -1;
  return false;
}

int RunFilterGuard(int fd, FilterSystemPath& path) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  pollfd fds[2] = {{fd, POLLIN, 0}, {sfd, POLLIN, 0}};
  while (true) {
    int n = ::poll(fds, sfd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (fds[1].revents) break;  // stopped by a signal
    if (fds[0].revents) {
      char c;
      ssize_t got = ::read(fd, &c, 1);
      if (got <= 0) break;  // the agent is gone
    }
  }
  Status st = path.AfterStop();
  if (!st.ok()) {
    std::fprintf(stderr, "preau-agent: filter guard: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace preau::agent
