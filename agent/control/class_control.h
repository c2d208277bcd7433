// ClassControlFeature: the agent's side of a teacher's class control. It applies each
// command from the server at once through the platform (lock with a message, unlock,
// focus on an app or URL, open a URL, allow a site for a time), acks it reliably (the
// outbox), and never applies a command that expired by the device's clock (ACK_EXPIRED).
//
// What holds (lock, focus, allowed sites) is kept in the state store before the ack, so a
// lock survives an agent restart or a reboot until it is lifted or expires. A timer on the
// strand ends `--for` effects at their time (by AgentContext::clock(), so tests move it)
// and locks again a screen that a pupil managed to unlock while the lock holds. It
// publishes its state in the shared TeacherState, which the policy plugin combines with
// the policy's curfew and kiosk and the web filter reads for allowed sites.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/steady_timer.hpp>

#include "agent/control/teacher_state.h"
#include "agent/core/agent_feature.h"
#include "preau/v1/command.pb.h"

namespace preau::agent {

struct ClassControlOptions {
  // How often the lock is checked (and re-applied), and expiries looked at.
  std::chrono::milliseconds check_interval{2000};
};

class ClassControlFeature final : public AgentFeature {
 public:
  explicit ClassControlFeature(std::shared_ptr<TeacherState> teacher,
                               ClassControlOptions options = {});
  ~ClassControlFeature() override;

  std::string Name() const override { return "class_control"; }
  void Start(AgentContext& ctx) override;
  void FillHello(v1::Hello* hello) override;
  bool OnServerMessage(const v1::ServerMessage& msg) override;
  void Stop() override;

 private:
  v1::CommandAck Execute(const v1::Command& c, int64_t now_ms);
  // Ends what expired, re-locks a lifted lock; true if the held state changed.
  bool Enforce(int64_t now_ms);
  void ArmCheck();
  Status Persist();
  void Publish();
  Status LiftLock();
  // Tells the server how the lock and the focus stand (verified or not) when that changed.
  void ReportLock();
  // Tells the server the pupil dismissed message `id`.
  void ReportDismissed(const std::string& id);

  std::shared_ptr<TeacherState> teacher_;
  ClassControlOptions options_;
  AgentContext* ctx_ = nullptr;
  v1::ClassControlState held_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  bool stopped_ = false;
  Platform::LockCheck reported_;
  bool reported_focus_ = false;
  std::string focus_not_held_;  // why the held focus does not hold ("" : it does)
  std::string reported_focus_not_held_;
  std::deque<std::pair<std::string, std::string>> shown_;  // recent messages: id, text
  std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);
  uint64_t reports_ = 0;
};

}  // namespace preau::agent
