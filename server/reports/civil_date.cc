#include "server/reports/civil_date.h"

#include <algorithm>
#include <cstdio>

namespace preau::server {

namespace {
bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}
}  // namespace

std::optional<CivilDate> CivilDate::Parse(const std::string& t) {
  if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (t[i] < '0' || t[i] > '9') return std::nullopt;
  }
  CivilDate d;
  d.year = std::stoi(t.substr(0, 4));
  d.month = std::stoi(t.substr(5, 2));
  d.day = std::stoi(t.substr(8, 2));
  if (d.year < 1970 || d.month < 1 || d.month > 12 || d.day < 1 ||
      d.day > DaysInMonth(d.year, d.month)) {
    return std::nullopt;
  }
  return d;
}

// Howard Hinnant's days_from_civil / civil_from_days, in the proleptic Gregorian calendar.
int64_t CivilDate::DaysSinceEpoch() const {
  int64_t y = year - (month <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = (month + 9) % 12;
  int64_t doy = (153 * mp + 2) / 5 + day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate CivilDate::FromDaysSinceEpoch(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  CivilDate d;
  d.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  d.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  d.year = static_cast<int>(yoe + era * 400 + (d.month <= 2 ? 1 : 0));
  return d;
}

CivilDate CivilDate::FromUnixMs(int64_t unix_ms) {
  int64_t days = unix_ms >= 0 ? unix_ms / 86'400'000 : (unix_ms - 86'399'999) / 86'400'000;
  return FromDaysSinceEpoch(days);
}

CivilDate CivilDate::MinusMonths(int months) const {
  int total = year * 12 + (month - 1) - months;
  CivilDate d;
  d.year = total / 12;
  d.month = total % 12 + 1;
  d.day = std::min(day, DaysInMonth(d.year, d.month));
  return d;
}

std::string CivilDate::ToString() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

}  // namespace preau::server
