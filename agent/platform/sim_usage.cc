#include "agent/platform/sim_usage.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace preau::agent {

namespace {
uint64_t Fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t Mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// UT1 category names, as the web filter reports them.
constexpr std::array<const char*, 5> kBlockedCategories = {
    "adult", "gambling", "games", "social_networks", "malware"};
}  // namespace

v1::DailyUsage SimulatedUsage(const v1::Inventory& inventory, const std::string& day) {
  v1::DailyUsage out;
  out.set_day(day);
  uint64_t device = Fnv1a(inventory.serial());
  if (Mix(device) % 7 == 0) return out;  // a device nobody uses
  uint64_t today = Fnv1a(day, device);
  // Some days the device stays in its cart.
  if (Mix(today) % 5 == 0) return out;
  uint32_t total = 0;
  for (const auto& app : inventory.apps()) {
    uint64_t r = Mix(Fnv1a(app.id(), today));
    if (r % 10 < 4) continue;
    uint32_t minutes = static_cast<uint32_t>(5 + (r >> 8) % 56);
    auto* a = out.add_apps();
    a->set_app(app.id());
    a->set_foreground_minutes(minutes);
    total += minutes;
  }
  out.set_screen_on_minutes(std::min<uint32_t>(1440, total + 5 + Mix(today ^ 1) % 25));
  for (const char* category : kBlockedCategories) {
    uint64_t r = Mix(Fnv1a(category, today));
    if (r % 4 != 0) continue;
    auto* b = out.add_blocked();
    b->set_category(category);
    b->set_count(static_cast<uint32_t>(1 + (r >> 8) % 6));
  }
  return out;
}

}  // namespace preau::agent
