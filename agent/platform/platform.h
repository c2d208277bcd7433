// Platform: everything the agent needs from the device it runs on, behind one narrow
// interface. The Linux implementation acts on this machine for real; the simulated one
// (`--platform sim`) plays a plausible tablet or interactive display and keeps the state
// that enforcers set, so tests and the fleet simulator can read it back. Enforcers and
// collectors talk only to this interface, never to the OS directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/device.pb.h"

namespace preau::agent {

// What a platform can do; an enforcer reports "not supported on this platform" for the rest.
struct Capabilities {
  bool screen_lock = false;
  bool focus = false;
  bool wifi_radio = false;
  bool app_install = false;
  bool restrictions = false;  // camera, USB storage, unknown sources
  bool update_window = false;  // holds system and app updates to the policy's window
};

class Platform {
 public:
  virtual ~Platform() = default;

  virtual std::string Kind() const = 0;  // "linux", "sim"
  virtual Capabilities GetCapabilities() const = 0;

  // A snapshot of the hardware and OS. Fields that cannot be read stay empty / zero.
  virtual v1::Inventory CollectInventory() = 0;

  // Screen lock with an on-screen message and its end time (0: until lifted); Unlock
  // lifts it. Lock is ok only when the platform checked that the lock holds (shown, input
  // held); otherwise it says why, having done what it could (e.g. asked the session
  // locker). IsLocked reads the real state (so an enforcer can re-apply a lock a user
  // managed to lift); CheckLock says whether the lock is verified.
  virtual Status Lock(const std::string& message, int64_t until_unix_ms = 0) = 0;
  virtual Status Unlock() = 0;
  virtual bool IsLocked() = 0;
  struct LockCheck {
    bool locked = false;
    bool verified = false;
    std::string reason;  // why not verified
  };
  virtual LockCheck CheckLock() = 0;

  // Keeps the device on one app or one URL; an empty target ends focus. Ok only once the
  // platform verified it. WhyFocusNotHeld says, later, why a focus it verified no longer
  // holds ("" while it does, or without a focus).
  virtual Status Focus(const std::string& app, const std::string& url) = 0;
  virtual std::string WhyFocusNotHeld() { return ""; }
  // Asks again, without waiting, for the focus WhyFocusNotHeld says does not hold (the
  // app or the kiosk browser launched again); WhyFocusNotHeld says when it holds again.
  virtual void RestoreFocus() {}
  // Calls `listener` with the id of each message (ShowMessage) the pupil dismissed, from
  // whichever thread heard it (it must only hand the work on); null stops the calls.
  virtual void OnMessageDismissed(std::function<void(const std::string& id)> listener) {
    (void)listener;
  }
  virtual Status OpenUrl(const std::string& url) = 0;
  // Shows a teacher's message until the user dismisses it; ok once it is on screen.
  virtual Status ShowMessage(const std::string& id, const std::string& text) {
    return FailedPrecondition("not supported on this platform: messages on screen");
  }

  virtual Status SetWifiRadio(bool on) = 0;

  // Installs a package file (already verified) / removes an app.
  virtual Status InstallApp(const std::string& app_id, const std::string& version,
                            const std::string& package_path) = 0;
  virtual Status RemoveApp(const std::string& app_id) = 0;

  // Blocked apps (policy apps.blocked): hidden from menus and ended whenever started,
  // until a call without them restores them. Returns how many of their processes still
  // run once those found were ended (0: the block holds). FailedPrecondition where the
  // platform cannot block; the app enforcer then removes blocked apps instead.
  virtual Result<int> BlockApps(const std::vector<std::string>& app_ids) {
    (void)app_ids;
    return FailedPrecondition("this platform cannot block apps");
  }
  // Launches of blocked apps ended since the agent started, per app id (for the report).
  virtual std::map<std::string, uint64_t> BlockedLaunches() { return {}; }

  // The person at the device, as the desktop session sees it (Linux: preau-session).
  // At each report of input (keyboard, pointer) the listener is called (from the
  // platform's own thread), so that the Wi-Fi idle timer restarts, then UserActivityCount
  // grows. TakeSessionUsage hands out the screen-on time and each app's time in front (by
  // its window class, never a title) since the last call. Platforms without a session
  // report nothing.
  virtual void OnUserActivity(std::function<void()> listener) { (void)listener; }
  virtual uint64_t UserActivityCount() { return 0; }
  struct SessionUsage {
    int64_t screen_on_ms = 0;
    std::map<std::string, int64_t> app_ms;
  };
  virtual SessionUsage TakeSessionUsage() { return {}; }

  // The app in front on the screen, by name only (Linux: the window class preau-session
  // reports; never a title or a URL); "" when nothing is in front or it is not known. The
  // listener is called (from whichever thread saw it; it must only hand the work on) when
  // it may have changed; null stops the calls.
  virtual std::string ForegroundApp() { return ""; }
  virtual void OnForegroundAppChange(std::function<void()> listener) { (void)listener; }
};

// Commands the Linux platform runs; every one is configurable because distributions and
// desktops differ. An empty command means "not supported here".
struct LinuxCommands {
  std::string lock = "loginctl lock-sessions";
  std::string unlock = "loginctl unlock-sessions";
  // Prints "yes" when a session is locked (used to re-apply a lock that was lifted).
  std::string is_locked =
      "loginctl show-session $(loginctl list-sessions --no-legend | awk 'NR==1{print $1}') "
      "-p LockedHint --value";
  std::string wifi_on = "nmcli radio wifi on";
  std::string wifi_off = "nmcli radio wifi off";
  // Empty: URLs open in the pupil's session through preau-session (a root service has no
  // display); set only where a device has another way to open them.
  std::string open_url;
  std::string install = "";  // e.g. "dpkg -i {file}"; {file}, {app}, {version} substituted
  std::string remove = "";   // e.g. "dpkg -r {app}"
  // Without install/remove commands, packages go through apt and flatpak
  // (linux_packages.h), acting below `packages_root` ("/", or a throwaway root in tests).
  std::string packages_root = "/";
  std::string flatpak_system_dir;  // FLATPAK_SYSTEM_DIR; empty: flatpak's default
  // Where blocked apps' desktop entries are overridden (hidden): a folder before
  // /usr/share in XDG_DATA_DIRS.
  std::string blocked_entries_dir = "/usr/local/share/applications";
  // Prints the radio's state ("enabled"/"on" or "disabled"/"off"), read back after each
  // switch so that the Wi-Fi rule is applied only when the radio is as asked. Empty: the
  // switch command's exit status is all the proof.
  std::string wifi_state = "nmcli radio wifi";
};

// The pupil's desktop, reached through preau-session over a local socket (see
// agent/platform/session_link.h). Without it the lock falls back to `lock` above and is
// reported unverified.
struct LinuxSessionOptions {
  std::string socket_path;  // empty: no session program
  // "" to accept a peer uid, else why not; null: a user with a graphical logind session.
  std::function<std::string(uint32_t uid)> allow_peer;
  std::chrono::milliseconds verify_timeout{3000};  // for the session's verdict on a lock
};

// `root` lets tests point the Linux platform at a fake /proc, /sys and /etc tree.
std::unique_ptr<Platform> MakeLinuxPlatform(LinuxCommands commands = {},
                                            std::string root = "/",
                                            LinuxSessionOptions session = {});

// A simulated device. `seed` picks its model, serial and battery deterministically, so a
// simulated fleet looks varied but is reproducible.
std::unique_ptr<Platform> MakeSimPlatform(uint64_t seed);

// Test access to the simulated platform's state.
struct SimState {
  bool locked = false;
  std::string lock_message;
  std::string focus_app;
  std::string focus_url;
  std::vector<std::string> opened_urls;
  std::vector<std::string> messages;
  bool wifi_on = true;
  std::vector<v1::InstalledApp> apps;
};
// A copy of the state of a platform made by MakeSimPlatform (thread-safe); nullopt for
// any other platform.
std::optional<SimState> ReadSimState(const Platform& platform);

// Plays a user who managed to lift the simulated lock (IsLocked turns false, the message
// stays), so that a lock enforcer's re-apply can be tested. No-op on other platforms.
void SimForceUnlock(Platform& platform);

// Makes the next `times` calls of one simulated operation fail with Internal(`reason`)
// and leave the state untouched. Operations: "lock", "unlock", "focus", "open_url",
// "wifi", "install", "remove". InvalidArgument for another name or a non-sim platform.
Status SimFailNext(Platform& platform, const std::string& op, std::string reason,
                   int times = 1);

}  // namespace preau::agent
