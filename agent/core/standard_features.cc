#include "agent/core/standard_features.h"

#include "agent/apps/apps_feature.h"
#include "agent/collect/usage_collector.h"
#include "agent/control/class_control.h"
#include "agent/filter/filter_plugin.h"
#include "agent/policy/policy_plugin.h"

// One include and one line per plugin.

namespace preau::agent {

void AddStandardFeatures(Agent& agent, const FeatureOptions& opts) {
  // Shared by the class-control and policy plugins; owned by the agent through them.
  auto teacher = std::make_shared<TeacherState>();
  agent.AddFeature(std::make_unique<ClassControlFeature>(teacher));
  agent.AddFeature(std::make_unique<PolicyPlugin>(teacher));
  agent.AddFeature(MakeAppsFeature(opts.state_dir, [&agent] { agent.CheckInventory(); }));
  auto filter = MakeFilterPlugin(teacher, opts.dns_listen, opts.state_dir);
  UsageCollectorOptions usage;
  // Both plugins live as long as the agent; the collector polls only while running.
  usage.blocked_counts = [f = filter.get()] { return f->BlockedCounts(); };
  agent.AddFeature(std::make_unique<UsageCollector>(std::move(usage)));
  agent.AddFeature(std::move(filter));
}

}  // namespace preau::agent
