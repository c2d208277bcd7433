#include "server/admin/open_calls.h"

namespace preau::server {

uint64_t OpenCalls::Add(const std::string& operator_name, Abort abort) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t id = next_++;
  open_[id] = {operator_name, std::move(abort)};
  return id;
}

void OpenCalls::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.erase(id);
}

size_t OpenCalls::AbortAll(const std::string& operator_name, const Status& why) {
  // Held while aborting, so that a call cannot be removed (and freed) under its abort.
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto it = open_.begin(); it != open_.end();) {
    if (it->second.operator_name == operator_name) {
      it->second.abort(why);
      it = open_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

}  // namespace preau::server
