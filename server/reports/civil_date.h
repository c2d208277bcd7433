// CivilDate: calendar dates as usage is keyed ("2025-03-14"), and the arithmetic that
// retention and reports need (a month back, thirty days back, days between two dates),
// without time zones: days are the devices' local dates, compared as dates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace preau::server {

struct CivilDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31

  // "YYYY-MM-DD"; nullopt for anything else, impossible dates (2025-02-30) included.
  static std::optional<CivilDate> Parse(const std::string& text);
  // The UTC date of a Unix time in milliseconds.
  static CivilDate FromUnixMs(int64_t unix_ms);
  // Days since 1970-01-01.
  int64_t DaysSinceEpoch() const;
  static CivilDate FromDaysSinceEpoch(int64_t days);

  CivilDate MinusDays(int64_t days) const { return FromDaysSinceEpoch(DaysSinceEpoch() - days); }
  // Calendar months back; the day is clamped to the month's length (31 March - 1 = 28/29 Feb).
  CivilDate MinusMonths(int months) const;
  std::string ToString() const;
};

}  // namespace preau::server
