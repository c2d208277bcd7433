#include "session/activity_watch.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/scrnsaver.h>

#include <algorithm>
#include <cstdint>

#include "session/wire.h"
#include "session/x_window.h"

namespace preau::session {
namespace {
// Without input for this long, the screen counts as unused (it would blank).
constexpr unsigned long kUnusedAfterMs = 5 * 60 * 1000;
}  // namespace

ActivityWatch::ActivityWatch(Display* dpy, int tick_ms, bool enabled)
    : dpy_(dpy), tick_ms_(tick_ms), active_window_(XInternAtom(dpy, "_NET_ACTIVE_WINDOW", False)) {
  int event_base = 0, error_base = 0;
  usable_ = enabled && XScreenSaverQueryExtension(dpy_, &event_base, &error_base);
  enabled_ = enabled;
}

std::string ActivityWatch::Tick(bool locked, int64_t elapsed_ms) {
  if (!usable_ || elapsed_ms <= 0) return "";
  XScreenSaverInfo info{};
  if (!XScreenSaverQueryInfo(dpy_, DefaultRootWindow(dpy_), &info)) return "";
  if (info.idle >= kUnusedAfterMs) return "";
  bool input = static_cast<int64_t>(info.idle) < elapsed_ms;
  // A late wake-up (a suspended laptop) does not count as time in use.
  int64_t in_use = std::min<int64_t>(elapsed_ms, 2 * int64_t{tick_ms_});
  std::string app = locked ? "" : FrontWindowClass();
  return "usage " + std::to_string(in_use) + " " + (input ? "1" : "0") + " " + EscapeText(app);
}

bool ActivityWatch::MayChangeFront(const XEvent& ev) const {
  if (ev.type == PropertyNotify) return ev.xproperty.atom == active_window_;
  // Without a window manager's _NET_ACTIVE_WINDOW, windows come and go with the focus.
  return ev.type == MapNotify || ev.type == UnmapNotify || ev.type == DestroyNotify;
}

std::string ActivityWatch::FrontWindowClass() {
  if (!enabled_) return "";
  Window w = ActiveWindow(dpy_, active_window_);
  if (w == None) {
    int revert;
    XGetInputFocus(dpy_, &w, &revert);
    if (w == PointerRoot) w = None;
  }
  if (w == None) return "";
  // A window manager's frame has no class of its own: look at its children.
  for (int depth = 0; depth < 3 && w != None; ++depth) {
    XClassHint hint{};
    if (XGetClassHint(dpy_, w, &hint)) {
      std::string cls = hint.res_class ? hint.res_class : "";
      if (hint.res_name) XFree(hint.res_name);
      if (hint.res_class) XFree(hint.res_class);
      return cls;
    }
    Window root, parent, *children = nullptr;
    unsigned int count = 0;
    if (!XQueryTree(dpy_, w, &root, &parent, &children, &count)) break;
    w = count > 0 ? children[count - 1] : None;
    if (children) XFree(children);
  }
  return "";
}

}  // namespace preau::session
