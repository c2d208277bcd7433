#include "server/fleet/device_events.h"

namespace preau::server {

uint64_t DeviceEvents::Subscribe(Listener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void DeviceEvents::Unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.erase(id);
}

void DeviceEvents::Notify(const std::string& device_id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, listener] : listeners_) listener(device_id);
}

}  // namespace preau::server
