// TeacherState: what a teacher's class control currently asks of this device (lock with a
// message, focus on an app or a URL), shared between the class-control plugin, which sets
// it from commands, and the policy plugin, which combines it with the policy's own wishes
// (a teacher's unlock never lifts a curfew; a teacher's focus replaces a kiosk for the
// lesson). Listeners are called after each change. Thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <vector>

#include "agent/policy/desired_state.h"

namespace preau::agent {

class TeacherState {
 public:
  ClassControl Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  void Set(const ClassControl& next) {
    std::vector<std::function<void()>> listeners;
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_ = next;
      listeners = listeners_;
    }
    for (auto& l : listeners) l();
  }
  void OnChange(std::function<void()> listener) {
    std::lock_guard<std::mutex> lock(mu_);
    listeners_.push_back(std::move(listener));
  }

 private:
  mutable std::mutex mu_;
  ClassControl current_;
  std::vector<std::function<void()>> listeners_;
};

}  // namespace preau::agent
