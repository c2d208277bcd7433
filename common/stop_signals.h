// StopSignals: how Préau's long-running programs stop. SIGTERM and SIGINT are blocked in
// every thread (call this first, before any thread starts), and the main thread waits for
// them with sigwait / sigtimedwait, then shuts down in order: no work runs in a signal
// handler.
#pragma once

#include <signal.h>

namespace preau {

inline sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace preau
