// The filter guard: a small process the agent starts once it has put the filter in the
// system's DNS path, so that the policy's fail mode holds when the agent is stopped or
// dies — even by SIGKILL, which no code in the agent can catch.
//
// The agent keeps the write end of a pipe; the guard (the same binary, re-executed with
// `--filter-guard FD`) waits on the read end. When the agent is gone the pipe closes (the
// kernel closes a dead process's descriptors) and the guard runs
// FilterSystemPath::AfterStop: fail open puts the system back on its own upstreams, fail
// closed leaves it as it is. SIGTERM (systemd stopping the unit) does the same. The unit's
// ExecStopPost runs the same step for the cases where systemd killed the guard as well.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/filter/system_path.h"
#include "common/status.h"

namespace preau::agent {

struct FilterGuard {
  pid_t pid = -1;
  int pipe_fd = -1;  // the agent's end; closing it (or dying) wakes the guard
};

// Starts `command` (argv; "{fd}" in an argument is replaced by the guard's end of the
// pipe). The agent's end is close-on-exec, so commands the agent runs never hold it.
Result<FilterGuard> StartFilterGuard(const std::vector<std::string>& command);
// Whether the guard still runs (reaps it when it ended).
bool FilterGuardAlive(FilterGuard& guard);

// The guard process's body: waits until `fd` closes or a stop signal comes, then applies
// the fail mode. Returns the process exit code.
int RunFilterGuard(int fd, FilterSystemPath& path);

}  // namespace preau::agent
