#include "session/lock_screen.h"

#include <X11/Xutil.h>

#include <algorithm>
#include <ctime>
#include <sstream>

namespace preau::session {
namespace {

std::string ClockTime(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M", &tm);
  return buf;
}

}  // namespace

LockScreen::LockScreen(Display* dpy, BigText* text) : dpy_(dpy), text_(text) {}

LockScreen::~LockScreen() { Hide(); }

void LockScreen::Show(const std::string& message, int64_t until_unix_ms) {
  message_ = message;
  until_ms_ = until_unix_ms;
  if (windows_.empty()) {
    for (int n = 0; n < ScreenCount(dpy_); ++n) {
      Window root = RootWindow(dpy_, n);
      Screen s;
      s.width = DisplayWidth(dpy_, n);
      s.height = DisplayHeight(dpy_, n);
      XSetWindowAttributes attrs{};
      attrs.override_redirect = True;
      attrs.background_pixel = BlackPixel(dpy_, n);
      attrs.event_mask = ExposureMask | VisibilityChangeMask | KeyPressMask | ButtonPressMask |
                         FocusChangeMask;
      s.window = XCreateWindow(dpy_, root, 0, 0, s.width, s.height, 0, CopyFromParent,
                               InputOutput, CopyFromParent,
                               CWOverrideRedirect | CWBackPixel | CWEventMask, &attrs);
      XStoreName(dpy_, s.window, "preau-lock");
      s.gc = XCreateGC(dpy_, s.window, 0, nullptr);
      XSetForeground(dpy_, s.gc, WhitePixel(dpy_, n));
      XMapRaised(dpy_, s.window);
      windows_.push_back(s);
    }
    XSync(dpy_, False);
  }
  for (const auto& s : windows_) Draw(s);
  XFlush(dpy_);
}

void LockScreen::Hide() {
  if (windows_.empty()) return;
  XUngrabKeyboard(dpy_, CurrentTime);
  XUngrabPointer(dpy_, CurrentTime);
  for (auto& s : windows_) {
    XFreeGC(dpy_, s.gc);
    XDestroyWindow(dpy_, s.window);
  }
  windows_.clear();
  XSync(dpy_, False);
}

bool LockScreen::HandleEvent(const XEvent& ev) {
  if (windows_.empty()) return false;
  auto ours = [&](Window w) {
    return std::any_of(windows_.begin(), windows_.end(), [&](const Screen& s) { return s.window == w; });
  };
  switch (ev.type) {
    case Expose:
      if (ev.xexpose.count == 0) {
        for (const auto& s : windows_) {
          if (s.window == ev.xexpose.window) Draw(s);
        }
      }
      return ours(ev.xexpose.window);
    case MapNotify:
    case ConfigureNotify:
    case CreateNotify: {
      Window w = ev.type == MapNotify         ? ev.xmap.window
                 : ev.type == ConfigureNotify ? ev.xconfigure.window
                                              : ev.xcreatewindow.window;
      if (ours(w)) return false;
      for (const auto& s : windows_) XRaiseWindow(dpy_, s.window);
      return true;
    }
    case VisibilityNotify:
      if (ev.xvisibility.state != VisibilityUnobscured) {
        for (const auto& s : windows_) XRaiseWindow(dpy_, s.window);
      }
      return true;
    case FocusOut:
      return ev.xfocus.mode == NotifyUngrab;  // a grab was lost: Verify grabs again
    default:
      return false;
  }
}

std::string LockScreen::Verify() {
  if (windows_.empty()) return "no lock is shown";
  for (size_t n = 0; n < windows_.size(); ++n) {
    const Screen& s = windows_[n];
    XWindowAttributes a;
    if (!XGetWindowAttributes(dpy_, s.window, &a)) {
      // Another client destroyed the window: make the lock anew.
      Rebuild();
      return "the lock window of screen " + std::to_string(n) + " was destroyed";
    }
    if (a.map_state != IsViewable) {
      XMapRaised(dpy_, s.window);
      return "the lock window of screen " + std::to_string(n) + " is not viewable";
    }
    // The topmost viewable child of the root must be the lock.
    for (int attempt = 0; attempt < 2; ++attempt) {
      Window root_ret, parent;
      Window* children = nullptr;
      unsigned int count = 0;
      Window top = 0;
      if (XQueryTree(dpy_, RootWindow(dpy_, static_cast<int>(n)), &root_ret, &parent, &children, &count)) {
        for (unsigned int i = count; i-- > 0;) {
          XWindowAttributes ca;
          if (XGetWindowAttributes(dpy_, children[i], &ca) && ca.map_state == IsViewable) {
            top = children[i];
            break;
          }
        }
        if (children) XFree(children);
      }
      if (top == s.window) break;
      if (attempt == 1) {
        std::ostringstream why;
        why << "window 0x" << std::hex << top << " is above the lock on screen " << std::dec << n;
        return why.str();
      }
      XRaiseWindow(dpy_, s.window);
      XSync(dpy_, False);
    }
  }
  Window w = windows_[0].window;
  int kb = XGrabKeyboard(dpy_, w, False, GrabModeAsync, GrabModeAsync, CurrentTime);
  if (kb != GrabSuccess) {
    return kb == AlreadyGrabbed ? "another program holds the keyboard" : "the keyboard cannot be grabbed";
  }
  int ptr = XGrabPointer(dpy_, w, False, ButtonPressMask | ButtonReleaseMask | PointerMotionMask,
                         GrabModeAsync, GrabModeAsync, w, None, CurrentTime);
  if (ptr != GrabSuccess) {
    return ptr == AlreadyGrabbed ? "another program holds the pointer" : "the pointer cannot be grabbed";
  }
  XSetInputFocus(dpy_, w, RevertToParent, CurrentTime);
  return "";
}

void LockScreen::Rebuild() {
  for (auto& s : windows_) {
    XFreeGC(dpy_, s.gc);
    XDestroyWindow(dpy_, s.window);  // harmless if it is gone already
  }
  windows_.clear();
  XSync(dpy_, False);
  Show(message_, until_ms_);
}

void LockScreen::Draw(const Screen& s) {
  XClearWindow(dpy_, s.window);
  if (!text_->ok()) return;
  int line_h = text_->line_height();
  int scale = std::clamp(s.height / (line_h * 14), 2, 10);
  std::vector<std::string> lines = {"Écran verrouillé", ""};
  for (auto& l : text_->Wrap(message_, s.width * 9 / 10, scale)) lines.push_back(l);
  if (until_ms_ > 0) {
    lines.push_back("");
    lines.push_back("Jusqu'à " + ClockTime(until_ms_));
  }
  int step = line_h * scale * 5 / 4;
  int y = (s.height - static_cast<int>(lines.size()) * step) / 2;
  for (const auto& l : lines) {
    if (!l.empty()) text_->Draw(s.window, s.gc, l, 0, s.width, y, scale);
    y += step;
  }
}

}  // namespace preau::session
