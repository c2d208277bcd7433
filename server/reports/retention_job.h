// RetentionJob: enforces how long usage is kept (GDPR storage limitation). Usage older
// than the retention (13 calendar months by default) is deleted, and so is every usage
// record of a device retired longer ago than the retention after retirement (30 days by
// default). A background thread runs it at start and then every `interval`; it stops when
// the job is destroyed. RunRetention does one pass at a given time (tests use it with a
// ManualClock's time).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "server/reports/usage_ingest.h"
#include "server/reports/usage_store.h"

namespace preau::server {

// The first day still kept at `now_ms` (UTC date) under `policy`: days before it go.
std::string RetentionCutoffDay(int64_t now_ms, const RetentionPolicy& policy);

class RetentionJob {
 public:
  RetentionJob(UsageStore& store, UsageIngest& ingest, const Clock& clock)
      : store_(store), ingest_(ingest), clock_(clock) {}
  ~RetentionJob() { Stop(); }

  // Starts the background thread (once).
  void Start(std::chrono::milliseconds interval = std::chrono::hours(6));
  // Stops it and waits for a pass in progress to end. Idempotent.
  void Stop();

  // One pass, as if the time were `now_ms`.
  Result<RetentionOutcome> RunRetention(int64_t now_ms);

 private:
  void Loop(std::chrono::milliseconds interval);

  UsageStore& store_;
  UsageIngest& ingest_;
  const Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace preau::server
