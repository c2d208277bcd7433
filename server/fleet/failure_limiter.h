// FailureLimiter: how many failed attempts one address may make in a window before it is
// turned away for the rest of that window. Enrolment uses it so that nobody can try
// enrolment tokens by the thousand: only failures count, so a school enrolling a whole
// class from one address is never slowed down.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace preau::server {

class FailureLimiter {
 public:
  FailureLimiter(int max_failures, int64_t window_ms)
      : max_failures_(max_failures), window_ms_(window_ms) {}

  // Milliseconds `address` must still wait (0: it may try now).
  int64_t WaitFor(const std::string& address, int64_t now_ms);
  void Failed(const std::string& address, int64_t now_ms);

 private:
  struct Window {
    int64_t start_ms = 0;
    int failures = 0;
  };
  const int max_failures_;
  const int64_t window_ms_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;
};

// The host part of a gRPC peer ("ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7").
std::string PeerHost(const std::string& peer);

}  // namespace preau::server
