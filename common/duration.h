// Durations as people type them on the command line: "90s", "45m", "2h", "7d".
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace preau {

// Parses "<positive integer><s|m|h|d>" into seconds.
Result<int64_t> ParseDuration(const std::string& text);

// Local ISO 8601 time ("2026-11-23T10:45:00+01:00") of a Unix time in milliseconds; "-" for 0.
std::string FormatLocalTime(int64_t unix_ms);
// Local "10:45" of a Unix time in milliseconds.
std::string FormatLocalHourMinute(int64_t unix_ms);

}  // namespace preau
