#include "agent/control/foreground_report.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

namespace preau::agent {

void ForegroundReport::Start(AgentContext& ctx) {
  ctx_ = &ctx;
  timer_ = std::make_unique<boost::asio::steady_timer>(ctx.strand());
  // Called from the platform's thread: only hand the work to the strand.
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  ctx.platform().OnForegroundAppChange([this, alive, &strand = ctx.strand()] {
    boost::asio::post(strand, [this, alive] {
      auto a = alive.lock();
      if (a && *a) Changed();
    });
  });
}

void ForegroundReport::OnConnected() {
  sent_.reset();  // a new connection: the server knows nothing yet
  Changed();
}

void ForegroundReport::Stop() {
  *alive_ = false;
  if (ctx_) ctx_->platform().OnForegroundAppChange(nullptr);
  if (timer_) timer_->cancel();
}

void ForegroundReport::Changed() {
  if (!*alive_ || timer_armed_) return;  // the armed timer sends what is in front then
  auto since = std::chrono::steady_clock::now() - last_sent_;
  if (since >= options_.min_interval) return SendNow();
  timer_armed_ = true;
  timer_->expires_after(options_.min_interval - since);
  std::weak_ptr<std::atomic<bool>> alive = alive_;
  timer_->async_wait([this, alive](boost::system::error_code ec) {
    auto a = alive.lock();
    if (ec || !a || !*a) return;
    timer_armed_ = false;
    SendNow();
  });
}

void ForegroundReport::SendNow() {
  std::string app = ctx_->platform().ForegroundApp();
  if (sent_ == app) return;
  v1::AgentMessage m;
  m.mutable_foreground_app()->set_app(app);
  if (!ctx_->SendLive(std::move(m))) return;  // not connected: OnConnected sends it
  sent_ = std::move(app);
  last_sent_ = std::chrono::steady_clock::now();
}

}  // namespace preau::agent
