#include "common/policy/local_time.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

namespace preau::policy {
namespace {

using std::chrono::days;
using std::chrono::sys_days;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Reads "[+-]hh[:mm[:ss]]" at `pos`; returns false if there is no number there.
bool ReadHms(const std::string& s, size_t& pos, int64_t& out) {
  int sign = 1;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) sign = s[pos++] == '-' ? -1 : 1;
  int64_t parts[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    if (i > 0) {
      if (pos >= s.size() || s[pos] != ':') break;
      ++pos;
    }
    size_t start = pos;
    while (pos < s.size() && isdigit(static_cast<unsigned char>(s[pos]))) {
      parts[i] = parts[i] * 10 + (s[pos] - '0');
      ++pos;
    }
    if (pos == start || pos - start > 3) return false;
  }
  out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
  return true;
}

bool ReadName(const std::string& s, size_t& pos) {
  if (pos < s.size() && s[pos] == '<') {
    size_t close = s.find('>', pos);
    if (close == std::string::npos || close - pos < 4) return false;
    pos = close + 1;
    return true;
  }
  size_t start = pos;
  while (pos < s.size() && isalpha(static_cast<unsigned char>(s[pos]))) ++pos;
  return pos - start >= 3;
}

bool ReadInt(const std::string& s, size_t& pos, int& out) {
  size_t start = pos;
  out = 0;
  while (pos < s.size() && isdigit(static_cast<unsigned char>(s[pos])))
    out = out * 10 + (s[pos++] - '0');
  return pos > start && pos - start <= 3;
}

bool ReadTransition(const std::string& s, size_t& pos, TimeZoneRule::Transition& t) {
  if (pos >= s.size()) return false;
  if (s[pos] == 'M') {
    ++pos;
    t.kind = TimeZoneRule::Transition::kMonthWeekDay;
    if (!ReadInt(s, pos, t.month) || pos >= s.size() || s[pos++] != '.') return false;
    if (!ReadInt(s, pos, t.week) || pos >= s.size() || s[pos++] != '.') return false;
    if (!ReadInt(s, pos, t.day)) return false;
    if (t.month < 1 || t.month > 12 || t.week < 1 || t.week > 5 || t.day > 6) return false;
  } else if (s[pos] == 'J') {
    ++pos;
    t.kind = TimeZoneRule::Transition::kJulianNoLeap;
    if (!ReadInt(s, pos, t.day) || t.day < 1 || t.day > 365) return false;
  } else {
    t.kind = TimeZoneRule::Transition::kZeroBased;
    if (!ReadInt(s, pos, t.day) || t.day > 365) return false;
  }
  t.seconds = 7200;
  if (pos < s.size() && s[pos] == '/') {
    ++pos;
    if (!ReadHms(s, pos, t.seconds)) return false;
  }
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

// The local midnight (as days since the epoch) of the transition's date in `year`.
int64_t TransitionDay(const TimeZoneRule::Transition& t, int year) {
  using namespace std::chrono;
  sys_days jan1 = sys_days(std::chrono::year(year) / January / 1);
  switch (t.kind) {
    case TimeZoneRule::Transition::kJulianNoLeap: {
      int index = t.day - 1;
      if (IsLeap(year) && t.day >= 60) ++index;
      return (jan1 + days(index)).time_since_epoch().count();
    }
    case TimeZoneRule::Transition::kZeroBased:
      return (jan1 + days(t.day)).time_since_epoch().count();
    case TimeZoneRule::Transition::kMonthWeekDay: {
      sys_days first = sys_days(std::chrono::year(year) / month(t.month) / 1);
      int first_wd = static_cast<int>(weekday(first).c_encoding());  // 0 = Sunday
      int offset = (t.day - first_wd + 7) % 7 + (t.week - 1) * 7;
      unsigned last_day = static_cast<unsigned>(
          year_month_day_last(std::chrono::year(year) / month(t.month) / last).day());
      while (offset >= static_cast<int>(last_day)) offset -= 7;
      return (first + days(offset)).time_since_epoch().count();
    }
  }
  return 0;
}

const std::map<std::string, std::string>& BuiltInZones() {
  static const std::map<std::string, std::string> zones = {
      {"UTC", "UTC0"},
      {"Etc/UTC", "UTC0"},
      {"Europe/Paris", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"Europe/Brussels", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"Europe/Luxembourg", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"Europe/Zurich", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"Europe/Monaco", "CET-1CEST,M3.5.0,M10.5.0/3"},
      {"America/Guadeloupe", "AST4"},
      {"America/Martinique", "AST4"},
      {"America/Cayenne", "<-03>3"},
      {"America/Miquelon", "<-03>3<-02>,M3.2.0,M11.1.0"},
      {"Indian/Reunion", "<+04>-4"},
      {"Indian/Mayotte", "EAT-3"},
      {"Pacific/Noumea", "<+11>-11"},
      {"Pacific/Tahiti", "<-10>10"},
      {"Pacific/Wallis", "<+12>-12"},
  };
  return zones;
}

}  // namespace

std::string LocalTime::Date() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

TimeZoneRule TimeZoneRule::Utc() { return TimeZoneRule(); }

Result<TimeZoneRule> TimeZoneRule::Parse(const std::string& s) {
  TimeZoneRule rule;
  size_t pos = 0;
  auto bad = [&s](const char* what) {
    return InvalidArgument("'" + s + "' is not a POSIX TZ rule (" + what + ")");
  };
  if (!ReadName(s, pos)) return bad("standard zone name");
  int64_t west = 0;
  if (!ReadHms(s, pos, west)) return bad("standard offset");
  rule.std_offset_ = -west;
  if (pos == s.size()) return rule;
  if (!ReadName(s, pos)) return bad("daylight zone name");
  rule.has_dst_ = true;
  rule.dst_offset_ = rule.std_offset_ + 3600;
  if (pos < s.size() && s[pos] != ',') {
    if (!ReadHms(s, pos, west)) return bad("daylight offset");
    rule.dst_offset_ = -west;
  }
  if (pos == s.size()) {  // POSIX leaves the default rule to the implementation
    rule.start_ = {Transition::kMonthWeekDay, 0, 2, 3, 7200};
    rule.end_ = {Transition::kMonthWeekDay, 0, 1, 11, 7200};
    return rule;
  }
  if (s[pos++] != ',' || !ReadTransition(s, pos, rule.start_)) return bad("start rule");
  if (pos >= s.size() || s[pos++] != ',' || !ReadTransition(s, pos, rule.end_)) {
    return bad("end rule");
  }
  if (pos != s.size()) return bad("trailing characters");
  return rule;
}

int64_t TimeZoneRule::OffsetSecondsAt(int64_t t) const {
  if (!has_dst_) return std_offset_;
  using namespace std::chrono;
  int64_t local_day = FloorDiv(t + std_offset_, 86400);
  int year = static_cast<int>(year_month_day(sys_days(days(local_day))).year());
  int64_t start = TransitionDay(start_, year) * 86400 + start_.seconds - std_offset_;
  int64_t end = TransitionDay(end_, year) * 86400 + end_.seconds - dst_offset_;
  bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? dst_offset_ : std_offset_;
}

LocalTime TimeZoneRule::ToLocal(int64_t unix_ms) const {
  using namespace std::chrono;
  int64_t t = FloorDiv(unix_ms, 1000);
  LocalTime lt;
  lt.utc_offset_seconds = OffsetSecondsAt(t);
  int64_t local = t + lt.utc_offset_seconds;
  int64_t day = FloorDiv(local, 86400);
  int64_t secs = local - day * 86400;
  sys_days d{days(day)};
  year_month_day ymd(d);
  lt.year = static_cast<int>(ymd.year());
  lt.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  lt.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  lt.weekday = static_cast<int>(weekday(d).iso_encoding());
  lt.minute_of_day = static_cast<int>(secs / 60);
  lt.second = static_cast<int>(secs % 60);
  return lt;
}

Result<std::string> PosixRuleForZone(const std::string& name) {
  if (name.empty()) return InvalidArgument("empty time zone");
  // A TZif file ends with "\n<POSIX rule>\n"; reading the whole file is fine (a few KiB).
  if (name.find("..") == std::string::npos && name[0] != '/') {
    std::ifstream in("/usr/share/zoneinfo/" + name, std::ios::binary);
    if (in) {
      std::stringstream buf;
      buf << in.rdbuf();
      std::string data = buf.str();
      if (data.size() > 5 && data.compare(0, 4, "TZif") == 0 && data.back() == '\n') {
        size_t nl = data.rfind('\n', data.size() - 2);
        if (nl != std::string::npos) {
          std::string footer = data.substr(nl + 1, data.size() - nl - 2);
          if (!footer.empty() && TimeZoneRule::Parse(footer).ok()) return footer;
        }
      }
    }
  }
  auto it = BuiltInZones().find(name);
  if (it != BuiltInZones().end()) return it->second;
  if (TimeZoneRule::Parse(name).ok()) return name;
  return NotFound("unknown time zone '" + name + "' (use an IANA name such as Europe/Paris)");
}

}  // namespace preau::policy
