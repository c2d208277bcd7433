// ActivityWatch: how the person at this desktop uses it, for the agent's loi Abeille idle
// timer and its usage report. Every tick it asks the X server how long since the last
// input (MIT-SCREEN-SAVER) and which window is in front (_NET_ACTIVE_WINDOW, else the
// input focus), and says, while the screen is in use (input within the last 5 minutes),
// "usage <tick ms> <input since the last tick 0|1> <window class>". The window class
// (WM_CLASS, e.g. "Chromium") names the app; a window's title, which may hold what is
// visited, is never read. Between ticks it costs nothing; while the screen is unused it
// says nothing.
#pragma once

#include <X11/Xlib.h>

#include <string>

namespace preau::session {

class ActivityWatch {
 public:
  // `enabled` false: reports nothing (the X idle counter would miss a Wayland desktop's
  // own input).
  ActivityWatch(Display* dpy, int tick_ms, bool enabled = true);
  // False when the X server has no idle counter: nothing is then reported.
  bool usable() const { return usable_; }
  int tick_ms() const { return tick_ms_; }
  // The line to send for the tick that just ended, `elapsed_ms` after the previous one
  // ("" when the screen is not in use). `locked`: the class lock is shown, so no app is
  // in front.
  std::string Tick(bool locked, int64_t elapsed_ms);
  // The window class in front now ("" for none, or when not enabled), for the teacher's
  // console; `ev` tells whether an X event may have changed it (the active window moved).
  std::string FrontWindowClass();
  bool MayChangeFront(const XEvent& ev) const;

 private:

  Display* dpy_;
  int tick_ms_;
  bool usable_ = false;
  bool enabled_ = true;
  Atom active_window_;
};

}  // namespace preau::session
