// Linux inventory: what the hardware and OS of a Linux device are, read from /proc, /sys
// and /etc below a root directory (a fake tree in tests). Anything unreadable is left
// empty / zero, as the Inventory message allows.
#pragma once

#include "agent/platform/sysfs_reader.h"
#include "preau/v1/device.pb.h"

namespace preau::agent {

// Fills everything but agent_version and apps (the agent knows the former; Linux has no
// managed app list yet).
v1::Inventory CollectLinuxInventory(const SysfsReader& fs);

}  // namespace preau::agent
