// AppBlocker: makes blocked apps unlaunchable on a Linux desktop without relying on the
// session program. Their desktop entries are overridden in a folder that comes before
// /usr/share in XDG_DATA_DIRS (Hidden/NoDisplay, marked as ours so that unblocking
// removes only what we wrote), and a watcher thread of the root agent scans /proc every
// 200 ms for processes running one of their executables (the process image, or argv[0]
// or argv[1] for a script), asks them to end (SIGTERM) and kills them half a second
// later if they have not. Each process ended counts once per app for the usage report.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/platform/linux_packages.h"
#include "common/status.h"

namespace preau::agent {

class AppBlocker {
 public:
  AppBlocker(const LinuxPackages* packages, std::string entries_dir);
  ~AppBlocker();  // stops the watcher

  // Blocks exactly `app_ids` (an empty list lifts every block), ends their running
  // processes and returns how many still run after waiting up to 1.5 s for them.
  Result<int> Block(const std::vector<std::string>& app_ids);
  std::map<std::string, uint64_t> Launches() const;

 private:
  struct Seen {
    std::chrono::steady_clock::time_point term_sent;
    bool killed = false;
  };
  // Ends what runs a blocked executable; returns how many such processes were found.
  int Sweep();
  void Watch();
  Status WriteOverrides(const std::map<std::string, std::vector<std::string>>& entries);

  const LinuxPackages* packages_;
  const std::string entries_dir_;

  std::mutex sweep_mu_;  // one sweep at a time (the watcher's and Block's)
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::map<std::string, std::string> executables_;  // path on this machine -> app id
  std::map<std::pair<pid_t, uint64_t>, Seen> seen_;  // (pid, start time) already counted
  std::map<std::string, uint64_t> launches_;
  bool stop_ = false;
  std::thread watcher_;
};

}  // namespace preau::agent
