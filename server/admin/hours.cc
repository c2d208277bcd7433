#include "server/admin/hours.h"

#include <cstdio>

#include "common/policy/local_time.h"
#include "server/admin/refusal_texts.h"

namespace preau::server {

namespace {
constexpr const char* kDayNames[8] = {"", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

int DayOf(const std::string& name) {
  for (int d = 1; d <= 7; ++d) {
    if (name == kDayNames[d]) return d;
  }
  return 0;
}

// "16:30" -> 990; -1 if malformed.
int MinuteOf(const std::string& hhmm) {
  if (hhmm.size() != 5 || hhmm[2] != ':') return -1;
  for (int i : {0, 1, 3, 4}) {
    if (hhmm[i] < '0' || hhmm[i] > '9') return -1;
  }
  int h = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
  int m = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

std::string Hhmm(int minute) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}
}  // namespace

Result<std::vector<HoursWindow>> ParseHours(const std::string& text) {
  std::vector<HoursWindow> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(';', pos);
    std::string part = Trim(text.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    pos = end == std::string::npos ? text.size() + 1 : end + 1;
    if (part.empty()) continue;
    size_t space = part.find(' ');
    if (space == std::string::npos) {
      return InvalidArgument("--hours '" + part + "': expected DAYS HH:MM-HH:MM, e.g. "
                             "'mon,tue,thu,fri 16:30-18:00'");
    }
    std::string days = part.substr(0, space);
    std::string range = Trim(part.substr(space + 1));
    HoursWindow w;
    size_t d = 0;
    while (d <= days.size()) {
      size_t comma = days.find(',', d);
      std::string day = days.substr(d, comma == std::string::npos ? std::string::npos : comma - d);
      d = comma == std::string::npos ? days.size() + 1 : comma + 1;
      int n = DayOf(day);
      if (n == 0) {
        return InvalidArgument("--hours '" + part + "': '" + day +
                               "' is not a day (mon, tue, wed, thu, fri, sat, sun)");
      }
      w.days[n] = true;
    }
    size_t dash = range.find('-');
    w.start_minute = dash == std::string::npos ? -1 : MinuteOf(range.substr(0, dash));
    w.end_minute = dash == std::string::npos ? -1 : MinuteOf(range.substr(dash + 1));
    if (w.start_minute < 0 || w.end_minute < 0) {
      return InvalidArgument("--hours '" + part + "': '" + range +
                             "' is not a time range HH:MM-HH:MM");
    }
    if (w.end_minute <= w.start_minute) {
      return InvalidArgument("--hours '" + part + "': the window ends before it starts "
                             "(a window cannot cross midnight)");
    }
    out.push_back(w);
  }
  if (out.empty()) return InvalidArgument("--hours is empty: give at least one window");
  if (out.size() > 16) return InvalidArgument("--hours: at most 16 windows");
  return out;
}

std::string FormatHours(const std::vector<HoursWindow>& windows) {
  std::string out;
  for (const auto& w : windows) {
    if (!out.empty()) out += "; ";
    std::string days;
    for (int d = 1; d <= 7; ++d) {
      if (w.days[d]) days += (days.empty() ? "" : ",") + std::string(kDayNames[d]);
    }
    out += days + " " + Hhmm(w.start_minute) + "-" + Hhmm(w.end_minute);
  }
  return out;
}

Status CheckHours(const std::string& operator_name, const std::string& hours, int64_t now_ms) {
  auto windows = ParseHours(hours);
  if (!windows.ok()) {
    return PermissionDenied("operator '" + operator_name + "' has no valid hours: " +
                            windows.status().message());
  }
  auto rule_text = policy::PosixRuleForZone(kOperatorHoursZone);
  auto rule = rule_text.ok() ? policy::TimeZoneRule::Parse(*rule_text)
                             : Result<policy::TimeZoneRule>(rule_text.status());
  policy::LocalTime t = rule.ok() ? rule->ToLocal(now_ms) : policy::TimeZoneRule::Utc().ToLocal(now_ms);
  for (const auto& w : *windows) {
    if (w.days[t.weekday] && t.minute_of_day >= w.start_minute && t.minute_of_day < w.end_minute) {
      return Status::Ok();
    }
  }
  return PermissionDenied(Say(refusal::kOutsideHours,
                              {operator_name, FormatHours(*windows), kOperatorHoursZone,
                               kDayNames[t.weekday] + std::string(" ") + Hhmm(t.minute_of_day)}));
}

}  // namespace preau::server
