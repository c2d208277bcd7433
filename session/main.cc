// preau-session: the unprivileged half of the Préau agent, started in every graphical
// session (deploy/preau-session.desktop, deploy/systemd/preau-session.service). It is the
// only part of Préau that touches the desktop: it shows the teacher's lock and reports
// whether the lock is verified, and shows the teacher's messages until dismissed. It links Xlib and nothing else of size, so it stays small,
// and it sleeps in poll() while nothing happens (it wakes 4 times a second only while a
// lock is shown, to re-check it, and once a second while the agent is away).
//
//   preau-session [--socket /run/preau/session.sock]
#include <X11/Xlib.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "session/agent_link.h"
#include "session/lock_screen.h"
#include "session/message_window.h"
#include "session/wire.h"

namespace {

using preau::session::AgentLink;
using preau::session::LockScreen;

constexpr int kVerifyEveryMs = 250;
constexpr int kReconnectEveryMs = 1000;

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

int Usage() {
  std::fprintf(stderr, "usage: preau-session [--socket PATH]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path = "/run/preau/session.sock";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
      socket_path = argv[++i];
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

  preau::session::BigText text(dpy);
  LockScreen lock(dpy, &text);
  preau::session::MessageWindows messages(dpy, &text);
  AgentLink agent(socket_path);
  std::string reported;  // the last lock state told to the agent
  std::string last_error;
  int64_t next_connect = 0;

  auto report = [&](bool force) {
    std::string state = "lock off";
    if (lock.shown()) {
      std::string why = lock.Verify();
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
      } else {
        if (why != last_error) std::fprintf(stderr, "preau-session: %s\n", why.c_str());
        last_error = why;
        next_connect = SteadyMs() + kReconnectEveryMs;
      }
    }
    int timeout = -1;
    if (lock.shown()) timeout = kVerifyEveryMs;
    if (!agent.connected()) {
      int wait = static_cast<int>(std::max<int64_t>(0, next_connect - SteadyMs()));
      timeout = timeout < 0 ? wait : std::min(timeout, wait);
    }
    pollfd fds[2] = {{ConnectionNumber(dpy), POLLIN, 0}, {agent.fd(), POLLIN, 0}};
    if (XPending(dpy) == 0) poll(fds, agent.connected() ? 2 : 1, timeout);
    bool changed = false;
    while (XPending(dpy) > 0) {
      XEvent ev;
      XNextEvent(dpy, &ev);
      changed |= lock.HandleEvent(ev);
      messages.HandleEvent(ev);
    }
    for (const auto& id : messages.TakeShown()) agent.Send("done message " + id);
    for (const auto& id : messages.TakeDismissed()) agent.Send("dismissed " + id);
    std::vector<std::string> lines;
    if (agent.connected() && !agent.Read(&lines)) {
      std::fprintf(stderr, "preau-session: the agent went away; the lock stays as it is\n");
      reported.clear();
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
    // The lock ends on this device's clock even if the agent is away.
    if (lock.shown() && lock.until_unix_ms() > 0 && NowMs() >= lock.until_unix_ms()) {
      lock.Hide();
      changed = true;
    }
    if (lock.shown() || changed) report(/*force=*/false);
  }
  lock.Hide();
  XCloseDisplay(dpy);
  return 0;
}
