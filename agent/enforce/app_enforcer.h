// AppEnforcer: blocks the blocked apps (Platform::BlockApps: hidden, ended when started;
// APPLIED only when none runs) — or, on a platform that cannot block, removes them — and
// installs required apps that are missing. Packages come from the catalogue, which this enforcer does not know: the agent
// core passes an installer that fetches and installs one app; without one, a missing
// required app is reported as failed with that reason.
#pragma once

#include <functional>

#include "agent/enforce/enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {

// Installs `app_id` (fetch from the catalogue, verify, Platform::InstallApp).
using AppInstaller = std::function<Status(const std::string& app_id)>;

class AppEnforcer final : public Enforcer {
 public:
  AppEnforcer(Platform* platform, AppInstaller installer)
      : platform_(platform), installer_(std::move(installer)) {}
  std::string name() const override { return "apps"; }
  v1::RuleResult Apply(const DesiredState& desired) override;

 private:
  Platform* platform_;
  AppInstaller installer_;
};

}  // namespace preau::agent
