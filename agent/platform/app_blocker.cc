#include "agent/platform/app_blocker.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "common/files.h"

namespace preau::agent {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kScanEvery{200};
constexpr milliseconds kKillAfter{500};
constexpr const char* kMarker = "X-Preau-Blocked=";

// The start time of a process (field 22 of /proc/PID/stat), which tells a reused pid
// from the process seen before; 0 when it is gone.
uint64_t StartTime(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return 0;
  size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat->substr(paren + 2));
  std::string field;
  for (int i = 3; i <= 22 && in >> field; ++i) {
    if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
  }
  return 0;
}

// What a process runs: its image and its first two arguments (an interpreter's script).
std::vector<std::string> ProcessPaths(pid_t pid) {
  std::vector<std::string> out;
  const std::string base = "/proc/" + std::to_string(pid);
  std::error_code ec;
  fs::path exe = fs::read_symlink(base + "/exe", ec);
  if (ec) return out;  // gone, a zombie, or a kernel thread
  std::string image = exe.string();
  constexpr std::string_view kDeleted = " (deleted)";  // upgraded under its feet
  if (image.size() > kDeleted.size() && image.ends_with(kDeleted)) {
    image.resize(image.size() - kDeleted.size());
  }
  out.push_back(image);
  auto cmdline = ReadFile(base + "/cmdline");
  if (cmdline.ok()) {
    size_t start = 0;
    for (int i = 0; i < 2 && start < cmdline->size(); ++i) {
      size_t end = cmdline->find('\0', start);
      if (end == std::string::npos) end = cmdline->size();
      out.push_back(cmdline->substr(start, end - start));
      start = end + 1;
    }
  }
  return out;
}

std::string DesktopName(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Name=", 0) == 0) return line.substr(5);
  }
  return "";
}

}  // namespace

AppBlocker::AppBlocker(const LinuxPackages* packages, std::string entries_dir)
    : packages_(packages), entries_dir_(std::move(entries_dir)) {}

AppBlocker::~AppBlocker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

Result<int> AppBlocker::Block(const std::vector<std::string>& app_ids) {
  std::map<std::string, std::string> executables;
  std::map<std::string, std::vector<std::string>> entries;  // app id -> its .desktop files
  const std::string applications = packages_->Below("/usr/share/applications/");
  for (const auto& id : app_ids) {
    entries[id];
    for (const auto& path : packages_->PackageFiles(id)) {
      struct stat st;
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (path.rfind(applications, 0) == 0 && path.ends_with(".desktop")) {
        entries[id].push_back(path);
      } else if (st.st_mode & 0111) {
        executables[path] = id;
      }
    }
  }
  Status written = WriteOverrides(entries);
  // Flatpak apps run in their own mount namespace: not matched by the sweep yet, so the
  // block is not claimed for them.
  for (const auto& id : app_ids) {
    if (packages_->FlatpakInstalled(id) && written.ok()) {
      written = Internal("blocking the Flatpak app '" + id + "' is not supported yet");
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    executables_ = std::move(executables);
    if (!executables_.empty() && !watcher_.joinable()) {
      watcher_ = std::thread([this] { Watch(); });
    }
  }
  wake_.notify_all();
  if (!written.ok()) return written;
  // The watcher ends them; wait (with a deadline) until none is left.
  const auto deadline = SteadyClock::now() + milliseconds(1500);
  int running = Sweep();
  while (running > 0 && SteadyClock::now() < deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, milliseconds(50), [this] { return stop_; });
    lock.unlock();
    running = Sweep();
  }
  return running;
}

std::map<std::string, uint64_t> AppBlocker::Launches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return launches_;
}

Status AppBlocker::WriteOverrides(const std::map<std::string, std::vector<std::string>>& entries) {
  std::error_code ec;
  std::set<std::string> wanted;
  std::string failures;
  if (!entries.empty()) fs::create_directories(entries_dir_, ec);
  for (const auto& [id, files] : entries) {
    for (const auto& original : files) {
      const std::string name = fs::path(original).filename().string();
      const std::string target = entries_dir_ + "/" + name;
      wanted.insert(name);
      auto existing = ReadFile(target);
      if (existing.ok() && existing->find(kMarker) == std::string::npos) {
        // Someone's own override: not ours to replace.
        failures += "; " + target + " is a local override, left alone";
        continue;
      }
      auto text = ReadFile(original);
      std::string content = "[Desktop Entry]\nType=Application\nName=" +
                            (text.ok() ? DesktopName(*text) : id) +
                            "\nNoDisplay=true\nHidden=true\n" + kMarker + id + "\n";
      if (existing.ok() && *existing == content) continue;
      Status st = WriteFileAtomic(target, content, 0644);
      if (!st.ok()) failures += "; " + st.message();
    }
  }
  // Unblocked apps come back: remove the overrides we wrote for them.
  for (const auto& entry : fs::directory_iterator(entries_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (wanted.count(name)) continue;
    auto text = ReadFile(entry.path().string());
    if (text.ok() && text->find(kMarker) != std::string::npos) fs::remove(entry.path(), ec);
  }
  // Not FailedPrecondition: that would read as "this platform cannot block".
  if (!failures.empty()) return Internal("hiding blocked apps: " + failures.substr(2));
  return Status::Ok();
}

int AppBlocker::Sweep() {
  std::lock_guard<std::mutex> one_at_a_time(sweep_mu_);
  std::map<std::string, std::string> executables;
  {
    std::lock_guard<std::mutex> lock(mu_);
    executables = executables_;
  }
  if (executables.empty()) return 0;
  const pid_t self = ::getpid();
  const auto now = SteadyClock::now();
  int found = 0;
  std::set<std::pair<pid_t, uint64_t>> alive;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == self || pid == 1) continue;
    std::string app;
    for (const auto& path : ProcessPaths(pid)) {
      auto it = executables.find(path);
      if (it != executables.end()) {
        app = it->second;
        break;
      }
    }
    if (app.empty()) continue;
    const uint64_t start = StartTime(pid);
    if (start == 0) continue;
    ++found;
    const auto key = std::make_pair(pid, start);
    alive.insert(key);
    std::lock_guard<std::mutex> lock(mu_);
    auto seen = seen_.find(key);
    if (seen == seen_.end()) {
      ++launches_[app];
      seen_[key] = Seen{now, false};
      ::kill(pid, SIGTERM);
    } else if (!seen->second.killed && now - seen->second.term_sent >= kKillAfter) {
      seen->second.killed = true;
      ::kill(pid, SIGKILL);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = seen_.begin(); it != seen_.end();) {
    it = alive.count(it->first) ? std::next(it) : seen_.erase(it);
  }
  return found;
}

void AppBlocker::Watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    Sweep();
    lock.lock();
    wake_.wait_for(lock, kScanEvery, [this] { return stop_; });
  }
}

}  // namespace preau::agent
