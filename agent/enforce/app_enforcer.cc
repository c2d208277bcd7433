#include "agent/enforce/app_enforcer.h"

#include <set>

namespace preau::agent {

v1::RuleResult AppEnforcer::Apply(const DesiredState& desired) {
  // Blocking first, and always: an empty list lifts the blocks of an earlier policy.
  Result<int> running = platform_->BlockApps(desired.blocked_apps);
  const bool blocks = running.ok() || running.status().code() != Code::kFailedPrecondition;
  if (desired.blocked_apps.empty() && desired.required_apps.empty()) {
    return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  }
  std::set<std::string> installed;
  const v1::Inventory inventory = platform_->CollectInventory();
  for (const auto& app : inventory.apps()) installed.insert(app.id());

  std::string failures;
  auto fail = [&failures](const std::string& what) {
    failures += (failures.empty() ? "" : "; ") + what;
  };
  std::vector<std::string> to_remove, to_install;
  if (blocks) {
    // Blocked apps stay installed but cannot run; the block holds once none runs.
    if (!running.ok()) {
      fail("blocking: " + running.status().message());
    } else if (*running > 0) {
      fail(std::to_string(*running) + " process(es) of blocked apps still running");
    }
  } else {
    // A platform that cannot block removes blocked apps instead.
    for (const auto& app : desired.blocked_apps) {
      if (installed.count(app)) to_remove.push_back(app);
    }
  }
  for (const auto& app : desired.required_apps) {
    if (!installed.count(app)) to_install.push_back(app);
  }
  if (failures.empty() && to_remove.empty() && to_install.empty()) {
    return MakeRule(name(), v1::RULE_APPLIED,
                    std::to_string(desired.required_apps.size()) + " required present, " +
                        std::to_string(desired.blocked_apps.size()) +
                        (blocks ? " blocked, none running" : " blocked absent"));
  }
  if ((!to_remove.empty() || !to_install.empty()) &&
      !platform_->GetCapabilities().app_install) {
    return MakeRule(name(), v1::RULE_NOT_SUPPORTED,
                    "this platform cannot install or remove apps (" +
                        std::to_string(to_remove.size()) + " blocked installed, " +
                        std::to_string(to_install.size()) + " required missing)");
  }
  for (const auto& app : to_remove) {
    Status st = platform_->RemoveApp(app);
    if (!st.ok()) fail("removing blocked '" + app + "': " + st.message());
  }
  for (const auto& app : to_install) {
    if (!installer_) {
      fail("required '" + app + "' is not installed (no package source yet)");
      continue;
    }
    Status st = installer_(app);
    if (!st.ok()) fail("installing required '" + app + "': " + st.message());
  }
  if (!failures.empty()) return MakeRule(name(), v1::RULE_FAILED, failures);
  return MakeRule(name(), v1::RULE_APPLIED,
                  "removed " + std::to_string(to_remove.size()) + ", installed " +
                      std::to_string(to_install.size()) +
                      (blocks ? ", " + std::to_string(desired.blocked_apps.size()) +
                                    " blocked, none running"
                              : ""));
}

}  // namespace preau::agent
