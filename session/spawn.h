// Spawn: starts a program of the pupil's session (xdg-open, a kiosk browser, a teacher's
// focus app) as this session's user, in a process session of its own so that it outlives
// preau-session's signals and can be ended as a group, with stdin and stdout on /dev/null
// (stderr stays: it is the session program's log). Never waits for it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace preau::session {

// The child's pid (argv[0] looked up in PATH; exit status 127 if it cannot be run), or -1
// with `error` set when no process could be made.
pid_t Spawn(const std::vector<std::string>& argv, std::string* error);

// A child no part looks after any more (an app that outlives its focus): it is reaped by
// ReapOrphans, called from the session's loop, once it ends, so that it leaves no zombie.
void Orphan(pid_t pid);
void ReapOrphans();

}  // namespace preau::session
