#include "agent/core/standard_features.h"

#include "agent/apps/apps_feature.h"
#include "agent/collect/usage_collector.h"
#include "agent/control/class_control.h"
#include "agent/control/foreground_report.h"
#include "agent/filter/filter_plugin.h"
#include "agent/filter/web_filter_rule.h"
#include "agent/policy/policy_plugin.h"

// One include and one line per plugin.

namespace preau::agent {

void AddStandardFeatures(Agent& agent, const FeatureOptions& opts) {
  // Shared by the class-control and policy plugins; owned by the agent through them.
  auto teacher = std::make_shared<TeacherState>();
  // Shared by the policy's `web_filter` rule and the filter plugin.
  auto web_filter = std::make_shared<WebFilterLink>();
  if (opts.dns_listen.empty()) {
    web_filter->SetOutcome({v1::RULE_NOT_SUPPORTED,
                            "the web filter's resolver does not run on this device"});
  }
  agent.AddFeature(std::make_unique<ClassControlFeature>(teacher));
  agent.AddFeature(std::make_unique<ForegroundReport>());
  PolicyPluginOptions policy;
  policy.enforce_every = opts.policy_enforce_every;
  policy.extra_rules.push_back(std::make_unique<WebFilterRule>(web_filter));
  policy.on_start = [web_filter](std::function<void()> again) {
    web_filter->OnOutcomeChange(std::move(again));
  };
  agent.AddFeature(std::make_unique<PolicyPlugin>(teacher, std::move(policy)));
  agent.AddFeature(MakeAppsFeature(opts.state_dir, [&agent] { agent.CheckInventory(); }));
  auto filter = MakeFilterPlugin(teacher, web_filter, opts.dns_listen, opts.state_dir,
                                 opts.config, opts.filter_guard);
  UsageCollectorOptions usage;
  usage.check_interval = opts.usage_check_every;
  // Both plugins live as long as the agent; the collector polls only while running.
  // Blocked web requests per filter category, and launches of blocked apps ended.
  usage.blocked_counts = [f = filter.get(), &agent] {
    auto counts = f->BlockedCounts();
    for (const auto& [app, n] : agent.platform().BlockedLaunches()) counts["app " + app] += n;
    return counts;
  };
  agent.AddFeature(std::make_unique<UsageCollector>(std::move(usage)));
  agent.AddFeature(std::move(filter));
}

}  // namespace preau::agent
