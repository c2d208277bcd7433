#include "server/reports/retention_job.h"

#include <cstdio>

#include "server/reports/civil_date.h"

namespace preau::server {

std::string RetentionCutoffDay(int64_t now_ms, const RetentionPolicy& policy) {
  return CivilDate::FromUnixMs(now_ms).MinusMonths(policy.usage_months).ToString();
}

Result<RetentionOutcome> RetentionJob::RunRetention(int64_t now_ms) {
  PREAU_ASSIGN_OR_RETURN(auto policy, store_.GetRetention());
  ingest_.SetRetentionMonths(policy.usage_months);
  std::string cutoff = RetentionCutoffDay(now_ms, policy);
  // Batch ids only guard against a resend; one older than the cutoff day would carry
  // days that are not kept anyway.
  int64_t batch_cutoff_ms = CivilDate::Parse(cutoff)->DaysSinceEpoch() * 86'400'000;
  int64_t retired_before = now_ms - int64_t{policy.retired_days} * 86'400'000;
  return store_.DeletePast(cutoff, batch_cutoff_ms, retired_before);
}

void RetentionJob::Start(std::chrono::milliseconds interval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this, interval] { Loop(interval); });
}

void RetentionJob::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RetentionJob::Loop(std::chrono::milliseconds interval) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    auto outcome = RunRetention(clock_.NowUnixMs());
    if (!outcome.ok()) {
      std::fprintf(stderr, "preau-server: usage retention failed: %s\n",
                   outcome.status().message().c_str());
    } else if (outcome->days_deleted > 0 || outcome->retired_devices_purged > 0) {
      std::fprintf(stderr,
                   "preau-server: usage retention deleted %lld device-days, purged %lld "
                   "retired devices\n",
                   static_cast<long long>(outcome->days_deleted),
                   static_cast<long long>(outcome->retired_devices_purged));
    }
    lock.lock();
    cv_.wait_for(lock, interval, [&] { return stopping_; });
  }
}

}  // namespace preau::server
