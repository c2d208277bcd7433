#include "agent/collect/usage_collector.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

#include "agent/collect/session_usage.h"
#include "agent/platform/sim_usage.h"

namespace preau::agent {

namespace asio = boost::asio;

namespace {
constexpr const char* kLastDayKey = "usage.last_day";
constexpr const char* kDroppedReportedKey = "usage.dropped_reported";

class SimSource final : public UsageSource {
 public:
  explicit SimSource(Platform& platform) : platform_(platform) {}
  std::optional<v1::DailyUsage> Day(const std::string& day) override {
    return SimulatedUsage(platform_.CollectInventory(), day);
  }

 private:
  Platform& platform_;
};

std::optional<std::chrono::sys_days> ParseDay(const std::string& day) {
  int y = 0;
  unsigned m = 0, d = 0;
  if (std::sscanf(day.c_str(), "%d-%u-%u", &y, &m, &d) != 3) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(m),
                                  std::chrono::day(d)};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd);
}

std::string FormatDay(std::chrono::sys_days days) {
  std::chrono::year_month_day ymd(days);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}
}  // namespace

std::string LocalDay(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

int64_t NextLocalMidnight(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  tm.tm_mday += 1;
  tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;  // mktime works out summer time
  return static_cast<int64_t>(std::mktime(&tm)) * 1000;
}

std::string AddDays(const std::string& day, int days) {
  auto d = ParseDay(day);
  if (!d) return day;
  return FormatDay(*d + std::chrono::days(days));
}

std::string UsageCollector::Today() const { return LocalDay(ctx_->clock().NowUnixMs()); }

void UsageCollector::Start(AgentContext& ctx) {
  ctx_ = &ctx;
  if (!opts_.source && ctx.platform().Kind() == "sim") {
    opts_.source = std::make_shared<SimSource>(ctx.platform());
  } else if (!opts_.source) {
    opts_.source = std::make_shared<SessionUsageSource>(ctx.platform(), ctx.state());
  }
  auto saved = ctx.state().Get(kLastDayKey);
  std::string last = saved.ok() && *saved ? **saved : "";
  if (!ParseDay(last)) {
    // First start: report the backfill days at the first check.
    last = AddDays(Today(), -1 - opts_.backfill_days);
    (void)ctx.state().Put(kLastDayKey, last);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_day_ = last;
  }
  timer_ = std::make_unique<asio::steady_timer>(ctx.strand());
  collected_until_ms_ = ctx.clock().NowUnixMs();
  Check();
}

void UsageCollector::OnConnected() { Check(); }

void UsageCollector::Stop() {
  // What the session reported since the last check is kept (the state store survives).
  if (ctx_ && opts_.source && !stopped_) Collect();
  stopped_ = true;
  *alive_ = false;
  if (timer_) timer_->cancel();
}

void UsageCollector::Arm() {
  if (stopped_) return;
  // A check at midnight too, so that the day's last minutes are collected into that day.
  int64_t now = ctx_->clock().NowUnixMs();
  // (At least a second apart: a test's clock may stand still just before midnight.)
  auto to_midnight = std::chrono::milliseconds(std::max<int64_t>(NextLocalMidnight(now) - now, 1000));
  timer_->expires_after(std::min<std::chrono::milliseconds>(opts_.check_interval, to_midnight));
  timer_->async_wait(asio::bind_executor(ctx_->strand(), [this, alive = alive_](
                                                             boost::system::error_code ec) {
    if (ec || !*alive) return;
    Check();
  }));
}

void UsageCollector::CheckNow() {
  if (!ctx_) return;
  asio::post(ctx_->strand(), [this, alive = alive_] {
    if (*alive) Check();
  });
}

std::string UsageCollector::LastReportedDay() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_day_;
}

void UsageCollector::CountBlocked(const std::string& category) {
  if (!ctx_) return;
  std::string today = Today();
  std::lock_guard<std::mutex> lock(mu_);
  ++blocked_[today][category];
}

std::string UsageCollector::ResumeAfterClockJump(const std::string& last, const std::string& today) {
  // The last report is dated today or later: the clock had run ahead and has been set
  // back. Waiting for the calendar to pass that date would silence the device for as long
  // as the clock was wrong, so start again as on a first start (days already stored are
  // replaced by the same ones); requests counted under the wrong dates happened lately,
  // so they count for today.
  std::string resume = AddDays(today, -1 - opts_.backfill_days);
  std::fprintf(stderr,
               "preau-agent: usage: the last report is dated %s, after today (%s): the "
               "clock was ahead and has been set back; reporting resumes after %s\n",
               last.c_str(), today.c_str(), resume.c_str());
  (void)ctx_->state().Put(kLastDayKey, resume);
  std::lock_guard<std::mutex> lock(mu_);
  last_day_ = resume;
  for (auto it = blocked_.upper_bound(today); it != blocked_.end();) {
    for (const auto& [category, n] : it->second) blocked_[today][category] += n;
    it = blocked_.erase(it);
  }
  return resume;
}

void UsageCollector::Collect() {
  int64_t now = ctx_->clock().NowUnixMs();
  opts_.source->Collect(collected_until_ms_, now);
  collected_until_ms_ = now;
}

void UsageCollector::Check() {
  if (stopped_) return;
  timer_->cancel();
  std::string today = Today();
  if (opts_.source) Collect();
  if (opts_.blocked_counts) {
    auto now = opts_.blocked_counts();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [category, n] : now) {
      uint64_t before = blocked_seen_[category];
      // A count lower than before means the filter restarted and counts from zero again.
      uint64_t grew = n >= before ? n - before : n;
      if (grew > 0) blocked_[today][category] += static_cast<uint32_t>(grew);
    }
    blocked_seen_ = std::move(now);
  }
  std::string last;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last = last_day_;
  }
  std::string yesterday = AddDays(today, -1);
  if (last > yesterday) last = ResumeAfterClockJump(last, today);
  if (last < yesterday) {
    std::string first = AddDays(last, 1);
    std::string oldest = AddDays(today, -opts_.max_days_per_batch);
    if (first < oldest) first = oldest;
    v1::AgentMessage msg;
    auto* batch = msg.mutable_usage();
    std::map<std::string, std::map<std::string, uint32_t>> blocked;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = blocked_.begin(); it != blocked_.end() && it->first < today;) {
        blocked.insert(*it);
        it = blocked_.erase(it);
      }
    }
    for (std::string day = first; day <= yesterday; day = AddDays(day, 1)) {
      std::optional<v1::DailyUsage> usage;
      if (opts_.source) usage = opts_.source->Day(day);
      auto counted = blocked.find(day);
      if (counted != blocked.end()) {
        if (!usage) {
          usage.emplace();
          usage->set_day(day);
        }
        for (const auto& [category, n] : counted->second) {
          auto* b = usage->add_blocked();
          b->set_category(category);
          b->set_count(n);
        }
      }
      if (usage) *batch->add_days() = std::move(*usage);
    }
    if (batch->days_size() > 0) {
      int64_t dropped = ctx_->state().DroppedCount();
      batch->set_dropped_batches(static_cast<uint32_t>(dropped));
      msg.set_id("usage-" + yesterday);
      ctx_->SendReliable(std::move(msg), "usage", /*replace_kind=*/false);
      (void)ctx_->state().Put(kDroppedReportedKey, std::to_string(dropped));
    }
    (void)ctx_->state().Put(kLastDayKey, yesterday);
    std::lock_guard<std::mutex> lock(mu_);
    last_day_ = yesterday;
  }
  // Drops past the outbox bound that no batch has told yet (the last batch queued may
  // itself have pushed one out). Only once the outbox is empty, so this notice cannot
  // push out a report of its own.
  auto pending = ctx_->state().PendingCount();
  int64_t dropped = ctx_->state().DroppedCount();
  auto saved = ctx_->state().Get(kDroppedReportedKey);
  int64_t reported = saved.ok() && *saved ? std::atoll((*saved)->c_str()) : 0;
  if (pending.ok() && *pending == 0 && dropped > reported) {
    v1::AgentMessage notice;
    notice.set_id("usage-dropped-" + std::to_string(dropped));
    notice.mutable_usage()->set_dropped_batches(static_cast<uint32_t>(dropped));
    ctx_->SendReliable(std::move(notice), "usage", /*replace_kind=*/false);
    (void)ctx_->state().Put(kDroppedReportedKey, std::to_string(dropped));
  }
  Arm();
}

}  // namespace preau::agent
