#include "agent/control/class_control.h"

#include <algorithm>
#include <cstdio>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>

namespace preau::agent {

namespace {
constexpr const char* kStateKey = "class_control";
constexpr std::chrono::milliseconds kMinCheck{10};

v1::CommandAck MakeAck(const v1::Command& c, v1::AckResult result, std::string detail = "") {
  v1::CommandAck a;
  a.set_command_id(c.id());
  a.set_result(result);
  a.set_detail(std::move(detail));
  return a;
}

bool Ended(const v1::Command& c, int64_t now_ms) {
  return c.until_unix_ms() != 0 && now_ms >= c.until_unix_ms();
}
}  // namespace

ClassControlFeature::ClassControlFeature(std::shared_ptr<TeacherState> teacher,
                                         ClassControlOptions options)
    : teacher_(std::move(teacher)), options_(options) {}

ClassControlFeature::~ClassControlFeature() { alive_->store(false); }

void ClassControlFeature::Start(AgentContext& ctx) {
  ctx_ = &ctx;
  timer_ = std::make_unique<boost::asio::steady_timer>(ctx.strand());
  auto saved = ctx.state().Get(kStateKey);
  if (!saved.ok()) {
    std::fprintf(stderr, "preau-agent: class control state: %s\n",
                 saved.status().message().c_str());
  } else if (*saved && !held_.ParseFromString(**saved)) {
    // Unreadable: start from nothing rather than apply garbage.
    std::fprintf(stderr, "preau-agent: class control state is unreadable; starting clear\n");
    held_.Clear();
  }
  int64_t now = ctx.clock().NowUnixMs();
  // A lock held before a restart holds again now (unless it ended meanwhile).
  if (held_.has_focus() && !Ended(held_.focus(), now)) {
    (void)ctx.platform().Focus(held_.focus().app(), held_.focus().url());
  }
  if (Enforce(now)) (void)Persist();
  Publish();
  // A pupil dismissing a teacher's message is reported (from the session's thread: the
  // report is made on the strand).
  ctx.platform().OnMessageDismissed([this, alive = alive_, strand = &ctx.strand()](
                                        const std::string& id) {
    if (!alive->load()) return;
    boost::asio::post(*strand, [this, alive, id] {
      if (alive->load() && !stopped_) ReportDismissed(id);
    });
  });
  ArmCheck();
}

void ClassControlFeature::Stop() {
  stopped_ = true;
  alive_->store(false);
  if (ctx_) ctx_->platform().OnMessageDismissed(nullptr);
  if (timer_) timer_->cancel();
}

void ClassControlFeature::FillHello(v1::Hello* hello) {
  hello->set_last_command_seq(held_.last_seq());
}

bool ClassControlFeature::OnServerMessage(const v1::ServerMessage& msg) {
  if (!msg.has_command() || ctx_ == nullptr) return false;
  const v1::Command& c = msg.command();
  v1::CommandAck ack = Execute(c, ctx_->clock().NowUnixMs());
  // Durable before the ack: an acked lock must survive a restart.
  Status st = Persist();
  if (!st.ok() && ack.result() == v1::ACK_DONE) {
    ack.set_result(v1::ACK_FAILED);
    ack.set_detail("applied but not kept across a restart: " + st.message());
  }
  Publish();
  // The lock as it now stands goes out before the ack, on the same stream: the server has
  // stored it by the time the teacher hears that every device answered, so the console's
  // tiles drawn with that answer show it.
  ReportLock();
  v1::AgentMessage m;
  m.set_id("ack-" + c.id());
  *m.mutable_command_ack() = ack;
  ctx_->SendReliable(std::move(m), "command_ack", /*replace_kind=*/false);
  ArmCheck();  // a new --for end may come before the next check
  return true;
}

v1::CommandAck ClassControlFeature::Execute(const v1::Command& c, int64_t now_ms) {
  if (c.seq() != 0 && c.seq() <= held_.last_seq()) {
    return MakeAck(c, v1::ACK_DONE, "already handled");
  }
  held_.set_last_seq(std::max<uint64_t>(held_.last_seq(), c.seq()));
  if (c.expires_unix_ms() != 0 && now_ms >= c.expires_unix_ms()) {
    return MakeAck(c, v1::ACK_EXPIRED, "expired before it reached the device");
  }
  Platform& p = ctx_->platform();
  switch (c.kind()) {
    case v1::COMMAND_LOCK: {
      // Held even when not verified: the agent keeps locking (a session program that
      // comes back is locked at once), but the teacher hears it is not proven.
      *held_.mutable_lock() = c;
      Status st = p.Lock(c.message(), c.until_unix_ms());
      if (!st.ok()) return MakeAck(c, v1::ACK_FAILED, "lock: " + st.message());
      return MakeAck(c, v1::ACK_DONE, "locked and verified");
    }
    case v1::COMMAND_UNLOCK: {
      // Unlock releases the class: lock and focus both.
      Status st = LiftLock();
      if (held_.has_focus()) {
        Status f = p.Focus("", "");
        if (st.ok()) st = f;
        held_.clear_focus();
      }
      if (!st.ok()) return MakeAck(c, v1::ACK_FAILED, "unlock: " + st.message());
      return MakeAck(c, v1::ACK_DONE);
    }
    case v1::COMMAND_FOCUS: {
      if (!c.url().empty()) {
        std::string why = teacher_->WhyUrlBlocked(c.url());
        if (!why.empty()) return MakeAck(c, v1::ACK_REFUSED, "the web filter " + why);
      }
      Status st = p.Focus(c.app(), c.url());
      if (!st.ok()) return MakeAck(c, v1::ACK_FAILED, "focus: " + st.message());
      *held_.mutable_focus() = c;
      focus_not_held_.clear();  // verified just now
      return MakeAck(c, v1::ACK_DONE);
    }
    case v1::COMMAND_OPEN: {
      std::string why = teacher_->WhyUrlBlocked(c.url());
      if (!why.empty()) return MakeAck(c, v1::ACK_REFUSED, "the web filter " + why);
      Status st = p.OpenUrl(c.url());
      if (!st.ok()) return MakeAck(c, v1::ACK_FAILED, "open: " + st.message());
      return MakeAck(c, v1::ACK_DONE);
    }
    case v1::COMMAND_MESSAGE: {
      Status st = p.ShowMessage(c.id(), c.message());
      if (!st.ok()) return MakeAck(c, v1::ACK_FAILED, "message: " + st.message());
      // Kept for the report of its dismissal (the last few: a class sends few messages).
      shown_.emplace_back(c.id(), c.message());
      if (shown_.size() > 16) shown_.pop_front();
      return MakeAck(c, v1::ACK_DONE, "shown");
    }
    case v1::COMMAND_WIFI_ON:
    case v1::COMMAND_WIFI_OFF: {
      // Held (and persisted) so that the demand survives a restart until its end; the
      // policy engine decides the radio (slots, idle timeout) and says what it did.
      const bool on = c.kind() == v1::COMMAND_WIFI_ON;
      if (on) {
        *held_.mutable_wifi() = c;
      } else {
        held_.clear_wifi();
      }
      Result<std::string> radio = teacher_->ApplyWifiDemand(on ? c.until_unix_ms() : 0);
      if (!radio.ok()) return MakeAck(c, v1::ACK_FAILED, "wifi: " + radio.status().message());
      return MakeAck(c, v1::ACK_DONE, "wifi " + *radio);
    }
    case v1::COMMAND_ALLOW: {
      auto* allowed = held_.mutable_allowed();
      allowed->erase(std::remove_if(allowed->begin(), allowed->end(),
                                    [&](const v1::Command& a) { return a.site() == c.site(); }),
                     allowed->end());
      *held_.add_allowed() = c;
      return MakeAck(c, v1::ACK_DONE);
    }
    default:
      return MakeAck(c, v1::ACK_REFUSED,
                     "this agent does not know command kind " + std::to_string(c.kind()));
  }
}

Status ClassControlFeature::LiftLock() {
  if (!held_.has_lock()) return Status::Ok();
  held_.clear_lock();
  // A curfew's lock stays: the policy plugin says so through TeacherState.
  if (teacher_->PolicyHoldsLock() || !ctx_->platform().IsLocked()) return Status::Ok();
  return ctx_->platform().Unlock();
}

bool ClassControlFeature::Enforce(int64_t now_ms) {
  bool changed = false;
  Platform& p = ctx_->platform();
  if (held_.has_lock() && Ended(held_.lock(), now_ms)) {
    Status st = LiftLock();
    if (!st.ok()) std::fprintf(stderr, "preau-agent: ending a lock: %s\n", st.message().c_str());
    changed = true;
  }
  if (held_.has_focus() && Ended(held_.focus(), now_ms)) {
    Status st = p.Focus("", "");
    if (!st.ok()) std::fprintf(stderr, "preau-agent: ending a focus: %s\n", st.message().c_str());
    held_.clear_focus();
    changed = true;
  }
  if (held_.has_wifi() && Ended(held_.wifi(), now_ms)) {
    held_.clear_wifi();
    changed = true;
  }
  auto* allowed = held_.mutable_allowed();
  auto end = std::remove_if(allowed->begin(), allowed->end(),
                            [&](const v1::Command& a) { return Ended(a, now_ms); });
  if (end != allowed->end()) {
    allowed->erase(end, allowed->end());
    changed = true;
  }
  // A pupil (or a crash of the screen locker) lifted the lock while it holds: lock again.
  if (held_.has_lock() && !p.IsLocked()) {
    Status st = p.Lock(held_.lock().message(), held_.lock().until_unix_ms());
    if (!st.ok()) std::fprintf(stderr, "preau-agent: re-locking: %s\n", st.message().c_str());
  }
  // A focus that does not hold any more (the app closed, the kiosk browser ended) is asked
  // for again; the report says it is not held until the platform verified it again.
  std::string why = held_.has_focus() ? p.WhyFocusNotHeld() : "";
  if (why != focus_not_held_) {
    if (!why.empty()) std::fprintf(stderr, "preau-agent: the focus does not hold: %s\n", why.c_str());
    focus_not_held_ = why;
  }
  if (!why.empty()) p.RestoreFocus();
  return changed;
}

void ClassControlFeature::ArmCheck() {
  if (stopped_ || !timer_) return;
  auto delay = options_.check_interval;
  // End a --for effect on time rather than at the next check (real clocks; a test's
  // manual clock is caught by the periodic check).
  int64_t now = ctx_->clock().NowUnixMs();
  auto consider = [&](const v1::Command& c) {
    if (c.until_unix_ms() == 0) return;
    auto left = std::chrono::milliseconds(std::max<int64_t>(0, c.until_unix_ms() - now));
    delay = std::min(delay, std::max(left, kMinCheck));
  };
  if (held_.has_lock()) consider(held_.lock());
  if (held_.has_focus()) consider(held_.focus());
  if (held_.has_wifi()) consider(held_.wifi());
  for (const auto& a : held_.allowed()) consider(a);
  timer_->expires_after(delay);
  timer_->async_wait(boost::asio::bind_executor(ctx_->strand(), [this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    if (Enforce(ctx_->clock().NowUnixMs())) {
      Status st = Persist();
      if (!st.ok()) std::fprintf(stderr, "preau-agent: class control state: %s\n", st.message().c_str());
      Publish();
    }
    ReportLock();
    ArmCheck();
  }));
}

void ClassControlFeature::ReportDismissed(const std::string& id) {
  v1::AgentMessage m;
  m.set_id("dismissed-" + id);
  v1::MessageDismissed* d = m.mutable_message_dismissed();
  d->set_command_id(id);
  for (const auto& [shown_id, text] : shown_) {
    if (shown_id == id) d->set_text(text);
  }
  d->set_at_unix_ms(ctx_->clock().NowUnixMs());
  ctx_->SendReliable(std::move(m), "message_dismissed", /*replace_kind=*/false);
}

void ClassControlFeature::ReportLock() {
  Platform::LockCheck now = ctx_->platform().CheckLock();
  // The focus as the last check saw it: a focus that did not hold is reported so before
  // its restoring can make it hold again.
  const bool focus = held_.has_focus();
  if (now.locked == reported_.locked && now.verified == reported_.verified &&
      now.reason == reported_.reason && focus == reported_focus_ &&
      focus_not_held_ == reported_focus_not_held_) {
    return;
  }
  reported_ = now;
  reported_focus_ = focus;
  reported_focus_not_held_ = focus_not_held_;
  v1::AgentMessage m;
  m.set_id("lock-" + std::to_string(ctx_->clock().NowUnixMs()) + "-" + std::to_string(++reports_));
  v1::LockReport* r = m.mutable_lock_report();
  r->set_locked(now.locked);
  r->set_verified(now.verified);
  r->set_reason(now.reason);
  r->set_focus(focus);
  r->set_focus_held(focus && focus_not_held_.empty());
  r->set_focus_reason(focus ? focus_not_held_ : "");
  r->set_at_unix_ms(ctx_->clock().NowUnixMs());
  // Only the latest state matters: an unsent older one is replaced.
  ctx_->SendReliable(std::move(m), "lock_report", /*replace_kind=*/true);
}

Status ClassControlFeature::Persist() {
  return ctx_->state().Put(kStateKey, held_.SerializeAsString());
}

void ClassControlFeature::Publish() {
  ClassControl now;
  if (held_.has_lock()) {
    now.locked = true;
    now.lock_message = held_.lock().message();
    now.lock_until_unix_ms = held_.lock().until_unix_ms();
  }
  if (held_.has_focus()) {
    now.focus_app = held_.focus().app();
    now.focus_url = held_.focus().url();
  }
  if (held_.has_wifi()) now.wifi_until_unix_ms = held_.wifi().until_unix_ms();
  ClassControl before = teacher_->Current();
  if (before.locked != now.locked || before.lock_message != now.lock_message ||
      before.lock_until_unix_ms != now.lock_until_unix_ms ||
      before.focus_app != now.focus_app || before.focus_url != now.focus_url ||
      before.wifi_until_unix_ms != now.wifi_until_unix_ms) {
    teacher_->Set(now);
  }
  std::vector<AllowedSite> sites;
  for (const auto& a : held_.allowed()) sites.push_back({a.site(), a.until_unix_ms()});
  auto old = teacher_->AllowedSites();
  bool same = old.size() == sites.size();
  for (size_t i = 0; same && i < sites.size(); ++i) {
    same = old[i].domain == sites[i].domain && old[i].until_unix_ms == sites[i].until_unix_ms;
  }
  if (!same) teacher_->SetAllowedSites(std::move(sites));
}

}  // namespace preau::agent
