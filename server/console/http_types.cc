#include "server/console/http_types.h"

namespace preau::server {

void EventStream::Send(const std::string& event, const std::string& data) {
  // One event: data lines may not hold a line break of their own.
  std::string text = "event: " + event + "\n";
  size_t start = 0;
  while (true) {
    size_t nl = data.find('\n', start);
    text += "data: " + data.substr(start, nl == std::string::npos ? nl : nl - start) + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  text += "\n";
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_ || detached_) return;
  if (write_) {
    write_(std::move(text));
  } else {
    pending_ += text;
  }
}

void EventStream::End() {
  std::lock_guard<std::mutex> lock(mu_);
  if (ended_) return;
  ended_ = true;
  if (end_) end_();
  // Nothing is written after the end: the writer and its executor (the HTTP server's) are
  // let go now, while that server still runs, not whenever the console drops the stream.
  write_ = nullptr;
  end_ = nullptr;
}

void EventStream::OnDetach(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  if (detached_) {
    lock.unlock();
    fn();
    return;
  }
  on_detach_ = std::move(fn);
}

void EventStream::Attach(std::function<void(std::string)> write, std::function<void()> end) {
  std::lock_guard<std::mutex> lock(mu_);
  write_ = std::move(write);
  end_ = std::move(end);
  if (!pending_.empty()) write_(std::move(pending_));
  pending_.clear();
  if (ended_) end_();
}

void EventStream::Detach() {
  std::function<void()> fn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (detached_) return;
    detached_ = true;
    write_ = nullptr;
    end_ = nullptr;
    fn = std::move(on_detach_);
  }
  if (fn) fn();
}

}  // namespace preau::server
