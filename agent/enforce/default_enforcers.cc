#include "agent/enforce/default_enforcers.h"

#include "agent/enforce/allow_list_enforcer.h"
#include "agent/enforce/focus_enforcer.h"
#include "agent/enforce/screen_lock_enforcer.h"
#include "agent/enforce/settings_enforcers.h"
#include "agent/enforce/wifi_enforcer.h"

namespace preau::agent {

std::vector<std::unique_ptr<Enforcer>> MakeDefaultEnforcers(Platform* platform,
                                                            AppInstaller installer) {
  std::vector<std::unique_ptr<Enforcer>> out;
  out.push_back(std::make_unique<ScreenLockEnforcer>(platform));
  out.push_back(std::make_unique<FocusEnforcer>(platform));
  out.push_back(std::make_unique<WifiEnforcer>(platform));
  out.push_back(std::make_unique<AppEnforcer>(platform, std::move(installer)));
  out.push_back(std::make_unique<AllowListEnforcer>(platform));
  out.push_back(std::make_unique<ScreenLockSettingsEnforcer>(platform));
  out.push_back(std::make_unique<RestrictionsEnforcer>(platform));
  out.push_back(std::make_unique<UpdatesEnforcer>(platform));
  return out;
}

}  // namespace preau::agent
