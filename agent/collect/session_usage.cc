#include "agent/collect/session_usage.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace preau::agent {
namespace {

constexpr const char* kKeyPrefix = "usage.session.";

// Milliseconds kept per day: "screen <ms>" then one "<ms> <window class>" line per app.
struct DayFigures {
  int64_t screen_ms = 0;
  std::map<std::string, int64_t> app_ms;
};

DayFigures Parse(const std::string& text) {
  DayFigures d;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    std::string head = line.substr(0, space), rest = line.substr(space + 1);
    if (head == "screen") {
      d.screen_ms = std::atoll(rest.c_str());
    } else {
      d.app_ms[rest] += std::atoll(head.c_str());
    }
  }
  return d;
}

std::string Format(const DayFigures& d) {
  std::string out = "screen " + std::to_string(d.screen_ms) + "\n";
  for (const auto& [app, ms] : d.app_ms) out += std::to_string(ms) + " " + app + "\n";
  return out;
}

uint32_t MinutesBegun(int64_t ms) { return static_cast<uint32_t>((ms + 59'999) / 60'000); }

}  // namespace

std::map<std::string, Platform::SessionUsage> SplitByLocalDay(const Platform::SessionUsage& usage,
                                                              int64_t from_unix_ms,
                                                              int64_t to_unix_ms) {
  std::map<std::string, Platform::SessionUsage> out;
  if (to_unix_ms <= from_unix_ms) {
    out[LocalDay(to_unix_ms)] = usage;
    return out;
  }
  const int64_t span = to_unix_ms - from_unix_ms;
  Platform::SessionUsage left = usage;  // what is not given out yet: the last day gets it
  for (int64_t start = from_unix_ms; start < to_unix_ms;) {
    int64_t end = std::min(NextLocalMidnight(start), to_unix_ms);
    Platform::SessionUsage& day = out[LocalDay(start)];
    if (end == to_unix_ms) {
      day.screen_on_ms += left.screen_on_ms;
      for (const auto& [app, ms] : left.app_ms) {
        if (ms > 0) day.app_ms[app] += ms;
      }
      break;
    }
    auto share = [&](int64_t ms) { return static_cast<int64_t>(static_cast<__int128>(ms) * (end - start) / span); };
    int64_t screen = share(usage.screen_on_ms);
    day.screen_on_ms += screen;
    left.screen_on_ms -= screen;
    for (const auto& [app, ms] : usage.app_ms) {
      int64_t part = share(ms);
      if (part > 0) day.app_ms[app] += part;
      left.app_ms[app] -= part;
    }
    start = end;
  }
  return out;
}

void SessionUsageSource::Collect(int64_t from_unix_ms, int64_t to_unix_ms) {
  Platform::SessionUsage fresh = platform_.TakeSessionUsage();
  if (fresh.screen_on_ms <= 0 && fresh.app_ms.empty()) return;
  for (const auto& [day, usage] : SplitByLocalDay(fresh, from_unix_ms, to_unix_ms)) {
    std::string key = kKeyPrefix + day;
    auto saved = state_.Get(key);
    DayFigures d = saved.ok() && *saved ? Parse(**saved) : DayFigures{};
    d.screen_ms += usage.screen_on_ms;
    for (const auto& [app, ms] : usage.app_ms) d.app_ms[app] += ms;
    Status st = state_.Put(key, Format(d));
    if (!st.ok()) std::fprintf(stderr, "preau-agent: usage: %s\n", st.message().c_str());
  }
}

std::optional<v1::DailyUsage> SessionUsageSource::Day(const std::string& day) {
  std::string key = kKeyPrefix + day;
  auto saved = state_.Get(key);
  if (!saved.ok() || !*saved) return std::nullopt;
  DayFigures d = Parse(**saved);
  // Handed out once: the collector sends it through the durable outbox.
  (void)state_.Delete(key);
  v1::DailyUsage usage;
  usage.set_day(day);
  usage.set_screen_on_minutes(MinutesBegun(d.screen_ms));
  for (const auto& [app, ms] : d.app_ms) {
    auto* a = usage.add_apps();
    a->set_app(app);
    a->set_foreground_minutes(MinutesBegun(ms));
  }
  return usage;
}

}  // namespace preau::agent
