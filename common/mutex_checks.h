// MutexChecks: Debian's abseil is built without NDEBUG, so absl::Mutex keeps its deadlock
// detector on: every lock and unlock updates a global graph of which mutex was taken
// while holding which (absl's GraphCycles). gRPC takes absl::Mutex on every call, stream
// and connection, and profiles at scale showed that bookkeeping at 4-27 % of the
// server's and the simulators' CPU. Préau's own code uses std::mutex; the detector only
// ever checked gRPC's locking, which its own tests do. Called first thing in main() by
// each long-running program (server, agent, simulator).
#pragma once

namespace preau {

void TurnOffMutexDeadlockDetection();

}  // namespace preau
