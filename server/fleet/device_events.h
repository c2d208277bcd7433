// DeviceEvents: tells whoever listens that something visible about a device changed — it
// connected or went away, reported its lock state or its inventory. The teachers' console
// redraws a class's grid from it and pushes the grid to the browser at once, so that a
// page never polls. Listeners run on the thread that noticed the change (a gRPC thread):
// they must only hand the work on (post it), never block. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace preau::server {

class DeviceEvents {
 public:
  using Listener = std::function<void(const std::string& device_id)>;

  uint64_t Subscribe(Listener listener);
  // After it returns, the listener is not running and will not run again.
  void Unsubscribe(uint64_t id);
  void Notify(const std::string& device_id);

 private:
  std::mutex mu_;  // held while listeners run: Unsubscribe waits for a running one
  uint64_t next_ = 1;
  std::map<uint64_t, Listener> listeners_;
};

}  // namespace preau::server
