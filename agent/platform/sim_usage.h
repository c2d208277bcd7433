// SimUsage: plausible, reproducible usage for a simulated device — foreground minutes for
// some of its installed apps, screen-on time, and a few blocked requests per filter
// category — drawn from its serial number and the day, so that the same device reports
// the same day identically on every run. About one device in seven is left unused (a
// tablet in a drawer), so that reports have unused devices to show.
#pragma once

#include <string>

#include "preau/v1/device.pb.h"
#include "preau/v1/usage.pb.h"

namespace preau::agent {

// The usage of the device described by `inventory` on local date `day` (YYYY-MM-DD).
v1::DailyUsage SimulatedUsage(const v1::Inventory& inventory, const std::string& day);

}  // namespace preau::agent
