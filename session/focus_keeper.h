// FocusKeeper: a teacher's focus (`preau class focus`) on an X11 desktop. Only the windows
// of one app stay usable: every other application window that is shown, or shown again
// (a new window, one restored from the task bar), is iconified at once, and the app's
// window is made the active one. The app is named by its window class or instance
// (WM_CLASS, compared without case: "xlogo", "Chromium"); a URL focus runs the installed
// browser (Chromium or Firefox) in kiosk mode on that URL and keeps that browser in front.
// Préau's own windows (the lock, messages) and the desktop's panels are left alone.
//
// Verify() is the proof the agent relies on: a window of the app is viewable and active
// and no other application window is viewable.
#pragma once

#include <X11/Xlib.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace preau::session {

class FocusKeeper {
 public:
  explicit FocusKeeper(Display* dpy);

  // Keeps `app` in front (a window class); "" ends the focus (windows stay as they are).
  void KeepApp(const std::string& app);
  // Starts the kiosk browser on `url` and keeps it in front; "" when started, else why not.
  std::string KeepUrl(const std::string& url);
  void End();
  bool active() const { return !app_.empty(); }

  // After an X event that may have brought a window forward: puts the focus back.
  void HandleEvent(const XEvent& ev);
  // Iconifies the others and activates the app; then "" when verified, else why not.
  std::string Enforce();

 private:
  struct Client {
    Window window;
    bool ours;       // the focused app's
    bool viewable;
  };
  std::vector<Client> Clients();
  bool IsApp(Window w);
  void Activate(Window w);

  Display* dpy_;
  std::string app_;  // lower case
  std::string url_;  // the kiosk browser's URL
  pid_t browser_ = -1;
  Atom active_window_, wm_state_, net_wm_window_type_, type_normal_, type_dialog_;
};

}  // namespace preau::session
