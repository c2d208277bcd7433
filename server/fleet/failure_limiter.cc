#include "server/fleet/failure_limiter.h"

namespace preau::server {

int64_t FailureLimiter::WaitFor(const std::string& address, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = windows_.find(address);
  if (it == windows_.end()) return 0;
  int64_t end = it->second.start_ms + window_ms_;
  if (now_ms >= end) {
    windows_.erase(it);
    return 0;
  }
  return it->second.failures >= max_failures_ ? end - now_ms : 0;
}

void FailureLimiter::Failed(const std::string& address, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  // Forget finished windows now and then, so that the map stays the size of an attack.
  if (windows_.size() > 10000) {
    for (auto it = windows_.begin(); it != windows_.end();) {
      it = now_ms >= it->second.start_ms + window_ms_ ? windows_.erase(it) : std::next(it);
    }
  }
  Window& w = windows_[address];
  if (w.failures == 0 || now_ms >= w.start_ms + window_ms_) w = Window{now_ms, 0};
  ++w.failures;
}

std::string PeerHost(const std::string& peer) {
  if (peer.rfind("ipv6:", 0) == 0) {
    size_t close = peer.find(']');
    if (close != std::string::npos) return peer.substr(0, close + 1);
  }
  size_t colon = peer.rfind(':');
  size_t first = peer.find(':');
  return colon != std::string::npos && colon != first ? peer.substr(0, colon) : peer;
}

}  // namespace preau::server
