#include "common/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

extern char** environ;

namespace preau {
namespace {

using SteadyClock = std::chrono::steady_clock;

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Closes a descriptor on scope exit; the runner has several early returns.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// pidfd_open lets poll() wake on the child's exit as well as on its output, so a program
// that leaves a background process holding the pipe (xdg-open starting a browser) does
// not keep us waiting. Older kernels lack it; the caller then polls waitpid.
int OpenPidFd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  return -1;
#endif
}

// Appends what can be read now; returns false at end of file or on a hard error.
bool DrainAvailable(int fd, std::string* out) {
  char buf[4096];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      size_t room = kMaxProgramOutput - std::min(out->size(), kMaxProgramOutput);
      out->append(buf, std::min(static_cast<size_t>(n), room));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

// Reaps `pid` without blocking; returns true (and the exit code) once it has exited.
bool TryReap(pid_t pid, int* exit_code) {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid) {
    *exit_code = DecodeWaitStatus(status);
    return true;
  }
  if (r < 0) {  // ECHILD: someone else reaped it (SIGCHLD ignored); the status is lost
    *exit_code = -1;
    return true;
  }
  return false;
}

void KillAndReap(pid_t pid) {
  kill(-pid, SIGKILL);  // the whole process group: the program and whatever it started
  kill(pid, SIGKILL);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// The environment with `extra` ("NAME=value") replacing or adding variables.
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view var(*e);
    std::string_view name = var.substr(0, var.find('='));
    bool replaced = std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
      return std::string_view(x).substr(0, x.find('=')) == name;
    });
    if (!replaced) env.emplace_back(var);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

Result<pid_t> Spawn(const std::vector<std::string>& args, const std::vector<std::string>& extra_env,
                    int stdout_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, 2);

  // Its own process group so a timeout kills its children too; default signal handling
  // and an empty mask whatever the caller set up for itself.
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_store = args;
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  std::vector<char*> envp;
  if (!extra_env.empty()) {
    env_store = MergedEnvironment(extra_env);
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  pid_t pid = -1;
  int err = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(),
                         extra_env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return Internal("cannot start " + args[0] + ": " + strerror(err));
  return pid;
}

}  // namespace

std::string OutputTail(const std::string& s, size_t n) {
  size_t end = s.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  std::string trimmed = s.substr(0, end + 1);
  if (trimmed.size() <= n) return trimmed;
  return "..." + trimmed.substr(trimmed.size() - n);
}

Result<ProgramOutput> RunProgram(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout,
                                 const std::vector<std::string>& extra_env) {
  if (argv.empty() || argv[0].empty()) return InvalidArgument("no program to run");
  const auto deadline = SteadyClock::now() + timeout;

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Internal(std::string("pipe: ") + strerror(errno));
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);
  fcntl(read_end.get(), F_SETFL, fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);

  Result<pid_t> spawned = Spawn(argv, extra_env, write_end.get());
  if (!spawned.ok()) return spawned.status();
  const pid_t pid = *spawned;
  write_end.Reset();  // so that the read end sees end of file when the program is done
  Fd pidfd(OpenPidFd(pid));

  ProgramOutput result;
  bool pipe_open = true;
  while (true) {
    if (TryReap(pid, &result.exit_code)) {
      if (pipe_open) DrainAvailable(read_end.get(), &result.output);
      return result;
    }
    auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - SteadyClock::now());
    if (remaining.count() <= 0) {
      KillAndReap(pid);
      return Status(Code::kDeadlineExceeded, argv[0] + " timed out after " +
                                                 std::to_string(timeout.count()) +
                                                 " ms and was killed");
    }
    pollfd fds[2];
    int nfds = 0;
    if (pipe_open) fds[nfds++] = {read_end.get(), POLLIN, 0};
    if (pidfd.get() >= 0) fds[nfds++] = {pidfd.get(), POLLIN, 0};
    // Without a pidfd nothing wakes us when the child exits, so look again shortly.
    int wait_ms = static_cast<int>(std::min<int64_t>(remaining.count(), INT32_MAX));
    if (pidfd.get() < 0) wait_ms = std::min(wait_ms, 10);
    int r = poll(nfds > 0 ? fds : nullptr, nfds, wait_ms);
    if (r < 0 && errno != EINTR) {
      KillAndReap(pid);
      return Internal(std::string("poll: ") + strerror(errno));
    }
    if (pipe_open && r > 0 && fds[0].revents != 0) {
      pipe_open = DrainAvailable(read_end.get(), &result.output);
    }
  }
}

}  // namespace preau
