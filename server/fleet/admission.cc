#include "server/fleet/admission.h"

#include <algorithm>

#include <grpcpp/server_context.h>

#include "common/retry_after.h"

namespace preau::server {

namespace {
// However long the queue of refused callers, none is told to wait more than this: the
// slots past it are handed out again (the agent's jitter spreads those).
constexpr auto kMaxHint = std::chrono::minutes(3);
// A caller back this much before its slot is let in (clock steps; the agent's jitter
// comes on top of the hint, so it is rather late than early).
constexpr auto kEarly = std::chrono::milliseconds(50);
// A slot nobody came back for within this is forgotten (the device went elsewhere).
constexpr auto kSlotKept = std::chrono::minutes(5);
}  // namespace

Admission::Admission(double per_second, double burst)
    : per_second_(per_second),
      burst_(std::max(1.0, burst)),
      tokens_(std::max(1.0, burst)),
      refilled_(Clock::now()),
      next_slot_(Clock::now()) {}

int64_t Admission::Admit(const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  if (per_second_ <= 0) {
    ++stats_.admitted;
    return 0;
  }
  auto now = Clock::now();
  auto wait_ms = [&](Clock::time_point slot) {
    return std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::milliseconds>(slot - now).count());
  };
  if (now >= next_sweep_) {
    std::erase_if(slots_, [&](const auto& s) { return now - s.second > kSlotKept; });
    next_sweep_ = now + kSlotKept;
  }
  if (!caller.empty()) {
    auto it = slots_.find(caller);
    if (it != slots_.end()) {
      if (now + kEarly >= it->second) {  // its turn, kept for it
        slots_.erase(it);
        ++stats_.admitted;
        return 0;
      }
      ++stats_.deferred;
      return wait_ms(it->second);  // too early: the same slot, not a new one
    }
  }
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - refilled_).count() *
                                           per_second_);
  refilled_ = now;
  // While slots are given out, a caller who can claim its own later queues behind them.
  bool queue = !caller.empty() && next_slot_ > now;
  if (!queue && tokens_ >= 1) {
    tokens_ -= 1;
    ++stats_.admitted;
    return 0;
  }
  ++stats_.deferred;
  auto step = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / per_second_));
  next_slot_ = std::max(next_slot_, now) + step;
  if (next_slot_ - now > kMaxHint) next_slot_ = now + step;
  if (!caller.empty()) slots_[caller] = next_slot_;
  return wait_ms(next_slot_);
}

grpc::Status Admission::AdmitCall(grpc::CallbackServerContext& ctx, const std::string& what,
                                  const std::string& caller) {
  int64_t wait_ms = Admit(caller);
  if (wait_ms == 0) return grpc::Status::OK;
  ctx.AddTrailingMetadata(kRetryAfterKey, std::to_string(wait_ms));
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "the server is admitting " + what + " at its pace: retry in " +
                          std::to_string(wait_ms) + " ms");
}

Admission::Stats Admission::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace preau::server
