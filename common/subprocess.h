// Subprocess: runs one program with an argument vector — no shell, so no value (a file
// name, a package name, a version from an upload) can ever be read as shell syntax — and
// collects its exit code and output under a deadline. The program runs in its own process
// group with stdin from /dev/null; one that outlives its timeout is killed together with
// everything it started. Used by the agent's platform (apt, dpkg, configured commands
// through /bin/sh) and by the server (dpkg-deb reading an uploaded package's fields).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace preau {

struct ProgramOutput {
  int exit_code = 0;   // 128 + signal number when the program was killed by a signal
  std::string output;  // stdout and stderr interleaved, truncated to kMaxProgramOutput
};

inline constexpr size_t kMaxProgramOutput = 64 * 1024;

// Runs argv[0] (looked up in PATH when it has no '/') with `argv`, the agent's environment
// plus `extra_env` ("NAME=value", overriding). Errors: InvalidArgument for an empty argv,
// DeadlineExceeded when it ran longer than `timeout` (it is then killed), Internal when it
// could not be started (its name says which). A non-zero exit is not an error here.
Result<ProgramOutput> RunProgram(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout,
                                 const std::vector<std::string>& extra_env = {});

// The last `n` characters of `output` without trailing blank space ("..." in front when
// cut): what an error message quotes of a program's output.
std::string OutputTail(const std::string& output, size_t n);

}  // namespace preau
