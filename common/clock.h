// Clock: the one source of "now" for code whose behaviour depends on time (schedules,
// expiries, retention). Production uses the system clock; tests inject a ManualClock so
// that "curfew starts at 21:00" is checked at 21:00 without waiting or sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace preau {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnixMs() const = 0;
  static const Clock& System();
};

class SystemClock final : public Clock {
 public:
  int64_t NowUnixMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

inline const Clock& Clock::System() {
  static const SystemClock clock;
  return clock;
}

// A clock that moves only when told to; thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms) : now_(now_ms) {}
  int64_t NowUnixMs() const override { return now_.load(); }
  void Set(int64_t now_ms) { now_.store(now_ms); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace preau
