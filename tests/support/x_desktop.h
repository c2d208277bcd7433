// XDesktop: a real X11 desktop made by a test: Xvfb on a display number it picks itself
// (-displayfd, so parallel tests never collide), the openbox window manager, and helpers
// to look at it as a pupil would see it (the topmost window, a screenshot read back with
// tesseract) and to act on it as a pupil would (xdotool keys and window actions, a new
// window). ChildProcess runs a program in the background and stops it by its pid.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tests/support/harness.h"

typedef struct _XDisplay Display;

namespace preau::testing {

class ChildProcess {
 public:
  // Starts `argv` (argv[0] looked up in PATH) with `env` overrides, output to `log_path`.
  static Result<std::unique_ptr<ChildProcess>> Start(const std::vector<std::string>& argv,
                                                     const std::vector<std::string>& env,
                                                     const std::string& log_path);
  ~ChildProcess();  // SIGTERM, then SIGKILL if it does not end within 5 s
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits (5 s at most) for the process to end; true if it did.
  bool Stop(int sig);

 private:
  friend class XDesktop;  // adopts the Xvfb it spawns with an extra fd
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
};

class XDesktop {
 public:
  // `dir` holds the logs and screenshots. The desktop has one ordinary window, "xlogo",
  // managed by openbox, on top.
  static Result<std::unique_ptr<XDesktop>> Start(const std::string& dir);
  ~XDesktop();

  const std::string& display() const { return display_; }
  std::vector<std::string> Env() const { return {"DISPLAY=" + display_}; }

  // A client of this display (xlogo, preau-session...), stopped with the desktop.
  Result<ChildProcess*> Launch(const std::vector<std::string>& argv, const std::string& log);
  // Runs a tool on this display to its end (xdotool, import...).
  CommandResult Tool(const std::string& program, const std::vector<std::string>& args) const;

  // The name of the topmost viewable window (a frame's client's name for managed
  // windows), "" if none.
  std::string TopWindowName();
  // Windows with this name (WM_NAME) that are viewable.
  int CountViewable(const std::string& name);
  // Whether another client holds the keyboard / the pointer: tries to grab it.
  bool KeyboardGrabbedElsewhere();
  bool PointerGrabbedElsewhere();
  // A screenshot of the whole screen (light on dark, as the lock) read back with tesseract.
  std::string ReadScreen();
  // The same of one visible window of dark text on light (a message).
  std::string ReadWindow(const std::string& name);

 private:
  XDesktop() = default;
  std::string Read(const std::string& window, bool negate);
  std::string dir_;
  std::string display_;
  std::unique_ptr<ChildProcess> xvfb_;
  std::unique_ptr<ChildProcess> wm_;
  std::vector<std::unique_ptr<ChildProcess>> clients_;
  Display* dpy_ = nullptr;
  int shots_ = 0;
};

}  // namespace preau::testing
