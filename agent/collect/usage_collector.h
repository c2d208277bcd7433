// UsageCollector: the agent plugin that reports usage — per local day, foreground minutes
// per app, screen-on minutes and counts of blocked web requests per filter category; never
// the names visited, never who held the device. Once a day has ended it is sent in a
// UsageBatch through the durable outbox (SendReliable), so a device offline for weeks
// keeps its reports (up to the outbox bound) and delivers them on reconnect; the batch id
// is derived from the last day it covers, so a batch re-sent after a crash is stored once.
// Each batch says how many reports the outbox dropped past its bound (cumulative), and
// once the outbox has drained the collector tells the server about drops it has not
// reported yet. A last report dated after yesterday means the clock was set back after
// running ahead: reporting starts again from today rather than waiting for that date
// (the server refuses usage dated after its own date).
//
// Where usage comes from is a UsageSource: simulated devices draw it from their seed
// (agent/platform/sim_usage.h); other platforms from what their desktop session reports
// (agent/collect/session_usage.h: preau-session on Linux), collected at every check, at
// each local midnight (so that a day's minutes are not counted on the next) and when the
// agent stops (so that a restart loses nothing).
#pragma once

#include <chrono>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "agent/core/agent_feature.h"
#include "preau/v1/usage.pb.h"

namespace preau::agent {

class UsageSource {
 public:
  virtual ~UsageSource() = default;
  // The device's usage on local date `day` (YYYY-MM-DD); nullopt when it has nothing.
  virtual std::optional<v1::DailyUsage> Day(const std::string& day) = 0;
  // For sources that gather as time goes: called at every check, at midnight and at stop
  // with the period (Unix ms, by the agent's clock) since the previous call.
  virtual void Collect(int64_t from_unix_ms, int64_t to_unix_ms) {
    (void)from_unix_ms;
    (void)to_unix_ms;
  }
};

struct UsageCollectorOptions {
  // How often to look for ended days (and undelivered drop counts) and collect the
  // source; a check also runs at each local midnight.
  std::chrono::milliseconds check_interval{std::chrono::minutes(1)};
  // On first start, how many past days to report (if the source knows them).
  int backfill_days = 7;
  // A device back after a long absence reports at most this many past days.
  int max_days_per_batch = 31;
  // null: simulated usage on the sim platform, the desktop session's elsewhere.
  std::shared_ptr<UsageSource> source;
  // Cumulative blocked requests per filter category since the filter started (the web
  // filter's counters); polled at each check, and what grew is counted for today.
  std::function<std::map<std::string, uint64_t>()> blocked_counts;
};

class UsageCollector final : public AgentFeature {
 public:
  explicit UsageCollector(UsageCollectorOptions opts = {}) : opts_(std::move(opts)) {}
  std::string Name() const override { return "usage"; }
  void Start(AgentContext& ctx) override;
  void OnConnected() override;
  void Stop() override;

  // Counts one blocked request of `category` today (thread-safe; the web filter calls it).
  void CountBlocked(const std::string& category);
  // Looks for ended days now (thread-safe; tests and platform events).
  void CheckNow();
  // The last day reported so far ("" before the first).
  std::string LastReportedDay() const;

 private:
  void Check();
  void Arm();
  void Collect();  // the source, for the period since the last collection
  // Called when the last reported day is after yesterday; returns the new last day.
  std::string ResumeAfterClockJump(const std::string& last, const std::string& today);
  std::string Today() const;

  UsageCollectorOptions opts_;
  AgentContext* ctx_ = nullptr;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  int64_t collected_until_ms_ = 0;  // the source was collected up to here

  mutable std::mutex mu_;
  std::string last_day_;
  std::map<std::string, std::map<std::string, uint32_t>> blocked_;  // day -> category -> n
  std::map<std::string, uint64_t> blocked_seen_;  // last poll of opts_.blocked_counts
};

// Local date (YYYY-MM-DD) of a Unix time in milliseconds, and date arithmetic on it.
std::string LocalDay(int64_t unix_ms);
std::string AddDays(const std::string& day, int days);
// The first local midnight after `unix_ms`, in Unix ms.
int64_t NextLocalMidnight(int64_t unix_ms);

}  // namespace preau::agent
