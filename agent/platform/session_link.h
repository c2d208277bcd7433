// SessionLink: the agent's end of the local socket that preau-session (the program in the
// pupil's graphical session) connects to. The agent runs as root and never touches the
// desktop itself; it tells the session what to show and hears back whether the lock is
// verified (shown on every screen with the keyboard and pointer held).
//
// Every connecting peer is checked by its kernel credentials (SO_PEERCRED): a peer the
// check refuses gets a "refused" line naming why and is disconnected, so another local
// user can neither read what the agent asks nor answer for the session. What the agent
// wants locked is remembered here, so a session program that (re)starts is locked again
// as soon as it connects. A thread of its own serves the socket; methods are thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/platform/platform.h"
#include "common/status.h"
#include "session/wire.h"

namespace preau::agent {

// The lock as the session last reported it.
struct SessionLockState {
  bool connected = false;  // a session program is connected (and was allowed)
  bool locked = false;
  bool verified = false;
  std::string reason;      // why not verified
};

class SessionLink {
 public:
  // "" to accept a peer with this uid, else why it is refused.
  using PeerCheck = std::function<std::string(uid_t uid)>;

  // Listens on `path` (its folder is created; a stale socket is replaced).
  static Result<std::unique_ptr<SessionLink>> Listen(const std::string& path, PeerCheck check);
  ~SessionLink();

  // From now on the session must show this lock; waits up to `timeout` for its verdict.
  SessionLockState Lock(const std::string& message, int64_t until_unix_ms,
                        std::chrono::milliseconds timeout);
  // From now on no lock; waits up to `timeout` for the session to say it is gone.
  SessionLockState Unlock(std::chrono::milliseconds timeout);
  SessionLockState State() const;
  // Sends "<verb> <id> <argument>" and waits up to `timeout` for the session's
  // "done <verb> <id>" (ok) or "failed <verb> <id> <why>". With `keep`, the line is also
  // sent again to a session program that (re)connects, as the lock is (for a focus).
  Status Request(const std::string& verb, const std::string& id, const std::string& argument,
                 std::chrono::milliseconds timeout, bool keep = false);
  // The kept request (a focus) after it was answered: "" while the session says it holds,
  // else why not (it failed, or the session reported it lost: the app closed, the kiosk
  // browser ended). A session program that (re)connects has not proven it yet.
  std::string KeptNotHeld() const;
  // Sends the kept request again without waiting (to restore it); its answer updates
  // KeptNotHeld. Nothing is sent while an earlier one is unanswered.
  void ResendKept();
  // Forgets the kept request (it failed: a reconnecting session must not get it).
  void ForgetKept();
  // How many peers were refused (tests, logs).
  int refused_peers() const;
  // Input reports heard so far, and the usage reported since the last Take (see
  // Platform::UserActivityCount and TakeSessionUsage).
  uint64_t activity_count() const;
  void SetActivityListener(std::function<void()> listener);
  // Called (with the message id) when the session says the pupil dismissed a message.
  void SetDismissListener(std::function<void(const std::string& id)> listener);
  Platform::SessionUsage TakeUsage();
  // The app the session last said is in front ("" for none, or no session program);
  // the listener is called when it changes (see Platform::ForegroundApp).
  std::string front_app() const;
  void SetFrontListener(std::function<void()> listener);

 private:
  enum class Want { kUnknown, kLocked, kUnlocked };
  SessionLink(int listen_fd, int wake_fd, PeerCheck check);
  void Serve();
  void Accept();
  void ReadClient();
  void HandleLine(const std::string& line);  // with mu_ held
  bool SendLocked(const std::string& line);  // with mu_ held
  std::string WantLine() const;              // with mu_ held
  void SetFrontLocked(const std::string& app);  // with mu_ held

  const int listen_fd_;
  const int wake_fd_;
  const PeerCheck check_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  int client_fd_ = -1;
  session::LineBuffer in_;
  Want want_ = Want::kUnknown;
  std::string message_;
  int64_t until_ms_ = 0;
  SessionLockState state_;
  uint64_t reports_ = 0;  // lock reports heard, to wait for the one after a request
  std::string kept_;  // the focus line a (re)connecting session program gets
  std::string kept_key_;          // its "verb id", to hear its answers
  std::string kept_not_held_;     // see KeptNotHeld
  bool kept_resent_ = false;      // resent, not answered yet
  std::map<std::string, std::string> answers_;  // "verb id" -> "" (done) or why it failed
  int refused_ = 0;
  uint64_t activity_ = 0;
  std::function<void()> on_activity_;  // called with mu_ held
  std::function<void(const std::string&)> on_dismissed_;  // likewise
  Platform::SessionUsage usage_;
  std::string front_;
  std::function<void()> on_front_;  // called with mu_ held
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace preau::agent
