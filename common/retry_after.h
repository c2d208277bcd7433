// RetryAfter: the hint that comes with a RESOURCE_EXHAUSTED answer from a server admitting
// devices at its own pace (server/fleet/admission.h): trailing metadata kRetryAfterKey,
// the milliseconds to wait before trying again. The agent and its enrolment honour it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>

#include <grpcpp/support/string_ref.h>

namespace preau {

inline constexpr char kRetryAfterKey[] = "preau-retry-after-ms";
// A hint past this is not believed (a garbled value must not park a device for days).
inline constexpr int64_t kMaxRetryAfterMs = 10 * 60 * 1000;

// The hint in a call's trailing metadata; 0 if there is none or it is not a number.
inline int64_t RetryAfterMs(const std::multimap<grpc::string_ref, grpc::string_ref>& trailers) {
  auto it = trailers.find(kRetryAfterKey);
  if (it == trailers.end() || it->second.empty() || it->second.size() > 12) return 0;
  int64_t ms = 0;
  for (char c : std::string(it->second.data(), it->second.size())) {
    if (c < '0' || c > '9') return 0;
    ms = ms * 10 + (c - '0');
  }
  return std::min(ms, kMaxRetryAfterMs);
}

}  // namespace preau
