// The Linux platform: inventory from /proc, /sys and /etc (linux_inventory.cc), packages
// and installed apps through apt, dpkg and flatpak (linux_packages.cc), blocked apps
// hidden and ended by the agent itself (app_blocker.cc), the desktop through preau-session
// (session_link.cc: the lock is verified only by the session program; the session locker
// command is a fallback reported unverified), other actions through the configured
// LinuxCommands (command_runner.cc). Messages, URLs and focus go through preau-session
// too (it acts as the pupil, in the pupil's session) and are done only when it says so.
// Restrictions (camera, USB storage) need a device-policy daemon that a plain Linux
// desktop does not have, so they are reported as not supported rather than faked.
#include <atomic>
#include <cstdio>
#include <chrono>
#include <map>
#include <mutex>

#include "agent/platform/app_blocker.h"
#include "agent/platform/command_runner.h"
#include "agent/platform/linux_inventory.h"
#include "agent/platform/linux_packages.h"
#include "agent/platform/platform.h"
#include "agent/platform/session_link.h"
#include "agent/platform/sysfs_reader.h"

namespace preau::agent {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kCommandTimeout{30'000};
// A browser may take seconds to start on a slow tablet; the session answers once
// xdg-open is done or has been running a few seconds.
constexpr milliseconds kOpenTimeout{15'000};
// A package install may unpack and run maintainer scripts on a slow eMMC tablet.
constexpr milliseconds kInstallTimeout{600'000};

Status NotConfigured(std::string_view name) {
  return FailedPrecondition("not supported on this platform: no " + std::string(name) +
                            " command configured");
}

// Accepts a peer whose user has a graphical session here (logind's Display property).
std::string UserHasGraphicalSession(uint32_t uid) {
  Result<CommandOutput> out = RunCommand("loginctl show-user {uid} -p Display --value",
                                         {{"uid", std::to_string(uid)}}, kCommandTimeout);
  if (out.ok() && out->exit_code == 0 && !TrimWhitespace(out->output).empty()) return "";
  return "user " + std::to_string(uid) + " has no graphical session on this device";
}

class LinuxPlatform final : public Platform {
 public:
  LinuxPlatform(LinuxCommands commands, std::string root, LinuxSessionOptions session)
      : commands_(std::move(commands)), fs_(std::move(root)),
        packages_({commands_.packages_root, commands_.flatpak_system_dir}),
        blocker_(&packages_, commands_.blocked_entries_dir), session_(std::move(session)) {
    if (session_.socket_path.empty()) return;
    SessionLink::PeerCheck check = session_.allow_peer;
    if (!check) check = UserHasGraphicalSession;
    auto link = SessionLink::Listen(session_.socket_path, std::move(check));
    if (!link.ok()) {
      std::fprintf(stderr, "preau-agent: %s; locks will be unverified\n",
                   link.status().message().c_str());
    } else {
      link_ = std::move(link).value();
    }
  }

  std::string Kind() const override { return "linux"; }

  Capabilities GetCapabilities() const override {
    Capabilities caps;
    caps.screen_lock = !commands_.lock.empty() && !commands_.unlock.empty();
    caps.wifi_radio = !commands_.wifi_on.empty() && !commands_.wifi_off.empty();
    caps.app_install = !commands_.install.empty() || packages_.CanInstall();
    caps.focus = link_ != nullptr;  // through preau-session, verified there
    return caps;  // restrictions: see the file comment
  }

  v1::Inventory CollectInventory() override {
    v1::Inventory inv = CollectLinuxInventory(fs_);
    for (auto& app : packages_.DesktopApps()) *inv.add_apps() = std::move(app);
    return inv;
  }

  Status Lock(const std::string& message, int64_t until_unix_ms) override {
    std::string why = "no preau-session socket is configured";
    if (link_) {
      SessionLockState st = link_->Lock(message, until_unix_ms, session_.verify_timeout);
      if (st.verified) {
        fallback_locked_ = false;
        return Status::Ok();
      }
      why = !st.connected ? "no preau-session is running in the desktop session"
            : st.locked   ? st.reason
                          : "preau-session did not show the lock in time";
    }
    // Better than nothing, but no proof: a desktop's locker may ignore logind, and a
    // pupil may know the session password.
    Status fallback = Run("lock", commands_.lock, {{"message", message}});
    fallback_locked_ = fallback.ok();
    return Unavailable("unverified: " + why +
                       (fallback.ok() ? "; the session locker was asked instead"
                                      : "; the session locker failed too: " + fallback.message()));
  }

  Status Unlock() override {
    Status st = Status::Ok();
    if (link_) {
      SessionLockState s = link_->Unlock(session_.verify_timeout);
      if (s.connected && s.locked) st = Unavailable("preau-session still shows the lock");
    }
    if (fallback_locked_ || !link_) {
      Status fb = Run("unlock", commands_.unlock, {});
      if (fb.ok()) fallback_locked_ = false;
      if (st.ok()) st = fb;
    }
    return st;
  }

  LockCheck CheckLock() override {
    if (link_) {
      SessionLockState st = link_->State();
      if (st.connected && st.locked) return LockCheck{true, st.verified, st.reason};
      if (st.connected || !fallback_locked_) return LockCheck{};
      return LockCheck{true, false, "no preau-session is running; the session locker was asked"};
    }
    if (!IsLockedByCommand()) return LockCheck{};
    return LockCheck{true, false, "only the session locker holds the lock"};
  }

  bool IsLocked() override {
    if (link_) {
      SessionLockState st = link_->State();
      if (st.connected) return st.locked;
    }
    return IsLockedByCommand();
  }

 private:
  bool IsLockedByCommand() {
    // Without a way to ask, the best guess is what we last did.
    if (commands_.is_locked.empty()) return fallback_locked_;
    Result<CommandOutput> out = RunCommand(commands_.is_locked, {}, kCommandTimeout);
    if (!out.ok() || out->exit_code != 0) return false;  // re-locking is the safe side
    std::string answer = TrimWhitespace(out->output);
    return answer == "yes" || answer == "true" || answer == "1";
  }

 public:

  // Kept by preau-session (other apps' windows iconified, a URL in a kiosk browser); ok
  // only once the session verified it: the app's window active, no other app shown.
  Status Focus(const std::string& app, const std::string& url) override {
    if (!link_) {
      if (app.empty() && url.empty()) return Status::Ok();  // nothing to end
      return FailedPrecondition("not supported here: no preau-session socket is configured");
    }
    std::string what = !app.empty() ? "app " + app : !url.empty() ? "url " + url : "off";
    // A kiosk browser or an app launched for the focus may take a while to show a window.
    auto timeout = url.empty() ? session_.verify_timeout + milliseconds(12'000)
                               : kOpenTimeout + milliseconds(5000);
    Status st = link_->Request("focus", "f" + std::to_string(++requests_), what, timeout,
                               /*keep=*/true);
    std::lock_guard<std::mutex> lock(focus_mu_);
    if (st.ok()) {
      focus_ = what == "off" ? "" : what;
    } else if (what != focus_) {
      // A new focus that failed is not kept: preau-session undid it.
      link_->ForgetKept();
      focus_.clear();
    }
    return st;
  }

  // Held by preau-session, which reports when it cannot hold it any more (the app's
  // windows closed, the kiosk browser ended) and when it holds again.
  std::string WhyFocusNotHeld() override {
    std::lock_guard<std::mutex> lock(focus_mu_);
    if (!link_ || focus_.empty()) return "";
    if (!link_->State().connected) return "no preau-session is running";
    return link_->KeptNotHeld();
  }
  void RestoreFocus() override {
    std::lock_guard<std::mutex> lock(focus_mu_);
    if (link_ && !focus_.empty()) link_->ResendKept();
  }

  // In the pupil's session, by its browser: preau-session runs xdg-open as the session's
  // user and answers once it launched it. A root service has no display to open it on, so
  // the open_url command is only for a device whose administrator configured one.
  Status OpenUrl(const std::string& url) override {
    if (url.empty()) return InvalidArgument("open_url: empty url");
    if (link_) {
      return link_->Request("open", "o" + std::to_string(++requests_), url, kOpenTimeout);
    }
    if (commands_.open_url.empty()) {
      return FailedPrecondition("not supported here: no preau-session socket is configured");
    }
    return Run("open_url", commands_.open_url, {{"url", url}});
  }

  void OnUserActivity(std::function<void()> listener) override {
    if (link_) link_->SetActivityListener(std::move(listener));
  }
  void OnMessageDismissed(std::function<void(const std::string& id)> listener) override {
    if (link_) link_->SetDismissListener(std::move(listener));
  }

  uint64_t UserActivityCount() override { return link_ ? link_->activity_count() : 0; }
  SessionUsage TakeSessionUsage() override { return link_ ? link_->TakeUsage() : SessionUsage{}; }
  std::string ForegroundApp() override { return link_ ? link_->front_app() : ""; }
  void OnForegroundAppChange(std::function<void()> listener) override {
    if (link_) link_->SetFrontListener(std::move(listener));
  }

  Status ShowMessage(const std::string& id, const std::string& text) override {
    if (!link_) return FailedPrecondition("not supported here: no preau-session socket is configured");
    return link_->Request("message", id, text, session_.verify_timeout);
  }

  Status SetWifiRadio(bool on) override {
    PREAU_RETURN_IF_ERROR(on ? Run("wifi_on", commands_.wifi_on, {})
                             : Run("wifi_off", commands_.wifi_off, {}));
    if (commands_.wifi_state.empty()) return Status::Ok();
    Result<CommandOutput> out = RunCommand(commands_.wifi_state, {}, kCommandTimeout);
    if (!out.ok()) return out.status().Context("reading the radio back");
    std::string state = TrimWhitespace(out->output);
    bool is_on = state == "enabled" || state == "on";
    bool is_off = state == "disabled" || state == "off";
    if (out->exit_code != 0 || (!is_on && !is_off)) {
      return Unavailable("reading the radio back: '" + commands_.wifi_state + "' said '" + state +
                         "' (exit " + std::to_string(out->exit_code) + ")");
    }
    if (is_on != on) return Unavailable(std::string("the radio is still ") + (is_on ? "on" : "off"));
    return Status::Ok();
  }

  Status InstallApp(const std::string& app_id, const std::string& version,
                    const std::string& package_path) override {
    if (app_id.empty()) return InvalidArgument("install: empty app id");
    if (!CustomInstaller()) {
      PREAU_RETURN_IF_ERROR(PackagesUsable());
      return packages_.Install(app_id, version, package_path);
    }
    return Run("install", commands_.install,
               {{"app", app_id}, {"version", version}, {"file", package_path}},
               kInstallTimeout);
  }

  Status RemoveApp(const std::string& app_id) override {
    if (app_id.empty()) return InvalidArgument("remove: empty app id");
    if (!CustomInstaller()) {
      PREAU_RETURN_IF_ERROR(PackagesUsable());
      return packages_.Remove(app_id);
    }
    return Run("remove", commands_.remove, {{"app", app_id}}, kInstallTimeout);
  }

  Result<int> BlockApps(const std::vector<std::string>& app_ids) override {
    return blocker_.Block(app_ids);
  }
  std::map<std::string, uint64_t> BlockedLaunches() override { return blocker_.Launches(); }

 private:
  // Configured install/remove commands replace apt and flatpak.
  bool CustomInstaller() const { return !commands_.install.empty() || !commands_.remove.empty(); }

  Status PackagesUsable() const {
    if (packages_.CanInstall()) return Status::Ok();
    return FailedPrecondition("not supported on this platform: no install command configured "
                              "and no apt-get or dpkg database under " +
                              commands_.packages_root);
  }

  Status Run(std::string_view name, const std::string& command,
             const std::map<std::string, std::string>& values,
             milliseconds timeout = kCommandTimeout) {
    if (command.empty()) return NotConfigured(name);
    return RunCommandChecked(name, command, values, timeout);
  }

  const LinuxCommands commands_;
  const SysfsReader fs_;
  LinuxPackages packages_;
  AppBlocker blocker_;
  const LinuxSessionOptions session_;
  std::unique_ptr<SessionLink> link_;
  std::atomic<bool> fallback_locked_{false};  // the session locker was asked to lock
  std::atomic<uint64_t> requests_{0};         // ids of requests to the session
  std::mutex focus_mu_;
  std::string focus_;  // the focus preau-session keeps ("app ID", "url URL"), "" : none
};

}  // namespace

std::unique_ptr<Platform> MakeLinuxPlatform(LinuxCommands commands, std::string root,
                                            LinuxSessionOptions session) {
  // A fake tree holds its own packages (if any), not this machine's.
  if (root != "/" && commands.packages_root == "/") commands.packages_root = root;
  return std::make_unique<LinuxPlatform>(std::move(commands), std::move(root),
                                         std::move(session));
}

}  // namespace preau::agent
