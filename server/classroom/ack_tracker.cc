#include "server/classroom/ack_tracker.h"

#include <set>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace preau::server {

namespace asio = boost::asio;

struct AckTracker::Waiting {
  explicit Waiting(asio::io_context& io) : timer(io) {}
  std::set<std::string> missing;
  Acks acks;
  asio::steady_timer timer;
  Done done;
};

AckTracker::AckTracker()
    : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}

AckTracker::~AckTracker() {
  asio::post(io_, [this] {
    std::vector<std::string> ids;
    for (const auto& [id, w] : waiting_) ids.push_back(id);
    for (const auto& id : ids) Complete(id);
  });
  work_.reset();
  thread_.join();
}

void AckTracker::Track(const std::string& command_id, std::vector<std::string> device_ids,
                       std::chrono::milliseconds wait, Done done) {
  asio::post(io_, [this, command_id, ids = std::move(device_ids), wait,
                   done = std::move(done)]() mutable {
    auto w = std::make_unique<Waiting>(io_);
    w->missing.insert(ids.begin(), ids.end());
    w->done = std::move(done);
    w->timer.expires_after(wait);
    w->timer.async_wait([this, command_id](boost::system::error_code ec) {
      if (!ec) Complete(command_id);
    });
    bool nobody = w->missing.empty();
    waiting_[command_id] = std::move(w);
    if (nobody) Complete(command_id);
  });
}

void AckTracker::Ack(const std::string& device_id, const v1::CommandAck& ack,
                     std::function<void()> elsewhere) {
  asio::post(io_, [this, device_id, ack, elsewhere = std::move(elsewhere)] {
    auto it = waiting_.find(ack.command_id());
    if (it == waiting_.end()) {
      if (elsewhere) elsewhere();
      return;
    }
    Waiting& w = *it->second;
    if (w.missing.erase(device_id) == 0) return;
    w.acks[device_id] = ack;
    if (w.missing.empty()) Complete(ack.command_id());
  });
}

void AckTracker::Abandon(const std::string& command_id) {
  asio::post(io_, [this, command_id] { Complete(command_id); });
}

void AckTracker::Complete(const std::string& command_id) {
  auto it = waiting_.find(command_id);
  if (it == waiting_.end()) return;
  std::unique_ptr<Waiting> w = std::move(it->second);
  waiting_.erase(it);
  w->timer.cancel();
  w->done(std::move(w->acks));
}

}  // namespace preau::server
