// What a test agent's simulated platform shows now (agent::ReadSimState): the checks the
// class, policy and replica tests wait on, in one place.
#pragma once

#include "agent/platform/platform.h"
#include "tests/support/harness.h"

namespace preau::testing {

inline bool SimLocked(TestAgent& a) {
  auto s = agent::ReadSimState(a.agent().platform());
  return s && s->locked;
}

inline bool SimWifiOn(TestAgent& a) {
  auto s = agent::ReadSimState(a.agent().platform());
  return s && s->wifi_on;
}

}  // namespace preau::testing
