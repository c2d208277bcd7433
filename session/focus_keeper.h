// FocusKeeper: a teacher's focus (`preau class focus`) on an X11 desktop. Only the windows
// of one app stay usable: every other application window that is shown, or shown again
// (a new window, one restored from the task bar), is iconified at once, and the app's
// window is made the active one. The app is named by its desktop id ("org.kde.kturtle");
// its windows are those whose class or instance (WM_CLASS, compared without case) is the
// .desktop file's StartupWMClass, the id itself or the name of the program it runs
// ("xlogo", "Chromium"). When none is open, the app is launched from its .desktop file
// (session/desktop_entry.h), as the pupil, in this session. A URL focus runs the
// installed browser (Chromium or Firefox) in kiosk mode on that URL and keeps that
// browser in front. Préau's own windows (the lock, messages) and the desktop's panels are
// left alone.
//
// Enforce() is the proof the agent relies on: a window of the app is viewable and active
// and no other application window is viewable. It says why not otherwise, including
// when the app can no longer be held (its last window closed, the kiosk browser ended).
#pragma once

#include <X11/Xlib.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace preau::session {

class FocusKeeper {
 public:
  explicit FocusKeeper(Display* dpy);

  // Keeps `app` in front, launching it when none of its windows is open; "" when under
  // way, else why not (no such application on this device). Asked again for the same app,
  // it launches it again if its windows are gone.
  std::string KeepApp(const std::string& app);
  // Starts the kiosk browser on `url` and keeps it in front; "" when started, else why not.
  // Asked again for the same URL, it starts the browser again if it ended.
  std::string KeepUrl(const std::string& url);
  // Ends the focus; a kiosk browser is closed, a launched app stays (the pupil's work).
  void End();
  bool active() const { return !app_.empty(); }
  // Whether the app (or the kiosk browser) was launched and may still be starting.
  bool launching() const { return launched_ > 0 || browser_ > 0; }

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
  bool AppHasWindow();
  void Activate(Window w);
  // Why the launched app or browser cannot be waited for any more ("" while it may still
  // show a window); reaps it once it ended.
  std::string WhyLaunchEnded();

  Display* dpy_;
  std::string app_;                  // the app as asked, lower case ("" : no focus)
  std::vector<std::string> classes_; // window classes or instances that are the app's
  std::string url_;                  // the kiosk browser's URL
  pid_t browser_ = -1;
  pid_t launched_ = -1;              // the app launched for this focus, while it runs
  std::string launched_program_;
  int launch_status_ = -1;           // its wait status once it ended (-1: not ended)
  Atom active_window_, wm_state_, net_wm_window_type_, type_normal_, type_dialog_;
};

}  // namespace preau::session
