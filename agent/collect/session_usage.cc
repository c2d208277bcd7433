#include "agent/collect/session_usage.h"

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

void SessionUsageSource::Collect(const std::string& today) {
  Platform::SessionUsage fresh = platform_.TakeSessionUsage();
  if (fresh.screen_on_ms <= 0 && fresh.app_ms.empty()) return;
  std::string key = kKeyPrefix + today;
  auto saved = state_.Get(key);
  DayFigures d = saved.ok() && *saved ? Parse(**saved) : DayFigures{};
  d.screen_ms += fresh.screen_on_ms;
  for (const auto& [app, ms] : fresh.app_ms) d.app_ms[app] += ms;
  Status st = state_.Put(key, Format(d));
  if (!st.ok()) std::fprintf(stderr, "preau-agent: usage: %s\n", st.message().c_str());
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
