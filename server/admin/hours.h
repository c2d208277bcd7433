// Hours: the time windows of an operator who may act only at certain times (the
// periscolaire role), given at creation as "mon,tue,thu,fri 16:30-18:00" (several windows
// separated by ';'), read in the authority's time zone on the server's clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace preau::server {

// The zone operators' hours are read in.
inline constexpr const char* kOperatorHoursZone = "Europe/Paris";

struct HoursWindow {
  bool days[8] = {};  // ISO weekdays 1..7
  int start_minute = 0;
  int end_minute = 0;  // exclusive; windows do not cross midnight
};

// Parses and checks "mon,tue 16:30-18:00; wed 09:00-12:00"; errors name what is wrong.
Result<std::vector<HoursWindow>> ParseHours(const std::string& text);
// The same windows written the canonical way ("mon,tue 16:30-18:00").
std::string FormatHours(const std::vector<HoursWindow>& windows);
// Ok inside one of the windows at `now_ms`; otherwise PermissionDenied naming the windows
// and the local time it is.
Status CheckHours(const std::string& operator_name, const std::string& hours, int64_t now_ms);

}  // namespace preau::server
