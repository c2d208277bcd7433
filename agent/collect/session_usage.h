// SessionUsage: usage figures of a real desktop, from what its session program reports
// (Platform::TakeSessionUsage: screen-on time and the window class in front, never a
// title). Each collection adds what was reported since the last one to today's figures,
// kept in the agent's state store so that a restart loses nothing already collected; an
// ended day is handed out once, in minutes rounded up (a minute begun counts), then
// forgotten.
#pragma once

#include <optional>
#include <string>

#include "agent/collect/usage_collector.h"
#include "agent/core/state_store.h"
#include "agent/platform/platform.h"

namespace preau::agent {

class SessionUsageSource final : public UsageSource {
 public:
  SessionUsageSource(Platform& platform, StateStore& state)
      : platform_(platform), state_(state) {}
  void Collect(const std::string& today) override;
  std::optional<v1::DailyUsage> Day(const std::string& day) override;

 private:
  Platform& platform_;
  StateStore& state_;
};

}  // namespace preau::agent
