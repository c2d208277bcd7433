// OpenCalls: the long-running calls of each operator (a class command waiting for acks,
// an upload, a filter import), so that revoking an operator ends every one of them at
// once instead of letting them run to completion on rights it no longer has.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/status.h"

namespace preau::server {

class OpenCalls {
 public:
  // Ends the call with `why`, from any thread; must not call Remove itself.
  using Abort = std::function<void(const Status& why)>;

  uint64_t Add(const std::string& operator_name, Abort abort);
  // After Remove returns, the call's abort is not running and will not run.
  void Remove(uint64_t id);
  // Aborts every open call of `operator_name`; returns how many.
  size_t AbortAll(const std::string& operator_name, const Status& why);

 private:
  struct Open {
    std::string operator_name;
    Abort abort;
  };
  std::mutex mu_;
  uint64_t next_ = 1;
  std::map<uint64_t, Open> open_;
};

}  // namespace preau::server
