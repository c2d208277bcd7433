#include "server/fleet/admission.h"

#include <algorithm>

#include <grpcpp/server_context.h>

#include "common/retry_after.h"

namespace preau::server {

namespace {
// However long the queue of refused callers, none is told to wait more than this: the
// slots past it are handed out again (the agent's jitter spreads those).
constexpr auto kMaxHint = std::chrono::minutes(3);
}  // namespace

Admission::Admission(double per_second, double burst)
    : per_second_(per_second),
      burst_(std::max(1.0, burst)),
      tokens_(std::max(1.0, burst)),
      refilled_(Clock::now()),
      next_slot_(Clock::now()) {}

int64_t Admission::Admit() {
  std::lock_guard<std::mutex> lock(mu_);
  if (per_second_ <= 0) {
    ++stats_.admitted;
    return 0;
  }
  auto now = Clock::now();
  tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - refilled_).count() *
                                           per_second_);
  refilled_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    ++stats_.admitted;
    return 0;
  }
  ++stats_.deferred;
  auto step = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / per_second_));
  next_slot_ = std::max(next_slot_, now) + step;
  if (next_slot_ - now > kMaxHint) next_slot_ = now + step;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_slot_ - now).count();
  return std::max<int64_t>(1, wait);
}

grpc::Status Admission::AdmitCall(grpc::CallbackServerContext& ctx, const std::string& what) {
  int64_t wait_ms = Admit();
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
