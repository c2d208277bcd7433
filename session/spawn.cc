#include "session/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace preau::session {

pid_t Spawn(const std::vector<std::string>& argv, std::string* error) {
  if (argv.empty()) {
    *error = "nothing to run";
    return -1;
  }
  // Built before fork: the child only execs.
  std::vector<std::string> copy = argv;
  std::vector<char*> args;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return -1;
  }
  if (pid == 0) {
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, STDIN_FILENO);
      dup2(null, STDOUT_FILENO);
    }
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

namespace {
std::vector<pid_t>& Orphans() {
  static std::vector<pid_t> orphans;
  return orphans;
}
}  // namespace

void Orphan(pid_t pid) {
  if (pid > 0) Orphans().push_back(pid);
}

void ReapOrphans() {
  auto& o = Orphans();
  o.erase(std::remove_if(o.begin(), o.end(),
                         [](pid_t pid) { return waitpid(pid, nullptr, WNOHANG) != 0; }),
          o.end());
}

}  // namespace preau::session
