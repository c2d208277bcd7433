// TeacherState: what a teacher's class control currently asks of this device (lock with a
// message, focus on an app or a URL), shared between the class-control plugin, which sets
// it from commands, and the policy plugin, which combines it with the policy's own wishes
// (a teacher's unlock never lifts a curfew; a teacher's focus replaces a kiosk for the
// lesson). Listeners are called after each change. Thread-safe.
//
// It also holds the sites a teacher allowed for a time (`preau class allow`), which the web
// filter lets through until they expire, and whether the policy holds a lock of its own
// (a curfew), so that a teacher's unlock does not lift it even for a moment.
#pragma once

#include <functional>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "agent/policy/desired_state.h"
#include "common/status.h"

namespace preau::agent {

// A site a teacher allowed: `domain` and the names below it, until `until_unix_ms`.
struct AllowedSite {
  std::string domain;
  int64_t until_unix_ms = 0;
};

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

  // The teacher's allowed sites (the class-control plugin drops them as they expire;
  // callers comparing with their own clock may also ignore expired ones).
  std::vector<AllowedSite> AllowedSites() const {
    std::lock_guard<std::mutex> lock(mu_);
    return allowed_;
  }
  // Whether `domain` ("fr.wikipedia.org") is, or lies below, a site allowed at `now_ms`.
  bool IsSiteAllowed(const std::string& domain, int64_t now_ms) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& a : allowed_) {
      if (now_ms >= a.until_unix_ms) continue;
      if (domain == a.domain) return true;
      if (domain.size() > a.domain.size() &&
          domain.compare(domain.size() - a.domain.size(), a.domain.size(), a.domain) == 0 &&
          domain[domain.size() - a.domain.size() - 1] == '.') {
        return true;
      }
    }
    return false;
  }
  void SetAllowedSites(std::vector<AllowedSite> sites) {
    std::vector<std::function<void()>> listeners;
    {
      std::lock_guard<std::mutex> lock(mu_);
      allowed_ = std::move(sites);
      listeners = site_listeners_;
    }
    for (auto& l : listeners) l();
  }
  void OnAllowedSitesChange(std::function<void()> listener) {
    std::lock_guard<std::mutex> lock(mu_);
    site_listeners_.push_back(std::move(listener));
  }

  // Set by the policy plugin while the policy itself locks the device (curfew, a period
  // in lock mode): the class-control plugin then leaves the screen locked on unlock.
  void SetPolicyHoldsLock(bool holds) {
    std::lock_guard<std::mutex> lock(mu_);
    policy_holds_lock_ = holds;
  }
  bool PolicyHoldsLock() const {
    std::lock_guard<std::mutex> lock(mu_);
    return policy_holds_lock_;
  }

  // Set by the web filter: why it blocks a URL ("" when it does not), so that focus and
  // open commands never take a class to a blocked page. A site the teacher allowed for the
  // class passes.
  using UrlCheck = std::function<std::string(const std::string& url)>;
  void SetUrlCheck(UrlCheck check) {
    std::lock_guard<std::mutex> lock(mu_);
    url_check_ = std::move(check);
  }
  std::string WhyUrlBlocked(const std::string& url) const {
    UrlCheck check;
    {
      std::lock_guard<std::mutex> lock(mu_);
      check = url_check_;
    }
    return check ? check(url) : "";
  }

  // Set by the policy plugin: applies a teacher's Wi-Fi demand at once (until_unix_ms 0
  // ends it) and says what the radio now is, or why it is not as asked. The loi Abeille
  // rule (slots, idle timeout) lives in the policy engine, so class control goes through it.
  using WifiDemand = std::function<Result<std::string>(int64_t until_unix_ms)>;
  void SetWifiDemandHandler(WifiDemand handler) {
    std::lock_guard<std::mutex> lock(mu_);
    wifi_demand_ = std::move(handler);
  }
  Result<std::string> ApplyWifiDemand(int64_t until_unix_ms) const {
    WifiDemand handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      handler = wifi_demand_;
    }
    if (!handler) return FailedPrecondition("this agent runs no policy engine");
    return handler(until_unix_ms);
  }

 private:
  mutable std::mutex mu_;
  ClassControl current_;
  std::vector<std::function<void()>> listeners_;
  std::vector<AllowedSite> allowed_;
  std::vector<std::function<void()>> site_listeners_;
  bool policy_holds_lock_ = false;
  UrlCheck url_check_;
  WifiDemand wifi_demand_;
};

}  // namespace preau::agent
