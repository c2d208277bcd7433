// The enforcers every agent runs, in the order they are applied: lock first (so a locked
// device is locked before anything else changes), then focus, Wi-Fi, apps, settings.
#pragma once

#include <memory>
#include <vector>

#include "agent/enforce/app_enforcer.h"
#include "agent/enforce/enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {

// `platform` must outlive the enforcers; `installer` may be empty (see AppEnforcer).
std::vector<std::unique_ptr<Enforcer>> MakeDefaultEnforcers(Platform* platform,
                                                            AppInstaller installer = {});

}  // namespace preau::agent
