// SessionUsage: usage figures of a real desktop, from what its session program reports
// (Platform::TakeSessionUsage: screen-on time and the window class in front, never a
// title). Each collection adds what was reported since the last one to the figures of
// its day (a period across midnight is shared between its days in proportion),
// kept in the agent's state store so that a restart loses nothing already collected; an
// ended day is handed out once, in minutes rounded up (a minute begun counts), then
// forgotten.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "agent/collect/usage_collector.h"
#include "agent/core/state_store.h"
#include "agent/platform/platform.h"

namespace preau::agent {

// Shares `usage`, reported over [from, to] (Unix ms), between the local days of that
// period in proportion to their part of it (all of it on `to`'s day when the period is
// empty); the figures add up to the usage given.
std::map<std::string, Platform::SessionUsage> SplitByLocalDay(const Platform::SessionUsage& usage,
                                                              int64_t from_unix_ms,
                                                              int64_t to_unix_ms);

class SessionUsageSource final : public UsageSource {
 public:
  SessionUsageSource(Platform& platform, StateStore& state)
      : platform_(platform), state_(state) {}
  void Collect(int64_t from_unix_ms, int64_t to_unix_ms) override;
  std::optional<v1::DailyUsage> Day(const std::string& day) override;

 private:
  Platform& platform_;
  StateStore& state_;
};

}  // namespace preau::agent
