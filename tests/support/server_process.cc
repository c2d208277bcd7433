#include "tests/support/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "common/files.h"
#include "tests/support/harness.h"

extern char** environ;

namespace preau::testing {

namespace {
std::vector<std::string> ServerArgv(const std::string& data, const std::string& port_file,
                                    const std::vector<std::string>& extra,
                                    const std::vector<std::string>& wrapper) {
  std::vector<std::string> args = wrapper;
  for (std::string a : {std::string(PREAU_BINARY_DIR) + "/preau-server", std::string("run"),
                        std::string("--data"), data, std::string("--listen"),
                        std::string("127.0.0.1:0"), std::string("--port-file"), port_file}) {
    args.push_back(std::move(a));
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}
}  // namespace

ChildProcess::ChildProcess(const std::vector<std::string>& argv_in, const std::string& log)
    : log_(log) {
  std::vector<std::string> args = argv_in;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Running() const {
  if (pid_ <= 0 || exit_code_) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

void ChildProcess::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

void ChildProcess::Kill() {
  if (!Running()) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);  // SIGKILL cannot be ignored (nor held off by SIGSTOP)
  exit_code_ = 128 + SIGKILL;
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  WaitUntil([&] { return !Running(); }, timeout);
  return exit_code_;
}

long ChildProcess::RssKb() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
    in.ignore(1 << 12, '\n');
  }
  return 0;
}

size_t ChildProcess::OpenSockets() const {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", ec)) {
    std::error_code lec;
    auto target = std::filesystem::read_symlink(e.path(), lec);
    if (!lec && target.string().rfind("socket:", 0) == 0) ++n;
  }
  return n;
}

std::string ChildProcess::Log() const {
  auto text = ReadFile(log_);
  return text.ok() ? *text : "";
}

ServerProcess::ServerProcess(const std::string& data, const std::string& port_file,
                             const std::string& log, const std::vector<std::string>& extra,
                             const std::vector<std::string>& wrapper)
    : ChildProcess(ServerArgv(data, port_file, extra, wrapper), log), port_file_(port_file) {}

int ServerProcess::WaitPort(std::chrono::milliseconds timeout) {
  WaitUntil([&] {
    auto text = ReadFile(port_file_);
    if (text.ok() && !text->empty() && text->back() == '\n') port_ = std::stoi(*text);
    return port_ > 0 || !Running();
  }, timeout);
  return port_;
}

}  // namespace preau::testing
