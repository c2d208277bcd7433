// LocalTime: the device's wall clock in the policy's time zone, computed offline.
//
// Schedules ("curfew 21:00-07:00", "school from 08:30") are local times, and Europe/Paris
// changes offset twice a year. GCC 12's <chrono> has no time-zone database and
// tzset/localtime_r would mutate the process-wide TZ, so a policy carries its zone as a
// POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3", the footer of a TZif file), compiled on the
// server from the IANA name; the agent evaluates that rule itself, without tzdata and
// without global state.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace preau::policy {

struct LocalTime {
  int year = 1970;
  int month = 1;          // 1..12
  int day = 1;            // 1..31
  int weekday = 4;        // ISO: 1 = Monday … 7 = Sunday
  int minute_of_day = 0;  // 0..1439
  int second = 0;
  int64_t utc_offset_seconds = 0;
  std::string Date() const;  // "YYYY-MM-DD"
};

// A parsed POSIX TZ rule: a standard offset and, optionally, daylight-saving rules.
class TimeZoneRule {
 public:
  static Result<TimeZoneRule> Parse(const std::string& posix);
  static TimeZoneRule Utc();

  LocalTime ToLocal(int64_t unix_ms) const;
  int64_t OffsetSecondsAt(int64_t unix_seconds) const;  // east of UTC is positive

  struct Transition {  // when DST starts or ends within a year
    enum Kind { kJulianNoLeap, kZeroBased, kMonthWeekDay } kind = kMonthWeekDay;
    int day = 0, week = 0, month = 0;
    int64_t seconds = 7200;  // local time of day of the change (may be negative or > 24 h)
  };

 private:
  int64_t std_offset_ = 0;  // seconds east of UTC
  bool has_dst_ = false;
  int64_t dst_offset_ = 0;
  Transition start_, end_;
};

// The POSIX rule for an IANA zone name: read from the footer of
// /usr/share/zoneinfo/<name> when present, else from a built-in table of the zones French
// schools use (metropole and overseas). A string that is already a POSIX rule is returned
// as it is once it parses.
Result<std::string> PosixRuleForZone(const std::string& name);

}  // namespace preau::policy
