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

ServerProcess::ServerProcess(const std::string& data, const std::string& port_file,
                             const std::string& log, const std::vector<std::string>& extra,
                             const std::vector<std::string>& wrapper)
    : port_file_(port_file), log_(log) {
  std::vector<std::string> args = wrapper;
  for (std::string a : {std::string(PREAU_BINARY_DIR) + "/preau-server", std::string("run"),
                        std::string("--data"), data, std::string("--listen"),
                        std::string("127.0.0.1:0"), std::string("--port-file"), port_file}) {
    args.push_back(std::move(a));
  }
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
}

ServerProcess::~ServerProcess() { Kill(); }

bool ServerProcess::Running() const {
  int status;
  return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
}

int ServerProcess::WaitPort(std::chrono::milliseconds timeout) {
  WaitUntil([&] {
    auto text = ReadFile(port_file_);
    if (text.ok() && !text->empty() && text->back() == '\n') port_ = std::stoi(*text);
    return port_ > 0 || !Running();
  }, timeout);
  return port_;
}

void ServerProcess::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);  // SIGKILL cannot be ignored (nor held off by SIGSTOP)
  pid_ = -1;
}

long ServerProcess::RssKb() const {
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

size_t ServerProcess::OpenSockets() const {
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

std::string ServerProcess::Log() const {
  auto text = ReadFile(log_);
  return text.ok() ? *text : "";
}

}  // namespace preau::testing
