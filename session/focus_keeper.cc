#include "session/focus_keeper.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "session/desktop_entry.h"
#include "session/spawn.h"
#include "session/x_window.h"

namespace preau::session {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The first kiosk-capable browser installed, with its window class and its arguments.
struct Browser {
  std::string program, window_class;
  bool firefox;
};
bool Installed(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + program;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}
bool FindBrowser(Browser* out) {
  const Browser kBrowsers[] = {{"chromium", "chromium", false},
                               {"chromium-browser", "chromium-browser", false},
                               {"google-chrome", "google-chrome", false},
                               {"firefox-esr", "firefox-esr", true},
                               {"firefox", "firefox", true}};
  for (const auto& b : kBrowsers) {
    if (Installed(b.program)) {
      *out = b;
      return true;
    }
  }
  return false;
}

}  // namespace

FocusKeeper::FocusKeeper(Display* dpy)
    : dpy_(dpy),
      active_window_(XInternAtom(dpy, "_NET_ACTIVE_WINDOW", False)),
      wm_state_(XInternAtom(dpy, "WM_STATE", False)),
      net_wm_window_type_(XInternAtom(dpy, "_NET_WM_WINDOW_TYPE", False)),
      type_normal_(XInternAtom(dpy, "_NET_WM_WINDOW_TYPE_NORMAL", False)),
      type_dialog_(XInternAtom(dpy, "_NET_WM_WINDOW_TYPE_DIALOG", False)) {}

std::string FocusKeeper::KeepApp(const std::string& app) {
  if (!url_.empty() || app_ != Lower(app)) {
    End();
    app_ = Lower(app);
    classes_ = {app_};
  }
  std::string why;
  DesktopEntry entry = FindDesktopEntry(app, &why);
  if (why.empty()) {
    // Its windows carry the file's StartupWMClass or, without one, most often the
    // program's name rather than the id.
    std::string program = entry.argv[0].substr(entry.argv[0].rfind('/') + 1);
    classes_ = {app_, Lower(entry.startup_wm_class.empty() ? program : entry.startup_wm_class)};
  }
  if (AppHasWindow()) return "";
  if (!why.empty()) {
    End();
    return why;
  }
  if (launched_ > 0 && WhyLaunchEnded().empty()) return "";  // still starting
  // Launched as the pupil, in this session: the teacher's focus does not wait for the
  // pupil to find the app.
  launched_ = Spawn(entry.argv, &why);
  launched_program_ = entry.argv[0];
  launch_status_ = -1;
  if (launched_ < 0) {
    End();
    return "cannot launch " + app + ": " + why;
  }
  std::fprintf(stderr, "preau-session: launched %s (%s) for a focus\n", app.c_str(),
               entry.path.c_str());
  return "";
}

std::string FocusKeeper::KeepUrl(const std::string& url) {
  if (url == url_ && WhyLaunchEnded().empty()) return "";
  End();
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return "not an http(s) address";
  }
  Browser b;
  if (!FindBrowser(&b)) return "no kiosk-capable browser (Chromium or Firefox) is installed";
  const char* home = std::getenv("HOME");
  // A profile of its own: a kiosk window even when the pupil's browser is already open.
  std::string profile = std::string(home ? home : "/tmp") + "/.cache/preau-kiosk";
  std::vector<std::string> args = {b.program};
  if (b.firefox) {
    args.insert(args.end(), {"--kiosk", "--new-instance", "--profile", profile, url});
  } else {
    args.insert(args.end(), {"--kiosk", "--no-first-run", "--user-data-dir=" + profile, url});
    // Chromium's sandbox refuses root; a pupil's session is never root, a test's may be.
    if (getuid() == 0) args.insert(args.begin() + 1, "--no-sandbox");
  }
  std::string why;
  pid_t pid = Spawn(args, &why);
  if (pid < 0) return why;
  browser_ = pid;
  launched_program_ = b.program;
  launch_status_ = -1;
  app_ = b.window_class;
  classes_ = {app_};
  url_ = url;
  return "";
}

void FocusKeeper::End() {
  app_.clear();
  classes_.clear();
  url_.clear();
  if (browser_ > 0) {
    kill(-browser_, SIGTERM);  // its own session: the browser's helpers too
    Orphan(browser_);
    browser_ = -1;
  }
  // A launched app stays open: the pupil may have work in it.
  Orphan(launched_);
  launched_ = -1;
}

std::string FocusKeeper::WhyLaunchEnded() {
  pid_t& pid = browser_ > 0 ? browser_ : launched_;
  if (pid > 0) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) != pid) return "";
    pid = -1;
    launch_status_ = status;
  }
  if (launch_status_ == -1) return url_.empty() ? "" : "the kiosk browser is not running";
  std::string what = url_.empty() ? launched_program_ : "the kiosk browser (" + launched_program_ + ")";
  if (WIFEXITED(launch_status_) && WEXITSTATUS(launch_status_) == 127) {
    return "cannot run " + launched_program_;
  }
  if (WIFSIGNALED(launch_status_)) {
    return what + " was killed (signal " + std::to_string(WTERMSIG(launch_status_)) + ")";
  }
  return what + " exited (status " + std::to_string(WEXITSTATUS(launch_status_)) + ")";
}

bool FocusKeeper::IsApp(Window w) {
  XClassHint hint{};
  if (!XGetClassHint(dpy_, w, &hint)) return false;
  bool match = false;
  for (const auto& c : classes_) {
    match |= (hint.res_name && Lower(hint.res_name) == c) ||
             (hint.res_class && Lower(hint.res_class) == c);
  }
  if (hint.res_name) XFree(hint.res_name);
  if (hint.res_class) XFree(hint.res_class);
  return match;
}

std::vector<FocusKeeper::Client> FocusKeeper::Clients() {
  std::vector<Client> out;
  for (int n = 0; n < ScreenCount(dpy_); ++n) {
    Window root_ret, parent, *tops = nullptr;
    unsigned int count = 0;
    if (!XQueryTree(dpy_, RootWindow(dpy_, n), &root_ret, &parent, &tops, &count)) continue;
    for (unsigned int i = 0; i < count; ++i) {
      XWindowAttributes top{};
      if (!XGetWindowAttributes(dpy_, tops[i], &top) || top.override_redirect) continue;
      // The application window: the top-level itself or, under a window manager's frame,
      // the child that carries WM_STATE.
      Window client = None;
      std::vector<Window> look = {tops[i]};
      for (size_t k = 0; k < look.size() && k < 64 && client == None; ++k) {
        Atom type;
        int format;
        unsigned long items = 0, after = 0;
        unsigned char* data = nullptr;
        if (XGetWindowProperty(dpy_, look[k], wm_state_, 0, 2, False, AnyPropertyType, &type,
                               &format, &items, &after, &data) == Success && type != None) {
          client = look[k];
        }
        if (data) XFree(data);
        if (client != None) break;
        Window r, p, *kids = nullptr;
        unsigned int nk = 0;
        if (XQueryTree(dpy_, look[k], &r, &p, &kids, &nk)) {
          look.insert(look.end(), kids, kids + nk);
          if (kids) XFree(kids);
        }
      }
      if (client == None) continue;
      // Only ordinary windows: panels, docks and the desktop are not the pupil's apps.
      Atom type;
      int format;
      unsigned long items = 0, after = 0;
      unsigned char* data = nullptr;
      bool ordinary = true;
      if (XGetWindowProperty(dpy_, client, net_wm_window_type_, 0, 1, False, XA_ATOM, &type,
                             &format, &items, &after, &data) == Success && data && items == 1) {
        Atom t = static_cast<Atom>(*reinterpret_cast<unsigned long*>(data));
        ordinary = t == type_normal_ || t == type_dialog_;
      }
      if (data) XFree(data);
      XClassHint hint{};
      bool preau = false;
      if (XGetClassHint(dpy_, client, &hint)) {
        preau = hint.res_class && std::string(hint.res_class) == "Preau";
        if (hint.res_name) XFree(hint.res_name);
        if (hint.res_class) XFree(hint.res_class);
      }
      if (!ordinary || preau) continue;
      out.push_back({client, IsApp(client), top.map_state == IsViewable});
    }
    if (tops) XFree(tops);
  }
  return out;
}

bool FocusKeeper::AppHasWindow() {
  for (const auto& c : Clients()) {
    if (c.ours) return true;
  }
  return false;
}

void FocusKeeper::Activate(Window w) {
  XEvent ev{};
  ev.xclient.type = ClientMessage;
  ev.xclient.window = w;
  ev.xclient.message_type = active_window_;
  ev.xclient.format = 32;
  ev.xclient.data.l[0] = 2;  // from a pager-like tool: window managers obey it
  ev.xclient.data.l[1] = CurrentTime;
  XSendEvent(dpy_, DefaultRootWindow(dpy_), False,
             SubstructureRedirectMask | SubstructureNotifyMask, &ev);
  XRaiseWindow(dpy_, w);
}

void FocusKeeper::HandleEvent(const XEvent& ev) {
  if (!active()) return;
  if (ev.type == MapNotify || ev.type == CreateNotify ||
      (ev.type == PropertyNotify && ev.xproperty.atom == active_window_)) {
    Enforce();
  }
}

std::string FocusKeeper::Enforce() {
  if (!active()) return "no focus";
  std::vector<Client> clients = Clients();
  Window mine = None;
  int others = 0;
  for (const auto& c : clients) {
    if (c.ours) {
      if (mine == None || c.viewable) mine = c.window;
    } else if (c.viewable) {
      XIconifyWindow(dpy_, c.window, DefaultScreen(dpy_));
      ++others;
    }
  }
  if (mine == None) {
    XFlush(dpy_);
    std::string ended = WhyLaunchEnded();
    if (!ended.empty()) return ended;
    return "no window of " + app_ + " is open";
  }
  if (!url_.empty()) {
    // A kiosk window left over from a browser that ended is not the kiosk any more.
    std::string ended = WhyLaunchEnded();
    if (!ended.empty()) return ended;
  }
  Window active = ActiveWindow(dpy_, active_window_);
  bool viewable = false;
  for (const auto& c : clients) viewable |= c.ours && c.viewable && c.window == mine;
  if (!viewable || active != mine) Activate(mine);
  XFlush(dpy_);
  if (others > 0) return std::to_string(others) + " other window(s) were still shown";
  if (!viewable) return app_ + " is not shown";
  if (active != mine) return app_ + " is not the active window";
  return "";
}

}  // namespace preau::session
