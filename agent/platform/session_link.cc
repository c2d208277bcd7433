#include "agent/platform/session_link.h"

#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <utility>

namespace preau::agent {

namespace {
// preau-session reports every few seconds; anything longer is not from it.
constexpr int64_t kMaxUsageReportMs = 120'000;
// Window classes kept between two takes (the collector takes every few minutes).
constexpr size_t kMaxUsageApps = 200;

// What preau-session sends as an app (a window class): short, one line of text.
bool IsAppName(const std::string& app) {
  if (app.size() > 128) return false;
  for (char c : app) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}
}  // namespace

Result<std::unique_ptr<SessionLink>> SessionLink::Listen(const std::string& path,
                                                          PeerCheck check) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return InvalidArgument("session socket path is empty or too long: " + path);
  }
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Internal(std::string("session socket: ") + std::strerror(errno));
  unlink(path.c_str());  // a socket left by a previous run
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 8) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return Unavailable("session socket " + path + ": " + why);
  }
  // Any local user may connect; the peer check decides who is heard.
  chmod(path.c_str(), 0666);
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    close(fd);
    return Internal(std::string("eventfd: ") + std::strerror(errno));
  }
  return std::unique_ptr<SessionLink>(new SessionLink(fd, wake, std::move(check)));
}

SessionLink::SessionLink(int listen_fd, int wake_fd, PeerCheck check)
    : listen_fd_(listen_fd), wake_fd_(wake_fd), check_(std::move(check)) {
  thread_ = std::thread([this] { Serve(); });
}

SessionLink::~SessionLink() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
  thread_.join();
  if (client_fd_ >= 0) close(client_fd_);
  close(listen_fd_);
  close(wake_fd_);
}

void SessionLink::Serve() {
  while (true) {
    pollfd fds[3] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {-1, POLLIN, 0}};
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      fds[2].fd = client_fd_;
    }
    if (poll(fds, 3, -1) < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) Accept();
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) ReadClient();
    if (fds[1].revents & POLLIN) {
      uint64_t n;
      (void)!read(wake_fd_, &n, sizeof n);
    }
  }
}

void SessionLink::Accept() {
  int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) return;
  ucred peer{};
  socklen_t len = sizeof peer;
  std::string why;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0) {
    why = "its credentials cannot be read";
  } else if (check_) {
    why = check_(peer.uid);
  }
  if (!why.empty()) {
    std::fprintf(stderr, "preau-agent: session socket: refused a peer (uid %u, pid %d): %s\n",
                 peer.uid, peer.pid, why.c_str());
    std::string line = "refused " + session::EscapeText(why) + "\n";
    (void)!send(fd, line.data(), line.size(), MSG_NOSIGNAL);
    close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    ++refused_;
    return;
  }
  std::fprintf(stderr, "preau-agent: session program connected (uid %u, pid %d)\n", peer.uid,
               peer.pid);
  std::lock_guard<std::mutex> lock(mu_);
  if (client_fd_ >= 0) close(client_fd_);  // the newest session program wins
  client_fd_ = fd;
  in_ = session::LineBuffer();
  state_ = SessionLockState{};
  state_.connected = true;
  // A session program that comes back is locked again at once.
  std::string want = WantLine();
  if (!want.empty()) SendLocked(want);
  if (!kept_.empty()) {
    SendLocked(kept_);
    kept_not_held_ = "preau-session restarted and has not restored it yet";
    kept_resent_ = true;
  }
  changed_.notify_all();
}

void SessionLink::ReadClient() {
  std::lock_guard<std::mutex> lock(mu_);
  if (client_fd_ < 0) return;
  char buf[4096];
  ssize_t n = recv(client_fd_, buf, sizeof buf, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0 || !in_.Append(buf, static_cast<size_t>(n))) {
    std::fprintf(stderr, "preau-agent: the session program went away\n");
    close(client_fd_);
    client_fd_ = -1;
    state_ = SessionLockState{};
    ++reports_;
    SetFrontLocked("");
    changed_.notify_all();
    return;
  }
  std::string line;
  while (in_.Next(&line)) HandleLine(line);
}

void SessionLink::HandleLine(const std::string& line) {
  auto f = session::SplitFields(line, 3);
  if (f.size() >= 2 && f[0] == "lock") {
    state_.locked = f[1] != "off";
    state_.verified = f[1] == "verified";
    state_.reason = f[1] == "unverified" && f.size() > 2 ? session::UnescapeText(f[2]) : "";
    ++reports_;
    changed_.notify_all();
  } else if (f.size() >= 3 && (f[0] == "done" || f[0] == "failed")) {
    auto rest = session::SplitFields(f[2], 2);
    std::string key = f[1] + " " + rest[0];
    answers_[key] = f[0] == "done" ? "" : (rest.size() > 1 ? session::UnescapeText(rest[1]) : "failed");
    if (key == kept_key_) {
      kept_not_held_ = answers_[key];
      kept_resent_ = false;
    }
    changed_.notify_all();
  } else if (f.size() == 2 && f[0] == "dismissed") {
    // dismissed <id>: an id the agent gave (a command id), nothing else is passed on.
    if (f[1].size() > 128 || !on_dismissed_) return;
    for (char c : f[1]) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return;
    }
    on_dismissed_(f[1]);
  } else if (f.size() >= 2 && f[0] == "focus") {
    // focus lost <why> | focus held: a focus done before, watched by the session.
    if (kept_key_.empty()) return;
    kept_not_held_ = f[1] == "held" ? ""
                     : f.size() > 2 ? session::UnescapeText(f[2])
                                    : "the focus does not hold";
    changed_.notify_all();
  } else if (f.size() >= 3 && f[0] == "usage") {
    // usage <ms> <input 0|1> <app>: the screen was in use for <ms>, <app> in front.
    auto rest = session::SplitFields(f[2], 2);
    int64_t ms = std::strtoll(f[1].c_str(), nullptr, 10);
    if (ms <= 0 || ms > kMaxUsageReportMs) return;  // not what preau-session sends
    if (rest[0] == "1") {
      if (on_activity_) on_activity_();
      ++activity_;
    }
    usage_.screen_on_ms += ms;
    std::string app = rest.size() > 1 ? session::UnescapeText(rest[1]) : "";
    if (app.empty() || !IsAppName(app)) return;
    if (usage_.app_ms.size() < kMaxUsageApps || usage_.app_ms.count(app)) usage_.app_ms[app] += ms;
  } else if (f.size() >= 1 && f[0] == "front") {
    // front <app>: the app now in front ("" for none).
    std::string app = f.size() > 1 ? session::UnescapeText(line.substr(6)) : "";
    if (!IsAppName(app)) return;
    SetFrontLocked(app);
  }
}

void SessionLink::SetFrontLocked(const std::string& app) {
  if (app == front_) return;
  front_ = app;
  if (on_front_) on_front_();
}

bool SessionLink::SendLocked(const std::string& line) {
  if (client_fd_ < 0) return false;
  std::string data = line + "\n";
  // Lines are short and the peer reads at once; a peer that stops reading is dropped.
  ssize_t n = send(client_fd_, data.data(), data.size(), MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(data.size())) {
    close(client_fd_);
    client_fd_ = -1;
    state_ = SessionLockState{};
    return false;
  }
  return true;
}

std::string SessionLink::WantLine() const {
  switch (want_) {
    case Want::kLocked:
      return "lock " + std::to_string(until_ms_) + " " + session::EscapeText(message_);
    case Want::kUnlocked:
      return "unlock";
    default:
      return "";
  }
}

SessionLockState SessionLink::Lock(const std::string& message, int64_t until_unix_ms,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  want_ = Want::kLocked;
  message_ = message;
  until_ms_ = until_unix_ms;
  uint64_t before = reports_;
  if (!SendLocked(WantLine())) return state_;
  changed_.wait_for(lock, timeout, [&] {
    return client_fd_ < 0 || (reports_ > before && state_.locked);
  });
  return state_;
}

SessionLockState SessionLink::Unlock(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  want_ = Want::kUnlocked;
  uint64_t before = reports_;
  if (!SendLocked(WantLine())) return state_;
  changed_.wait_for(lock, timeout, [&] {
    return client_fd_ < 0 || (reports_ > before && !state_.locked);
  });
  return state_;
}

Status SessionLink::Request(const std::string& verb, const std::string& id,
                            const std::string& argument, std::chrono::milliseconds timeout,
                            bool keep) {
  std::unique_lock<std::mutex> lock(mu_);
  std::string key = verb + " " + id;
  answers_.erase(key);
  std::string line = verb + " " + id + " " + session::EscapeText(argument);
  if (keep) {
    kept_ = line;
    kept_key_ = key;
    kept_not_held_ = "not verified yet";
    kept_resent_ = false;
  }
  if (!SendLocked(line)) {
    if (keep) kept_not_held_ = "no preau-session is running";
    return Unavailable("no preau-session is running in the desktop session");
  }
  bool answered = changed_.wait_for(lock, timeout, [&] {
    return client_fd_ < 0 || answers_.count(key) > 0;
  });
  auto it = answers_.find(key);
  if (it == answers_.end()) {
    std::string why = answered ? "preau-session went away" : "preau-session did not answer in time";
    if (keep) kept_not_held_ = why;
    return Unavailable(why);
  }
  std::string why = it->second;
  answers_.erase(it);
  if (keep && key == kept_key_) {
    kept_not_held_ = why;
  }
  if (!why.empty()) return Unavailable(why);
  return Status::Ok();
}

std::string SessionLink::KeptNotHeld() const {
  std::lock_guard<std::mutex> lock(mu_);
  return kept_not_held_;
}

void SessionLink::ResendKept() {
  std::lock_guard<std::mutex> lock(mu_);
  if (kept_.empty() || kept_resent_) return;
  kept_resent_ = SendLocked(kept_);
}

void SessionLink::ForgetKept() {
  std::lock_guard<std::mutex> lock(mu_);
  kept_.clear();
  kept_key_.clear();
  kept_not_held_.clear();
  kept_resent_ = false;
}

SessionLockState SessionLink::State() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

uint64_t SessionLink::activity_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return activity_;
}

void SessionLink::SetDismissListener(std::function<void(const std::string& id)> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  on_dismissed_ = std::move(listener);
}

void SessionLink::SetActivityListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  on_activity_ = std::move(listener);
}

std::string SessionLink::front_app() const {
  std::lock_guard<std::mutex> lock(mu_);
  return front_;
}

void SessionLink::SetFrontListener(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  on_front_ = std::move(listener);
}

Platform::SessionUsage SessionLink::TakeUsage() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(usage_, {});
}

int SessionLink::refused_peers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

}  // namespace preau::agent
