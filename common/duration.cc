#include "common/duration.h"

#include <ctime>

namespace preau {

Result<int64_t> ParseDuration(const std::string& text) {
  auto bad = [&] {
    return InvalidArgument("duration '" + text + "': expected a number and a unit, e.g. 90s, 45m, 2h, 7d");
  };
  if (text.size() < 2) return bad();
  int64_t n = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    char c = text[i];
    if (c < '0' || c > '9') return bad();
    n = n * 10 + (c - '0');
    if (n > 100LL * 365 * 86400) return InvalidArgument("duration '" + text + "' is too long");
  }
  if (n <= 0) return InvalidArgument("duration '" + text + "' must be positive");
  switch (text.back()) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    default: return bad();
  }
}

namespace {
std::string Format(int64_t unix_ms, const char* fmt) {
  if (unix_ms == 0) return "-";
  time_t t = static_cast<time_t>(unix_ms / 1000);
  struct tm tm;
  localtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}
}  // namespace

std::string FormatLocalTime(int64_t unix_ms) {
  std::string s = Format(unix_ms, "%Y-%m-%dT%H:%M:%S%z");
  // strftime gives +0100; ISO 8601 extended form wants +01:00.
  if (s.size() > 5 && s != "-") s.insert(s.size() - 2, ":");
  return s;
}

std::string FormatLocalHourMinute(int64_t unix_ms) { return Format(unix_ms, "%H:%M"); }

}  // namespace preau
