// preau-session: the unprivileged half of the Préau agent, started in every graphical
// session (deploy/preau-session.desktop, deploy/systemd/preau-session.service). It is the
// only part of Préau that touches the desktop: it shows the teacher's lock and reports
// whether the lock is verified, shows the teacher's messages until dismissed, opens the
// teacher's URLs in the pupil's browser, and reports input and the app in front (for the
// Wi-Fi idle timer and usage). It links Xlib and nothing else of size, so it stays small,
// and it sleeps in poll() while nothing happens (it wakes 4 times a second only while a
// lock is shown, to re-check it, once a second while a focus is held or the agent is
// away, and once per usage tick, 15 s by default).
//
//   preau-session [--socket /run/preau/session.sock] [--usage-every MS]
#include <X11/Xlib.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "session/activity_watch.h"
#include "session/agent_link.h"
#include "session/focus_keeper.h"
#include "session/lock_screen.h"
#include "session/message_window.h"
#include "session/spawn.h"
#include "session/url_opener.h"
#include "session/wire.h"

namespace {

using preau::session::AgentLink;
using preau::session::LockScreen;

constexpr int kVerifyEveryMs = 250;
constexpr int kReconnectEveryMs = 1000;
constexpr int kOpenCheckEveryMs = 100;  // while xdg-open has not answered
constexpr int kFocusCheckEveryMs = 100;  // while a focus is not verified yet
// While a verified focus holds, it is re-checked on every X event and at least this often
// (a kiosk browser that ended leaves no event of its own).
constexpr int kFocusWatchEveryMs = 1000;
// How long a focus may take to verify: a kiosk browser or a launched app may start slowly;
// an app's open window is there or not.
constexpr int64_t kFocusUrlAnswerMs = 20000;
constexpr int64_t kFocusLaunchAnswerMs = 10000;
constexpr int64_t kFocusAppAnswerMs = 2500;
// A held focus not verified for this long is reported lost (a window manager or a browser
// going full screen may take a moment to settle).
constexpr int64_t kFocusLostAfterMs = 1500;

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int IgnoreXError(Display*, XErrorEvent*) { return 0; }  // a window vanished under a query

// Under a Wayland compositor the X display is XWayland's: a lock or a focus there covers
// only the X programs, not the compositor's own shortcuts or Wayland windows, so neither
// can be verified (ext-session-lock is not implemented). "" on an X11 session.
std::string WhyNotVerifiable() {
  const char* type = getenv("XDG_SESSION_TYPE");
  if ((type && std::string(type) == "wayland") || getenv("WAYLAND_DISPLAY")) {
    return "a Wayland session: the X lock covers only XWayland windows (ext-session-lock is "
           "not supported yet)";
  }
  return "";
}

int Usage() {
  std::fprintf(stderr, "usage: preau-session [--socket PATH] [--usage-every MS]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = "/run/preau/session.sock";
  int usage_every_ms = 15000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
      socket_path = argv[++i];
    } else if (std::strcmp(argv[i], "--usage-every") == 0 && i + 1 < argc) {
      usage_every_ms = std::atoi(argv[++i]);
      if (usage_every_ms < 100 || usage_every_ms > 60000) {
        std::fprintf(stderr, "preau-session: --usage-every: expected 100 to 60000 ms\n");
        return 2;
      }
    } else {
      return Usage();
    }
  }
  Display* dpy = XOpenDisplay(nullptr);
  if (!dpy) {
    std::fprintf(stderr, "preau-session: cannot open the display %s\n",
                 getenv("DISPLAY") ? getenv("DISPLAY") : "(DISPLAY is not set)");
    return 1;
  }
  XSetErrorHandler(IgnoreXError);
  // One per display: two would fight over the grabs and the agent's socket.
  Atom self = XInternAtom(dpy, "_PREAU_SESSION", False);
  if (XGetSelectionOwner(dpy, self) != None) {
    std::fprintf(stderr, "preau-session: already running on this display\n");
    return 0;
  }
  XSetSelectionOwner(dpy, self, XCreateSimpleWindow(dpy, DefaultRootWindow(dpy), 0, 0, 1, 1, 0, 0, 0),
                     CurrentTime);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  // Hear of every window mapped, restacked or activated: the lock stays above them, a
  // focus keeps other apps iconified. Nothing arrives while nobody touches a window.
  for (int n = 0; n < ScreenCount(dpy); ++n) {
    XSelectInput(dpy, RootWindow(dpy, n), SubstructureNotifyMask | PropertyChangeMask);
  }
  const std::string wayland = WhyNotVerifiable();
  preau::session::BigText text(dpy);
  LockScreen lock(dpy, &text);
  preau::session::MessageWindows messages(dpy, &text);
  AgentLink agent(socket_path);
  preau::session::UrlOpener opener;
  preau::session::FocusKeeper focus(dpy);
  std::string focus_id;       // the focus request waiting for its verdict
  int64_t focus_deadline = 0;
  std::string focus_what;     // the focus asked ("app xlogo", "url https://...")
  bool focus_held = false;    // verified once: watched, and reported when it cannot hold
  std::string focus_lost;     // why it does not hold, as told to the agent ("" : holds)
  int64_t unheld_since = 0;
  preau::session::ActivityWatch activity(dpy, usage_every_ms, /*enabled=*/wayland.empty());
  if (!wayland.empty()) {
    std::fprintf(stderr, "preau-session: %s; locks and focus are reported unverified, "
                         "no input or usage reports\n", wayland.c_str());
  } else if (!activity.usable()) {
    std::fprintf(stderr, "preau-session: this X server has no idle counter (MIT-SCREEN-SAVER): "
                         "no input or usage reports\n");
  }
  int64_t next_tick = SteadyMs() + usage_every_ms;
  auto answer_open = [&](const preau::session::UrlOpener::Answer& a) {
    agent.Send(a.failure.empty()
                   ? "done open " + a.id
                   : "failed open " + a.id + " " + preau::session::EscapeText(a.failure));
  };
  std::string reported;  // the last lock state told to the agent
  // The app in front as last told to the agent (for the teacher's console), and whether
  // something happened that may have changed it.
  std::optional<std::string> front_told;
  bool front_check = true;
  bool front_told_locked = false;
  std::string last_error;
  int64_t next_connect = 0;

  auto report = [&](bool force) {
    std::string state = "lock off";
    if (lock.shown()) {
      std::string why = lock.Verify();
      if (why.empty()) why = wayland;
      state = why.empty() ? "lock verified" : "lock unverified " + preau::session::EscapeText(why);
    }
    if ((force || state != reported) && agent.Send(state)) reported = state;
  };

  while (!g_stop) {
    if (!agent.connected() && SteadyMs() >= next_connect) {
      std::string why = agent.Connect();
      if (why.empty()) {
        std::fprintf(stderr, "preau-session: connected to the agent at %s\n", socket_path.c_str());
        last_error.clear();
        agent.Send("hello " + std::to_string(getpid()));
        report(/*force=*/true);
        front_told.reset();
        front_check = true;
      } else {
        if (why != last_error) std::fprintf(stderr, "preau-session: %s\n", why.c_str());
        last_error = why;
        next_connect = SteadyMs() + kReconnectEveryMs;
      }
    }
    auto at_most = [](int timeout, int64_t wait) {
      int w = static_cast<int>(std::max<int64_t>(0, wait));
      return timeout < 0 ? w : std::min(timeout, w);
    };
    int timeout = -1;
    if (lock.shown()) timeout = kVerifyEveryMs;
    if (opener.waiting()) timeout = at_most(timeout, kOpenCheckEveryMs);
    if (!focus_id.empty() || (unheld_since != 0 && focus_lost.empty())) timeout = at_most(timeout, kFocusCheckEveryMs);
    if (focus_held) timeout = at_most(timeout, kFocusWatchEveryMs);
    if (activity.usable() && agent.connected()) timeout = at_most(timeout, next_tick - SteadyMs());
    if (!agent.connected()) timeout = at_most(timeout, next_connect - SteadyMs());
    pollfd fds[2] = {{ConnectionNumber(dpy), POLLIN, 0}, {agent.fd(), POLLIN, 0}};
    if (XPending(dpy) == 0) poll(fds, agent.connected() ? 2 : 1, timeout);
    bool changed = false;
    while (XPending(dpy) > 0) {
      XEvent ev;
      XNextEvent(dpy, &ev);
      changed |= lock.HandleEvent(ev);
      messages.HandleEvent(ev);
      focus.HandleEvent(ev);
      front_check |= activity.MayChangeFront(ev);
    }
    for (const auto& id : messages.TakeShown()) agent.Send("done message " + id);
    for (const auto& id : messages.TakeDismissed()) agent.Send("dismissed " + id);
    std::vector<std::string> lines;
    if (agent.connected() && !agent.Read(&lines)) {
      std::fprintf(stderr, "preau-session: the agent went away; the lock stays as it is\n");
      reported.clear();
      front_told.reset();
      next_connect = SteadyMs() + kReconnectEveryMs;
    }
    for (const auto& line : lines) {
      auto f = preau::session::SplitFields(line, 3);
      if (f.empty()) continue;
      if (f[0] == "lock" && f.size() >= 2) {
        int64_t until = std::strtoll(f[1].c_str(), nullptr, 10);
        lock.Show(preau::session::UnescapeText(f.size() > 2 ? f[2] : ""), until);
        report(/*force=*/true);
      } else if (f[0] == "message" && f.size() >= 2) {
        messages.Show(f[1], preau::session::UnescapeText(f.size() > 2 ? f[2] : ""));
      } else if (f[0] == "open" && f.size() >= 3) {
        for (const auto& a : opener.Start(f[1], preau::session::UnescapeText(f[2]), SteadyMs())) {
          answer_open(a);
        }
      } else if (f[0] == "focus" && f.size() >= 3) {
        // focus <id> app <class> | url <url> | off
        std::string asked = preau::session::UnescapeText(f[2]);
        auto what = preau::session::SplitFields(asked, 2);
        // The same focus asked again (the agent restoring one that did not hold) keeps
        // what holds of it meanwhile, even if restoring it fails.
        if (asked != focus_what) focus_held = false;
        focus_what = asked;
        focus_lost.clear();
        unheld_since = 0;
        std::string failure = what[0] == "off" ? "" : wayland;
        if (!failure.empty()) {
          // Not verifiable here: nothing is started.
        } else if (what[0] == "off") {
          focus.End();
          agent.Send("done focus " + f[1]);
          focus_id.clear();
          focus_what.clear();
          continue;
        } else if (what[0] == "app" && what.size() == 2) {
          failure = focus.KeepApp(what[1]);
        } else if (what[0] == "url" && what.size() == 2) {
          failure = focus.KeepUrl(what[1]);
        } else {
          failure = "unknown focus";
        }
        if (!failure.empty()) {
          agent.Send("failed focus " + f[1] + " " + preau::session::EscapeText(failure));
          focus_id.clear();
          focus_held = false;
        } else {
          focus_id = f[1];
          focus_deadline = SteadyMs() + (what[0] == "url"       ? kFocusUrlAnswerMs
                                         : focus.launching()   ? kFocusLaunchAnswerMs
                                                               : kFocusAppAnswerMs);
        }
      } else if (f[0] == "unlock") {
        lock.Hide();
        report(/*force=*/true);
      } else if (f[0] == "refused") {
        std::string why = preau::session::UnescapeText(line.substr(std::min<size_t>(line.size(), 8)));
        std::fprintf(stderr, "preau-session: the agent refused this session: %s\n", why.c_str());
        agent.Close();
        next_connect = SteadyMs() + kReconnectEveryMs;
      }
    }
    for (const auto& a : opener.Poll(SteadyMs())) answer_open(a);
    if (!focus_id.empty()) {
      std::string why = focus.Enforce();
      if (why.empty()) {
        agent.Send("done focus " + focus_id);
        focus_id.clear();
        focus_held = true;
      } else if (SteadyMs() >= focus_deadline) {
        agent.Send("failed focus " + focus_id + " " + preau::session::EscapeText(why));
        focus_id.clear();
        // Not proven: a new focus is undone, so nothing stays half-done; one that held
        // keeps the other windows down while the agent tries again.
        if (!focus_held) focus.End();
        focus_lost = why;
      }
    } else if (focus_held && focus.active()) {
      // A held focus is watched: the pupil closed the app, the kiosk browser ended... The
      // agent hears it (and restores the focus), and hears when it holds again.
      std::string why = focus.Enforce();
      if (why.empty()) {
        unheld_since = 0;
        if (!focus_lost.empty() && agent.Send("focus held")) focus_lost.clear();
      } else {
        if (unheld_since == 0) unheld_since = SteadyMs();
        if (focus_lost.empty() && SteadyMs() - unheld_since >= kFocusLostAfterMs &&
            agent.Send("focus lost " + preau::session::EscapeText(why))) {
          std::fprintf(stderr, "preau-session: the focus does not hold: %s\n", why.c_str());
          focus_lost = why;
        }
      }
    }
    preau::session::ReapOrphans();
    if (SteadyMs() >= next_tick) {
      int64_t elapsed = SteadyMs() - (next_tick - usage_every_ms);
      next_tick = SteadyMs() + usage_every_ms;
      std::string line = activity.Tick(lock.shown(), elapsed);
      if (!line.empty() && agent.connected()) agent.Send(line);
      front_check = true;  // a focus change no event told of (no window manager)
    }
    // The lock ends on this device's clock even if the agent is away.
    if (lock.shown() && lock.until_unix_ms() > 0 && NowMs() >= lock.until_unix_ms()) {
      lock.Hide();
      changed = true;
    }
    if (lock.shown() || changed) report(/*force=*/false);
    // Nothing is in front of the lock. Said only on change: a pupil switching apps all
    // lesson long costs the agent one short line per switch.
    if ((front_check || lock.shown() != front_told_locked) && agent.connected()) {
      front_check = false;
      front_told_locked = lock.shown();
      std::string app = lock.shown() ? "" : activity.FrontWindowClass();
      if (front_told != app && agent.Send("front " + preau::session::EscapeText(app))) {
        front_told = app;
      }
    }
  }
  lock.Hide();
  focus.End();
  XCloseDisplay(dpy);
  return 0;
}
