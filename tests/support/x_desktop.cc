#include "tests/support/x_desktop.h"

#include <X11/Xatom.h>
#include <X11/Xlib.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace preau::testing {
namespace {

// Spawns argv with stdout and stderr to `log`, and `fd3` (if >= 0) as its fd 3.
Result<pid_t> Spawn(const std::vector<std::string>& argv_s, const std::vector<std::string>& env,
                    const std::string& log, int fd3) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  if (fd3 >= 0) posix_spawn_file_actions_adddup2(&fa, fd3, 3);
  std::vector<std::string> args = argv_s, env_s = ChildEnvironment(env);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Unavailable("cannot start " + argv_s[0]);
  return pid;
}

std::string WindowName(Display* dpy, Window w) {
  char* name = nullptr;
  std::string out;
  if (XFetchName(dpy, w, &name) && name) {
    out = name;
    XFree(name);
  }
  return out;
}

int IgnoreErrors(Display*, XErrorEvent*) { return 0; }

// The first name found in `w` or below it (a managed window sits inside its frame).
std::string NameBelow(Display* dpy, Window w, int depth) {
  std::string name = WindowName(dpy, w);
  if (!name.empty() || depth == 0) return name;
  Window root, parent, *children = nullptr;
  unsigned int n = 0;
  if (!XQueryTree(dpy, w, &root, &parent, &children, &n)) return "";
  for (unsigned int i = 0; i < n && name.empty(); ++i) name = NameBelow(dpy, children[i], depth - 1);
  if (children) XFree(children);
  return name;
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const std::vector<std::string>& argv,
                                                          const std::vector<std::string>& env,
                                                          const std::string& log_path) {
  auto pid = Spawn(argv, env, log_path, -1);
  if (!pid.ok()) return pid.status();
  return std::unique_ptr<ChildProcess>(new ChildProcess(*pid));
}

bool ChildProcess::Stop(int sig) {
  if (reaped_) return true;
  kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the exit, not syncing
  }
  return false;
}

ChildProcess::~ChildProcess() {
  if (!Stop(SIGTERM)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

Result<std::unique_ptr<XDesktop>> XDesktop::Start(const std::string& dir) {
  std::unique_ptr<XDesktop> d(new XDesktop());
  d->dir_ = dir;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Internal("pipe");
  // Xvfb picks a free display and writes its number on fd 3.
  auto pid = Spawn({"Xvfb", "-displayfd", "3", "-screen", "0", "1024x768x24", "-nolisten", "tcp",
                    "-ac"},
                   {}, dir + "/xvfb.log", fds[1]);
  close(fds[1]);
  if (!pid.ok()) {
    close(fds[0]);
    return pid.status();
  }
  d->xvfb_.reset(new ChildProcess(*pid));
  std::string number;
  pollfd p{fds[0], POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (number.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    if (poll(&p, 1, 200) <= 0) continue;
    char buf[16];
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    number.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  if (number.find('\n') == std::string::npos) return Unavailable("Xvfb did not start (see xvfb.log)");
  d->display_ = ":" + number.substr(0, number.find('\n'));
  d->dpy_ = XOpenDisplay(d->display_.c_str());
  if (!d->dpy_) return Unavailable("cannot open " + d->display_);
  XSetErrorHandler(IgnoreErrors);
  // The pupil's window is there before the window manager, which adopts it as it starts:
  // a window mapped while openbox is still starting may be left unmanaged.
  auto logo = d->Launch({"xlogo"}, "xlogo.log");
  if (!logo.ok()) return logo.status();
  if (!WaitUntil([&] { return d->CountViewable("xlogo") == 1; })) {
    return Unavailable("xlogo did not show on " + d->display_);
  }
  auto wm = ChildProcess::Start({"openbox"}, d->Env(), dir + "/openbox.log");
  if (!wm.ok()) return wm.status();
  d->wm_ = std::move(wm).value();
  // The window manager is up once it advertises itself on the root window.
  Atom check = XInternAtom(d->dpy_, "_NET_SUPPORTING_WM_CHECK", False);
  bool up = WaitUntil([&] {
    Atom type;
    int format;
    unsigned long n = 0, after;
    unsigned char* data = nullptr;
    XGetWindowProperty(d->dpy_, DefaultRootWindow(d->dpy_), check, 0, 1, False, XA_WINDOW, &type,
                       &format, &n, &after, &data);
    if (data) XFree(data);
    return n == 1;
  });
  if (!up) return Unavailable("openbox did not start on " + d->display_);
  // ... and manages the pupil's window (it sits in a frame, no longer on the root).
  if (!WaitUntil([&] { return d->CountViewable("xlogo") == 0 && d->TopWindowName() == "xlogo"; })) {
    return Unavailable("openbox did not manage the pupil's window on " + d->display_);
  }
  return d;
}

XDesktop::~XDesktop() {
  clients_.clear();
  wm_.reset();
  if (dpy_) XCloseDisplay(dpy_);
  xvfb_.reset();
}

Result<ChildProcess*> XDesktop::Launch(const std::vector<std::string>& argv,
                                       const std::string& log) {
  auto c = ChildProcess::Start(argv, Env(), dir_ + "/" + log);
  if (!c.ok()) return c.status();
  clients_.push_back(std::move(c).value());
  return clients_.back().get();
}

CommandResult XDesktop::Tool(const std::string& program,
                             const std::vector<std::string>& args) const {
  return RunTool(program, args, Env());
}

std::string XDesktop::TopWindowName() {
  Window root, parent, *children = nullptr;
  unsigned int n = 0;
  std::string name;
  if (!XQueryTree(dpy_, DefaultRootWindow(dpy_), &root, &parent, &children, &n)) return "";
  for (unsigned int i = n; i-- > 0;) {
    XWindowAttributes a;
    if (!XGetWindowAttributes(dpy_, children[i], &a) || a.map_state != IsViewable) continue;
    // A window manager keeps tiny or off-screen helper windows mapped: not what anyone sees.
    if (a.width <= 1 || a.height <= 1 || a.x + a.width <= 0 || a.y + a.height <= 0) continue;
    name = NameBelow(dpy_, children[i], 3);
    if (name.empty()) name = "(unnamed)";
    break;
  }
  if (children) XFree(children);
  return name;
}

int XDesktop::CountViewable(const std::string& name) {
  Window root, parent, *children = nullptr;
  unsigned int n = 0;
  int count = 0;
  if (!XQueryTree(dpy_, DefaultRootWindow(dpy_), &root, &parent, &children, &n)) return 0;
  for (unsigned int i = 0; i < n; ++i) {
    XWindowAttributes a;
    if (XGetWindowAttributes(dpy_, children[i], &a) && a.map_state == IsViewable &&
        WindowName(dpy_, children[i]) == name) {
      ++count;
    }
  }
  if (children) XFree(children);
  return count;
}

bool XDesktop::KeyboardGrabbedElsewhere() {
  int rc = XGrabKeyboard(dpy_, DefaultRootWindow(dpy_), False, GrabModeAsync, GrabModeAsync,
                         CurrentTime);
  if (rc == GrabSuccess) XUngrabKeyboard(dpy_, CurrentTime);
  XSync(dpy_, False);
  return rc == AlreadyGrabbed;
}

bool XDesktop::PointerGrabbedElsewhere() {
  int rc = XGrabPointer(dpy_, DefaultRootWindow(dpy_), False, ButtonPressMask, GrabModeAsync,
                        GrabModeAsync, None, None, CurrentTime);
  if (rc == GrabSuccess) XUngrabPointer(dpy_, CurrentTime);
  XSync(dpy_, False);
  return rc == AlreadyGrabbed;
}

std::string XDesktop::ReadScreen() { return Read("root", /*negate=*/true); }

std::string XDesktop::ReadWindow(const std::string& name) {
  CommandResult id = Tool("xdotool", {"search", "--onlyvisible", "--name", name});
  if (id.exit_code != 0) return "(no visible window named " + name + ")";
  return Read(id.out.substr(0, id.out.find('\n')), /*negate=*/false);
}

std::string XDesktop::Read(const std::string& window, bool negate) {
  std::string shot = dir_ + "/screen-" + std::to_string(++shots_) + ".png";
  // Dark text on light, read as one block: tesseract's page layout analysis drops lines of
  // light-on-dark text depending on what they say (a lock's end time made it lose every
  // line under the title at some hours of the day).
  std::vector<std::string> args = {"-window", window};
  if (negate) args.push_back("-negate");
  args.push_back(shot);
  CommandResult r = Tool("import", args);
  if (r.exit_code != 0) return "(screenshot failed: " + r.err + ")";
  CommandResult ocr = RunTool("tesseract", {shot, "stdout", "--psm", "6"});
  return ocr.out;
}

}  // namespace preau::testing
