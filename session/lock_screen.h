// LockScreen: the teacher's lock on an X11 desktop. One override-redirect window covers
// each X screen (a window manager cannot move, close or lower it), black with the
// message and the end time in large white type; the keyboard and the pointer are grabbed,
// so window-manager shortcuts and clicks never reach the desktop below. The window is
// raised again whenever another window is mapped or raised above it.
//
// Verify() is the proof the agent relies on: it re-checks, at the X server, that every
// window is viewable and on top of the stacking order and that both grabs are ours.
#pragma once

#include <X11/Xlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "session/big_text.h"

namespace preau::session {

class LockScreen {
 public:
  LockScreen(Display* dpy, BigText* text);
  ~LockScreen();
  LockScreen(const LockScreen&) = delete;
  LockScreen& operator=(const LockScreen&) = delete;

  // Shows (or updates) the lock. `until_unix_ms` 0: no end time is shown.
  void Show(const std::string& message, int64_t until_unix_ms);
  void Hide();
  bool shown() const { return !windows_.empty(); }
  int64_t until_unix_ms() const { return until_ms_; }

  // Handles one X event (exposure, a window mapped or raised above the lock, a lost
  // grab). Returns true when it concerned the lock.
  bool HandleEvent(const XEvent& ev);

  // Raises and grabs again, then checks. "" when the lock is verified, else why not.
  std::string Verify();

 private:
  struct Screen {
    Window window = 0;
    int width = 0, height = 0;
    GC gc = nullptr;
  };
  void Draw(const Screen& s);
  void Rebuild();

  Display* dpy_;
  BigText* text_;
  std::vector<Screen> windows_;
  std::string message_;
  int64_t until_ms_ = 0;
};

}  // namespace preau::session
