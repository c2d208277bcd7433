#include "agent/core/standard_features.h"

// One include and one line per plugin.

namespace preau::agent {

void AddStandardFeatures(Agent& agent, const FeatureOptions& opts) {
  (void)agent;
  (void)opts;
}

}  // namespace preau::agent
