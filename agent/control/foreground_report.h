// ForegroundReport: tells the server which app is in front on this device, for the tiles
// of the teachers' console. The platform says when the app in front may have changed
// (Linux: preau-session's "front" line; the simulated platform: its lock, focus and
// opened URLs); the report goes out at once, then at most once per `min_interval` with
// the app in front at that moment, and only when it differs from the last one sent — a
// pupil switching apps all lesson long costs the server one small message every few
// seconds at most. It is live state, not a record: sent without an id (not stored on
// either side, not acked), dropped while disconnected, and sent again on each connection
// (the server forgets it with the connection). The app's name only, never a title or URL.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "agent/core/agent_feature.h"

namespace preau::agent {

struct ForegroundReportOptions {
  std::chrono::milliseconds min_interval{2000};
};

class ForegroundReport final : public AgentFeature {
 public:
  explicit ForegroundReport(ForegroundReportOptions options = {}) : options_(options) {}
  std::string Name() const override { return "foreground_report"; }
  void Start(AgentContext& ctx) override;
  void OnConnected() override;
  void Stop() override;

 private:
  void Changed();
  void SendNow();

  const ForegroundReportOptions options_;
  AgentContext* ctx_ = nullptr;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool timer_armed_ = false;
  std::optional<std::string> sent_;  // what the server holds, as far as this connection goes
  std::chrono::steady_clock::time_point last_sent_{};
  // Shared with the platform's listener and posted handlers, which may outlive Stop.
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
};

}  // namespace preau::agent
