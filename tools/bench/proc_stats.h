// ProcStats: what the benchmarks read of a process from /proc (memory in kB, CPU time) and
// how they start a program beside themselves: the same few lines every benchmark needed.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace preau::bench {

// The number after `key` (e.g. "Pss:") on the line of `path` that starts with it; 0 if none.
inline double ProcKb(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(key.size()));
  }
  return 0;
}

// A field of /proc/PID/status ("VmRSS", "VmHWM", "Threads"), in its unit (kB for memory).
inline double StatusKb(pid_t pid, const std::string& field) {
  return ProcKb("/proc/" + std::to_string(pid) + "/status", field + ":");
}

// The machine's memory (MemTotal), in kB.
inline double MemTotalKb() { return ProcKb("/proc/meminfo", "MemTotal:"); }

// Resets the process's VmHWM to its current VmRSS (Linux 4.0+).
inline void ResetPeak(pid_t pid) {
  std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5";
}

// User + system CPU time the process has used, in seconds.
inline double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  auto close = all.rfind(')');
  std::istringstream rest(all.substr(close + 2));
  std::string f;
  std::vector<std::string> fields;
  while (rest >> f) fields.push_back(f);
  // fields[0] is state (field 3); utime is field 14, stime field 15.
  return (std::stod(fields[11]) + std::stod(fields[12])) / sysconf(_SC_CLK_TCK);
}

// Starts `args` (args[0] a path) in the background; its output goes to `log` if given.
// Returns its pid, or -1.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& log = "") {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!log.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  }
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

}  // namespace preau::bench
