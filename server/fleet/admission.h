// Admission: how fast the server lets devices in (enrolments, Connect streams), so that a
// whole fleet coming back after a server restart is served at a rate the server can hold
// instead of every device timing out at once and trying again, all together.
//
// A token bucket: `per_second` admissions, bursts up to `burst`. A call beyond the rate is
// answered at once with RESOURCE_EXHAUSTED and a retry-after hint (trailing metadata
// kRetryAfterKey of common/retry_after.h, milliseconds) that gives each refused caller its
// own later slot, one every 1/per_second, so the refused come back spread out and in turn
// rather than together; the agent honours the hint with a little jitter on top.
//
// A caller that says who it is (a device's certificate name, an enrolment's CSR) keeps
// its slot: back at its time it is let in, whoever else arrived meanwhile, and a newcomer
// queues behind the slots already given. Without that, a fleet arriving faster than the
// rate took the tokens first, the refused came back to find none, got a later slot each
// time, and were sent away for minutes (an 18,000-device restart stalled ~200 s so).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include <grpcpp/support/status.h>

namespace grpc {
class CallbackServerContext;
}

namespace preau::server {

class Admission {
 public:
  struct Stats {
    uint64_t admitted = 0;
    uint64_t deferred = 0;  // answered "retry later"
  };

  // `per_second` <= 0: everything is admitted.
  Admission(double per_second, double burst);

  // 0 when admitted now; otherwise how many milliseconds the caller should wait.
  // `caller` ("" for one that cannot say) names who comes back for the slot it was given.
  int64_t Admit(const std::string& caller = "");
  // Admit(caller), and when refused the answer to give: RESOURCE_EXHAUSTED naming `what`,
  // with the hint in `ctx`'s trailing metadata. OK when admitted.
  grpc::Status AdmitCall(grpc::CallbackServerContext& ctx, const std::string& what,
                         const std::string& caller = "");
  Stats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  const double per_second_;
  const double burst_;
  mutable std::mutex mu_;
  double tokens_;
  Clock::time_point refilled_;
  Clock::time_point next_slot_;  // the retry slot given to the last refused caller
  std::unordered_map<std::string, Clock::time_point> slots_;  // caller -> its slot
  Clock::time_point next_sweep_;  // slots never claimed are forgotten then
  Stats stats_;
};

}  // namespace preau::server
