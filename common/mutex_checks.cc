#include "common/mutex_checks.h"

#include <absl/synchronization/mutex.h>

namespace preau {

void TurnOffMutexDeadlockDetection() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace preau
