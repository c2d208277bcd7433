// Class control on a real X11 desktop: Xvfb with the openbox window manager, the real
// agent on the `linux` platform against the real server (mTLS, SQLite), the real
// `preau-session` program in that display, and the teacher's `preau` CLI. What a pupil
// sees is read back from a screenshot (tesseract); what a pupil tries is sent with
// xdotool; what holds is checked at the X server (stacking order, grabs). Beside the
// lock: messages, URLs opened in the session's browser, the Wi-Fi for an activity with
// the idle timer fed by the session's input, and usage from the session.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/core/standard_features.h"
#include "agent/platform/platform.h"
#include "common/clock.h"
#include "common/files.h"
#include "tests/support/harness.h"
#include "tests/support/x_desktop.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClass = "ville/jules-ferry/cm2-a";
constexpr const char* kLock = "preau-lock";

// What a test changes about a device.
struct DeviceSetup {
  std::vector<std::string> session_env;  // for preau-session (XDG folders of a browser)
  std::function<void(agent::LinuxCommands&)> commands;
  const Clock* clock = nullptr;  // the device's clock (null: the system's)
  bool quick = false;  // policy enforced, usage collected and reported every 200 ms
  int session_usage_every_ms = 0;  // preau-session's usage reports (0: its default)
};

// One pupil device: its own X desktop, its agent on the linux platform, its session program.
struct Device {
  DeviceSetup setup;
  std::string dir;
  std::unique_ptr<XDesktop> desktop;
  std::unique_ptr<TestAgent> agent;
  ChildProcess* session = nullptr;
  int sessions = 0;  // session programs started (each logs to its own file)

  std::string socket() const { return dir + "/session.sock"; }
  // The session locker the platform falls back to: a marker file stands in for logind,
  // which a test machine does not run.
  std::string fallback_marker() const { return dir + "/session-locker-locked"; }
  bool fallback_locked() const { return access(fallback_marker().c_str(), F_OK) == 0; }

  agent::Platform::LockCheck Check() { return agent->agent().platform().CheckLock(); }
  bool LockHolds() {
    return desktop->TopWindowName() == kLock && desktop->KeyboardGrabbedElsewhere() &&
           desktop->PointerGrabbedElsewhere();
  }
};

class DesktopLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    server_->CreateGroup(kClass);
    token_ = server_->CreateToken(kClass, 10);
    teacher_ = server_->CreateOperator(dir_.path(), "mme.martin", v1::ROLE_TEACHER, {kClass});
  }

  std::unique_ptr<Device> MakeDevice(const std::string& name, bool with_session = true,
                                     DeviceSetup setup = {}) {
    auto d = std::make_unique<Device>();
    d->setup = std::move(setup);
    d->dir = dir_ / name;
    // Reachable by another user, who must then be refused by the agent, not by the folder.
    EXPECT_EQ(chmod(dir_.path().c_str(), 0755), 0);
    EXPECT_EQ(mkdir(d->dir.c_str(), 0755), 0);
    auto desktop = XDesktop::Start(d->dir);
    EXPECT_TRUE(desktop.ok()) << desktop.status().message();
    if (!desktop.ok()) return nullptr;
    d->desktop = std::move(desktop).value();
    StartAgent(*d);
    if (with_session) StartSession(*d);
    return d;
  }

  void StartAgent(Device& d) {
    TestAgentOptions o;
    agent::LinuxCommands c;
    c.lock = "touch " + d.fallback_marker();
    c.unlock = "rm -f " + d.fallback_marker();
    c.is_locked = "test -e " + d.fallback_marker() + " && echo yes || echo no";
    c.wifi_on = c.wifi_off = c.wifi_state = c.open_url = "";
    if (d.setup.commands) d.setup.commands(c);
    agent::LinuxSessionOptions s;
    s.socket_path = d.socket();
    uid_t me = getuid();
    s.allow_peer = [me](uint32_t uid) {
      return uid == me ? "" : "uid " + std::to_string(uid) + " is not this desktop's user";
    };
    o.platform = agent::MakeLinuxPlatform(c, "/", s);
    o.clock = d.setup.clock;
    if (d.setup.quick) {
      o.add_features = [state = d.dir + "/state"](agent::Agent& a) {
        agent::FeatureOptions f;
        f.state_dir = state;
        f.policy_enforce_every = 200ms;
        f.usage_check_every = 200ms;
        agent::AddStandardFeatures(a, f);
      };
    }
    auto a = TestAgent::Start(*server_, d.dir + "/state", token_, std::move(o));
    ASSERT_TRUE(a.ok()) << a.status().message();
    d.agent = std::move(a).value();
    ASSERT_TRUE(d.agent->WaitConnected());
  }

  void StartSession(Device& d) {
    std::string log = "session-" + std::to_string(++d.sessions) + ".log";
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), d.setup.session_env.begin(), d.setup.session_env.end());
    argv.insert(argv.end(), {std::string(PREAU_BINARY_DIR) + "/preau-session", "--socket",
                             d.socket()});
    if (d.setup.quick) argv.insert(argv.end(), {"--usage-every", "200"});
    if (d.setup.session_usage_every_ms != 0) {
      argv.insert(argv.end(), {"--usage-every", std::to_string(d.setup.session_usage_every_ms)});
    }
    auto s = d.desktop->Launch(argv, log);
    ASSERT_TRUE(s.ok()) << s.status().message();
    d.session = *s;
    // Connected to the agent (its log says so) before the test goes on.
    ASSERT_TRUE(WaitUntil([&] {
      auto text = ReadFile(d.dir + "/" + log);
      return text.ok() && text->find("connected to the agent") != std::string::npos;
    }));
  }

  // The CLI as the server's first administrator.
  CommandResult Admin(std::vector<std::string> args) {
    args.insert(args.end(), {"--credentials", server_->data_dir() + "/admin.credentials",
                             "--server", server_->address()});
    return RunBinary("preau", args);
  }

  CommandResult Class(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"class"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--credentials", teacher_, "--server", server_->address()});
    return RunBinary("preau", argv);
  }

  // The lock state the server holds for the (single) device of the class.
  std::string LockState() {
    auto devices = server_->Devices(kClass);
    return devices.size() == 1 ? devices[0].lock_state() : "(not one device)";
  }
  // A pupil's use of the desktop: xlogo in front, the mouse moved; true once preau-session
  // reported the input to the agent.
  bool UseXlogo(Device& d) {
    d.desktop->Tool("xdotool", {"search", "--name", "xlogo", "windowactivate", "--sync"});
    uint64_t before = d.agent->agent().platform().UserActivityCount();
    d.desktop->Tool("xdotool", {"mousemove", "30", "30", "mousemove", "60", "50"});
    return WaitUntil([&] { return d.agent->agent().platform().UserActivityCount() > before; });
  }
  // Whether the server's usage report has screen minutes for device `id` (the report in
  // `usage`).
  bool ScreenMinutesReported(const std::string& id, std::string* usage) {
    *usage = Admin({"report", "usage", "--since", "30d", "-o", "json"}).out;
    size_t at = usage->find(id);
    size_t screen = usage->find("\"screen_on_minutes\": ", at);
    return at != std::string::npos && screen != std::string::npos &&
           usage->compare(screen + 21, 2, "0,") != 0 && usage->compare(screen + 21, 1, "0") != 0;
  }
  // A device clock ten days back: its days end (and are reported) as a test moves it,
  // while staying before the server's date.
  static int64_t TenDaysAgo() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count() -
           10 * 86'400'000LL;
  }
  // Likewise for a teacher's focus ("held", "not held: why", "").
  std::string FocusState() {
    auto devices = server_->Devices(kClass);
    return devices.size() == 1 ? devices[0].focus_state() : "(not one device)";
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::string token_, teacher_;
};

TEST_F(DesktopLockTest, LockShowsTheMessageAndHoldsAgainstThePupil) {
  auto d = MakeDevice("d1");
  ASSERT_TRUE(d);
  auto r = Class({"lock", kClass, "--message", "Regardez le tableau", "--for", "45m"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1/1 locked"), std::string::npos) << r.out;
  // Acked DONE means verified at the X server, at once.
  EXPECT_TRUE(d->Check().verified) << d->Check().reason;
  EXPECT_TRUE(d->LockHolds());
  EXPECT_FALSE(d->fallback_locked()) << "the session locker was used although the lock is verified";

  std::string screen = d->desktop->ReadScreen();
  EXPECT_NE(screen.find("Regardez le tableau"), std::string::npos) << screen;
  // The end time's line, "Jusqu'à HH:MM", under the message (tesseract reads the digits
  // of the enlarged font unreliably, so only the line is looked for).
  size_t message_at = screen.find("Regardez le tableau");
  EXPECT_TRUE(message_at != std::string::npos &&
              screen.find("qu'", message_at) != std::string::npos)
      << "no end time on screen:\n" << screen;

  // What a pupil tries: window-manager shortcuts, raising, minimising and closing the lock,
  // raising their own window, opening a new one.
  for (const char* keys : {"alt+F4", "alt+Tab", "ctrl+alt+BackSpace", "super", "ctrl+Escape",
                           "alt+ctrl+Left", "Escape"}) {
    d->desktop->Tool("xdotool", {"key", keys});
  }
  d->desktop->Tool("xdotool", {"search", "--name", "xlogo", "windowactivate", "windowraise"});
  d->desktop->Tool("xdotool", {"search", "--name", kLock, "windowminimize"});
  d->desktop->Tool("xdotool", {"search", "--name", kLock, "windowunmap"});
  d->desktop->Tool("xdotool", {"search", "--name", kLock, "windowclose"});
  ASSERT_TRUE(d->desktop->Launch({"xlogo", "-name", "new-window"}, "xlogo2.log").ok());
  ASSERT_TRUE(WaitUntil([&] {
    return d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", "new-window"})
               .exit_code == 0;
  }));
  // The lock is on top with both grabs, and verified, after all of that.
  EXPECT_TRUE(WaitUntil([&] { return d->LockHolds() && d->Check().verified; }))
      << "top window: " << d->desktop->TopWindowName() << "; " << d->Check().reason;
  screen = d->desktop->ReadScreen();
  EXPECT_NE(screen.find("Regardez le tableau"), std::string::npos) << screen;

  // Unlock: the desktop is the pupil's again.
  r = Class({"unlock", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1/1 unlocked"), std::string::npos) << r.out;
  EXPECT_EQ(d->desktop->CountViewable(kLock), 0);
  EXPECT_FALSE(d->desktop->KeyboardGrabbedElsewhere());
  EXPECT_FALSE(d->desktop->PointerGrabbedElsewhere());
  EXPECT_NE(d->desktop->TopWindowName(), kLock);
  EXPECT_FALSE(d->Check().locked);
}

TEST_F(DesktopLockTest, AKilledSessionIsUnverifiedThenLockedAgainWithinTwoSeconds) {
  auto d = MakeDevice("d1");
  ASSERT_TRUE(d);
  auto r = Class({"lock", kClass, "--message", "Pause"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(d->Check().verified);

  ASSERT_TRUE(d->session->Stop(SIGKILL));
  // The X server took the window with the program: the agent knows it is not proven any
  // more and asks the session locker instead.
  EXPECT_TRUE(WaitUntil(
      [&] { return d->Check().locked && !d->Check().verified && d->fallback_locked(); }));
  EXPECT_NE(d->Check().reason.find("no preau-session"), std::string::npos) << d->Check().reason;
  EXPECT_NE(d->desktop->TopWindowName(), kLock);
  // ... and the server hears it: `devices show` says the lock is unverified.
  EXPECT_TRUE(WaitUntil([&] { return LockState().rfind("unverified: no preau-session", 0) == 0; }))
      << LockState();

  auto restarted = std::chrono::steady_clock::now();
  StartSession(*d);
  ASSERT_TRUE(WaitUntil([&] { return d->LockHolds() && d->Check().verified; }, 10s));
  auto took = std::chrono::steady_clock::now() - restarted;
  EXPECT_LT(took, 2s) << "the lock came back after "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
  EXPECT_TRUE(WaitUntil([&] { return LockState() == "locked"; })) << LockState();
}

TEST_F(DesktopLockTest, TheLockHoldsThroughAnAgentRestart) {
  auto d = MakeDevice("d1");
  ASSERT_TRUE(d);
  auto r = Class({"lock", kClass, "--message", "Pause"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  d->agent.reset();
  // Without its agent the session keeps the lock.
  EXPECT_TRUE(d->LockHolds());
  StartAgent(*d);
  EXPECT_TRUE(WaitUntil([&] { return d->Check().verified; })) << d->Check().reason;
  EXPECT_TRUE(d->LockHolds());
  r = Class({"unlock", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(d->desktop->CountViewable(kLock), 0);
}

TEST_F(DesktopLockTest, TheLockEndsOnTheDevicesClock) {
  auto d = MakeDevice("d1");
  ASSERT_TRUE(d);
  auto start = std::chrono::steady_clock::now();
  auto r = Class({"lock", kClass, "--message", "Pause", "--for", "3s"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(d->LockHolds());
  ASSERT_TRUE(WaitUntil([&] { return d->desktop->CountViewable(kLock) == 0; }, 15s));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2900ms);
  EXPECT_FALSE(d->desktop->KeyboardGrabbedElsewhere());
}

TEST_F(DesktopLockTest, AClassCountsOnlyVerifiedLocks) {
  auto d1 = MakeDevice("d1");
  auto d2 = MakeDevice("d2");
  auto d3 = MakeDevice("d3", /*with_session=*/false);  // nobody logged in graphically
  ASSERT_TRUE(d1 && d2 && d3);
  auto r = Class({"lock", kClass, "--message", "Pause"});
  EXPECT_NE(r.out.find("2/3 locked"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("unverified: no preau-session"), std::string::npos) << r.out;
  EXPECT_TRUE(d1->LockHolds());
  EXPECT_TRUE(d2->LockHolds());
  EXPECT_TRUE(d3->fallback_locked());

  // The third pupil's session starts: it is locked at once, and the next lock counts it.
  StartSession(*d3);
  EXPECT_TRUE(WaitUntil([&] { return d3->LockHolds() && d3->Check().verified; }));
  r = Class({"lock", kClass, "--message", "Pause"});
  EXPECT_NE(r.out.find("3/3 locked"), std::string::npos) << r.out << r.err;
}

TEST_F(DesktopLockTest, TheSessionSocketRefusesAnotherUser) {
  auto d = MakeDevice("d1", /*with_session=*/false);
  ASSERT_TRUE(d);
  // Another local user (nobody) speaks to the socket: refused, with the reason.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, d->socket().c_str(), sizeof addr.sun_path - 1);
    if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(4);
    const char hello[] = "hello 1\nlock verified\n";
    (void)!send(s, hello, sizeof hello - 1, MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = read(s, buf, sizeof buf);
    if (n > 0) (void)!write(fds[1], buf, static_cast<size_t>(n));
    _exit(0);
  }
  close(fds[1]);
  std::string answer;
  char buf[256];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child exit " << status;
  EXPECT_EQ(answer, "refused uid 65534 is not this desktop's user\n");
  // Its word counts for nothing: a lock is not verified by it.
  auto r = Class({"lock", kClass, "--message", "Pause"});
  EXPECT_NE(r.out.find("0/1 locked"), std::string::npos) << r.out << r.err;
  EXPECT_FALSE(d->Check().verified);
}


// What a teacher may not send to the screens: refused by the server with the reason, nothing
// sent to the devices, and the refusal audited under the teacher's name.
TEST_F(DesktopLockTest, BadLockMessagesAreRefusedAndAudited) {
  auto d = MakeDevice("d1");
  ASSERT_TRUE(d);
  auto r = Class({"lock", kClass, "--message", std::string("Regardez\x1b[2Jle tableau")});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("--message: control character U+001B at byte 8"),
            std::string::npos) << r.err;
  r = Class({"lock", kClass, "--message", std::string(501, 'a')});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("--message is longer than 500 bytes (501)"), std::string::npos) << r.err;
  r = Class({"focus", kClass, "--url", "file:///etc/shadow"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("expected an http:// or https:// address"), std::string::npos) << r.err;
  EXPECT_EQ(d->desktop->CountViewable(kLock), 0) << "a refused lock reached the device";

  grpc::ClientContext ctx;
  v1::ListAuditResponse audit;
  ASSERT_TRUE(server_->admin().ListAudit(&ctx, v1::ListAuditRequest(), &audit).ok());
  int refused = 0;
  for (const auto& e : audit.entries()) {
    refused += (e.action() == "class.lock" || e.action() == "class.focus") &&
               e.actor() == "mme.martin" && e.result() != "ok";
  }
  EXPECT_EQ(refused, 3);
}


TEST_F(DesktopLockTest, AMessageStaysOnScreenUntilThePupilDismissesIt) {
  auto d = MakeDevice("d1");
  auto bare = MakeDevice("d2", /*with_session=*/false);
  ASSERT_TRUE(d && bare);
  auto r = Class({"message", kClass, "--text", "Rangez vos affaires"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Shown where the session showed it; the device without a session says why not.
  EXPECT_NE(r.out.find("1/2 shown"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("message: no preau-session is running"), std::string::npos) << r.out;
  auto visible = [&] {
    return d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", "Message de"})
               .exit_code == 0;
  };
  ASSERT_TRUE(visible()) << "acked shown, but no message window";
  std::string screen = d->desktop->ReadWindow("Message de");
  EXPECT_NE(screen.find("Rangez vos affaires"), std::string::npos) << screen;
  std::string id = d->agent->agent().device_id();
  auto dismissed = [&] {
    for (const auto& dev : server_->Devices(kClass)) {
      if (dev.id() == id) return dev.dismissed_message();
    }
    return std::string("(no device)");
  };
  EXPECT_EQ(dismissed(), "") << "dismissed before the pupil did anything";
  // It stays until the pupil dismisses it (Enter on it); the server hears who dismissed it.
  d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", "Message de",
                               "windowactivate", "--sync", "key", "Return"});
  EXPECT_TRUE(WaitUntil([&] { return !visible(); }));
  EXPECT_TRUE(WaitUntil([&] { return dismissed() == "Rangez vos affaires"; })) << dismissed();
  auto shown = Admin({"devices", "show", id, "-o", "json"});
  EXPECT_NE(shown.out.find("\"dismissed_message\": \"Rangez vos affaires\""), std::string::npos)
      << shown.out;
  EXPECT_EQ(shown.out.find("\"dismissed_at\": null"), std::string::npos) << shown.out;
  // The device without a session dismissed nothing.
  for (const auto& dev : server_->Devices(kClass)) {
    if (dev.id() != id) EXPECT_EQ(dev.dismissed_message(), "");
  }

  r = Class({"message", kClass, "--text", "Bonjour\tla classe"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("--text: control character U+0009 at byte 7"), std::string::npos)
      << r.err;
  r = Class({"message", kClass, "--text", std::string(501, 'a')});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("--text is longer than 500 bytes (501)"), std::string::npos) << r.err;
  EXPECT_FALSE(visible()) << "a refused message reached the device";
}

// A browser for the session: the default handler of http(s) URLs in the session's own
// XDG folders, which xdg-open follows. It shows a window titled with the URL it was given.
DeviceSetup WithBrowser(const std::string& dir) {
  std::string data = dir + "/xdg-data", config = dir + "/xdg-config";
  EXPECT_EQ(mkdir(data.c_str(), 0755), 0);
  EXPECT_EQ(mkdir((data + "/applications").c_str(), 0755), 0);
  EXPECT_EQ(mkdir(config.c_str(), 0755), 0);
  EXPECT_TRUE(WriteFileAtomic(data + "/applications/preau-test-browser.desktop",
                              "[Desktop Entry]\nType=Application\nName=Navigateur de test\n"
                              "Exec=xlogo -title %u\n"
                              "MimeType=x-scheme-handler/http;x-scheme-handler/https;\n")
                  .ok());
  EXPECT_TRUE(WriteFileAtomic(config + "/mimeapps.list",
                              "[Default Applications]\n"
                              "x-scheme-handler/https=preau-test-browser.desktop\n"
                              "x-scheme-handler/http=preau-test-browser.desktop\n")
                  .ok());
  DeviceSetup s;
  s.session_env = {"XDG_DATA_HOME=" + data, "XDG_CONFIG_HOME=" + config};
  return s;
}

TEST_F(DesktopLockTest, OpenRunsTheSessionsBrowser) {
  auto d = MakeDevice("d1", true, WithBrowser(dir_.path()));
  auto bare = MakeDevice("d2", /*with_session=*/false);
  ASSERT_TRUE(d && bare);
  const std::string url = "https://exemple.fr/lecon-3";
  auto r = Class({"open", kClass, "--url", url});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1/2 opened"), std::string::npos) << r.out;
  // The agent (root, no display) did not open it itself: the device without a session
  // says so rather than pretend.
  EXPECT_NE(r.out.find("open: no preau-session is running"), std::string::npos) << r.out;
  // Acked done: the session's browser has a window on that URL.
  EXPECT_EQ(d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", url}).exit_code, 0)
      << "acked opened, but no browser window for " << url;
  EXPECT_EQ(bare->desktop->Tool("xdotool", {"search", "--name", url}).exit_code, 1);
}

// The radio of a device in a test: a link (one end of a veth pair) in a network namespace
// of its own, administratively up for "on". The platform switches it through its command hooks and reads it back; the test
// reads it with ip. Every switch is logged, so a test can wait for passes of the policy.
class Radio {
 public:
  explicit Radio(const std::string& dir)
      : ns_("preau-radio-" + std::to_string(getpid()) + "-" + std::to_string(++count_)),
        log_(dir + "/radio.log") {
    EXPECT_EQ(RunTool("ip", {"netns", "add", ns_}).exit_code, 0);
    EXPECT_EQ(RunTool("ip", {"-n", ns_, "link", "add", "wl0", "type", "veth", "peer", "name",
                             "wl0-peer"}).exit_code,
              0);
    EXPECT_EQ(RunTool("ip", {"-n", ns_, "link", "set", "wl0", "up"}).exit_code, 0);
  }
  ~Radio() { RunTool("ip", {"netns", "del", ns_}); }
  void Configure(agent::LinuxCommands& c) const {
    c.wifi_on = "ip -n " + ns_ + " link set wl0 up && echo on >> " + log_;
    c.wifi_off = "ip -n " + ns_ + " link set wl0 down && echo off >> " + log_;
    c.wifi_state = "ip -n " + ns_ + " -o link show wl0 | grep -q '[<,]UP[,>]' && echo enabled "
                   "|| echo disabled";
  }
  bool Up() const {
    auto r = RunTool("ip", {"-n", ns_, "-o", "link", "show", "wl0"});
    return r.exit_code == 0 && (r.out.find("<UP") != std::string::npos ||
                                r.out.find(",UP") != std::string::npos);
  }
  size_t Switches() const {
    auto text = ReadFile(log_);
    return text.ok() ? static_cast<size_t>(std::count(text->begin(), text->end(), '\n')) : 0;
  }

 private:
  static inline int count_ = 0;
  std::string ns_, log_;
};

// loi Abeille: the Wi-Fi is off; a teacher switches it on for an activity; it stays on
// while the pupils use the device (input reported by preau-session) and goes off after
// the policy's idle minute without input.
TEST_F(DesktopLockTest, WifiForAnActivityFollowsTheSessionsInput) {
  Radio radio(dir_.path());
  ManualClock clock(std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count());
  DeviceSetup setup;
  setup.commands = [&radio](agent::LinuxCommands& c) { radio.Configure(c); };
  setup.clock = &clock;
  setup.quick = true;
  auto d = MakeDevice("d1", true, setup);
  ASSERT_TRUE(d);
  ASSERT_TRUE(WriteFileAtomic(dir_ / "wifi.yaml", "name: cm2-wifi\ntimezone: Europe/Paris\n"
                                                 "wifi:\n  mode: always_off\n"
                                                 "  teacher_demand: true\n"
                                                 "  idle_off_minutes: 1\n")
                  .ok());
  auto r = Admin({"policy", "apply", dir_ / "wifi.yaml", "--group", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitUntil([&] { return !radio.Up(); })) << "the policy did not switch it off";

  r = Class({"wifi", kClass, "--on", "--for", "45m"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1/1 Wi-Fi on"), std::string::npos) << r.out;
  EXPECT_TRUE(radio.Up()) << "acked on, but the radio is down";

  // 50 s later a pupil uses the device; 40 s after that (90 s after the demand) the
  // radio is still on, because the idle minute counts from the input.
  clock.Advance(50'000);
  uint64_t before = d->agent->agent().platform().UserActivityCount();
  d->desktop->Tool("xdotool", {"mousemove", "40", "40", "mousemove", "80", "60"});
  ASSERT_TRUE(WaitUntil(
      [&] { return d->agent->agent().platform().UserActivityCount() > before; }))
      << "preau-session reported no input";
  clock.Advance(40'000);
  size_t switches = radio.Switches();
  // Two passes of the policy after the clock moved (the first may have begun before).
  ASSERT_TRUE(WaitUntil([&] { return radio.Switches() >= switches + 2; }));
  EXPECT_TRUE(radio.Up()) << "switched off although the pupils used the device 40 s ago";

  // No input for the idle minute: off.
  clock.Advance(21'000);
  EXPECT_TRUE(WaitUntil([&] { return !radio.Up(); })) << "still on after an idle minute";

  // Bad input: on without a duration, both ways at once.
  r = Class({"wifi", kClass, "--on"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--for"), std::string::npos) << r.err;
  r = Class({"wifi", kClass, "--on", "--off", "--for", "10m"});
  EXPECT_NE(r.exit_code, 0);
  r = Class({"wifi", kClass, "--off"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1/1 Wi-Fi back to the policy"), std::string::npos) << r.out;
}

// Usage of a Linux device comes from its session: the app in front (its window class) and
// the time the screen was in use, in the server's usage report and the device's export.
TEST_F(DesktopLockTest, UsageComesFromTheSession) {
  // The device lives ten days ago, so that its days end (and are reported) as the test
  // moves its clock, while staying before the server's date.
  ManualClock clock(TenDaysAgo());
  DeviceSetup setup;
  setup.clock = &clock;
  setup.quick = true;
  auto d = MakeDevice("d1", true, setup);
  ASSERT_TRUE(d);
  std::string id = d->agent->agent().device_id();
  ASSERT_TRUE(UseXlogo(*d)) << "preau-session reported no input";

  // Day after day until the server has the day the pupil used xlogo.
  std::string usage;
  ASSERT_TRUE(WaitUntil(
      [&] {
        clock.Advance(86'400'000);
        return ScreenMinutesReported(id, &usage);
      },
      30s))
      << usage;
  auto exported = Admin({"devices", "export", id});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.out.find("XLogo"), std::string::npos) << exported.out;
}


// What the session reported is kept through an agent stop (the agent collects it as it
// stops, rather than at its next check) and reported once its day has ended.
TEST_F(DesktopLockTest, UsageReportedBeforeAnAgentStopIsKept) {
  ManualClock clock(TenDaysAgo());
  DeviceSetup setup;
  setup.clock = &clock;
  setup.session_usage_every_ms = 200;  // the agent collects only every minute
  auto d = MakeDevice("d1", true, setup);
  ASSERT_TRUE(d);
  std::string id = d->agent->agent().device_id();
  ASSERT_TRUE(UseXlogo(*d)) << "preau-session reported no input";
  d->agent.reset();
  // A day later the agent starts again and reports the ended day.
  clock.Advance(86'400'000);
  StartAgent(*d);
  std::string usage;
  EXPECT_TRUE(WaitUntil(
      [&] {
        return ScreenMinutesReported(id, &usage);
      },
      30s))
      << usage;
}

// The app in front, for the teacher's console: preau-session says which window class is
// active when it changes, the agent passes it on, the server keeps it with the connection
// (`devices show`); nothing is in front of the lock; a window's title never leaves.
TEST_F(DesktopLockTest, TheAppInFrontReachesTheServerWhenItChanges) {
  auto d = MakeDevice("d1");
  ASSERT_TRUE(d);
  std::string id = d->agent->agent().device_id();
  std::string shown;
  auto in_front = [&](const std::string& json) {
    return WaitUntil([&] {
      auto r = Admin({"devices", "show", id, "-o", "json"});
      shown = r.out;
      return r.exit_code == 0 && r.out.find("\"foreground_app\": " + json) != std::string::npos;
    });
  };
  d->desktop->Tool("xdotool", {"search", "--name", "xlogo", "windowactivate", "--sync"});
  EXPECT_TRUE(in_front("\"XLogo\"")) << shown;

  // xcalc takes the keyboard (openbox activates it); its window's title is "Calculator".
  ASSERT_TRUE(d->desktop->Launch({"xcalc"}, "xcalc.log").ok());
  ASSERT_TRUE(WaitUntil([&] {
    return d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--class", "XCalc"})
               .exit_code == 0;
  }));
  d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--class", "XCalc", "windowactivate",
                               "--sync"});
  EXPECT_TRUE(in_front("\"XCalc\"")) << shown;

  auto r = Class({"lock", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(in_front("null")) << "nothing is in front of the lock: " << shown;
  r = Class({"unlock", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(in_front("\"XCalc\"")) << shown;
  EXPECT_EQ(shown.find("Calculator"), std::string::npos) << "a window's title reached the server";

  // The server forgets it with the connection.
  d->agent.reset();
  EXPECT_TRUE(in_front("null")) << shown;
}

// A teacher's focus on one app: the other apps' windows are iconified and stay so whatever
// the pupil tries, until the focus ends.
TEST_F(DesktopLockTest, FocusKeepsOnlyTheAppInFront) {
  auto d = MakeDevice("d1");
  ASSERT_TRUE(d);
  ASSERT_TRUE(d->desktop->Launch({"xclock", "-name", "autre-appli"}, "xclock.log").ok());
  auto visible = [&](const std::string& name) {
    return d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", name}).exit_code == 0;
  };
  auto active = [&] {
    auto r = d->desktop->Tool("xdotool", {"getactivewindow", "getwindowname"});
    std::string name = r.exit_code == 0 ? r.out : "";
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    return name;
  };
  ASSERT_TRUE(WaitUntil([&] { return visible("autre-appli"); }));

  auto r = Class({"focus", kClass, "--app", "xlogo"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1/1 focused"), std::string::npos) << r.out;
  // Done means verified at the X server: xlogo active, the other app not shown.
  EXPECT_FALSE(visible("autre-appli"));
  EXPECT_EQ(active(), "xlogo");

  // The pupil restores and raises the other app, then opens a new one.
  d->desktop->Tool("xdotool", {"search", "--name", "autre-appli", "windowmap", "windowactivate"});
  ASSERT_TRUE(d->desktop->Launch({"xeyes", "-name", "nouvelle"}, "xeyes.log").ok());
  EXPECT_TRUE(WaitUntil([&] {
    return d->desktop->Tool("xdotool", {"search", "--name", "nouvelle"}).exit_code == 0 &&
           !visible("nouvelle") && !visible("autre-appli") && active() == "xlogo";
  })) << "active: " << active();

  // Unlock ends the focus: a window opened now stays.
  r = Class({"unlock", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(d->desktop->Launch({"xclock", "-name", "apres"}, "xclock2.log").ok());
  EXPECT_TRUE(WaitUntil([&] { return visible("apres"); }));

  // A focus on an app this device does not have is not pretended.
  r = Class({"focus", kClass, "--app", "fr.lumni.app"});
  EXPECT_NE(r.out.find("0/1 focused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no application 'fr.lumni.app' on this device"), std::string::npos)
      << r.out;
}

// Applications of the session's menus: .desktop files in an XDG data folder of the test.
DeviceSetup WithApps(const std::string& dir) {
  std::string data = dir + "/xdg-apps";
  EXPECT_EQ(mkdir(data.c_str(), 0755), 0);
  EXPECT_EQ(mkdir((data + "/applications").c_str(), 0755), 0);
  // Its window is known by StartupWMClass (the xlogo already open is another app); %U is
  // dropped, the quoted title kept whole.
  EXPECT_TRUE(WriteFileAtomic(data + "/applications/fr.preau.regard.desktop",
                              "[Desktop Entry]\nType=Application\nName=Regard\n"
                              "Exec=xlogo -name regard -title \"Regard de classe\" %U\n"
                              "StartupWMClass=regard\n")
                  .ok());
  DeviceSetup s;
  s.session_env = {"XDG_DATA_DIRS=" + data + ":/usr/share"};
  return s;
}

// The string of a tool's answer without its line end.
std::string Line(const CommandResult& r) {
  std::string s = r.exit_code == 0 ? r.out : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A focus on an app that is not running launches it (as the pupil, from its .desktop
// file), is done once its window is the active one, and stays held: the pupil closing the
// app makes the device report the focus not held, and the agent launches it again.
TEST_F(DesktopLockTest, FocusLaunchesTheAppAndKeepsItThroughItsClosing) {
  auto d = MakeDevice("d1", true, WithApps(dir_.path()));
  ASSERT_TRUE(d);
  auto& platform = d->agent->agent().platform();
  auto visible = [&](const std::string& name) {
    return d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", name}).exit_code == 0;
  };
  auto active = [&] { return Line(d->desktop->Tool("xdotool", {"getactivewindow", "getwindowname"})); };
  ASSERT_FALSE(visible("Regard de classe"));

  auto r = Class({"focus", kClass, "--app", "fr.preau.regard", "--wait", "30s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1/1 focused"), std::string::npos) << r.out;
  EXPECT_EQ(active(), "Regard de classe");
  EXPECT_FALSE(visible("xlogo")) << "the other app is still shown";
  EXPECT_EQ(platform.WhyFocusNotHeld(), "");
  EXPECT_TRUE(WaitUntil([&] { return FocusState() == "held"; })) << FocusState();

  // The pupil closes the app: the device says the focus does not hold, then launches the
  // app again and says it holds.
  std::string first = Line(d->desktop->Tool("xdotool", {"search", "--name", "Regard de classe"}));
  ASSERT_FALSE(first.empty());
  d->desktop->Tool("xdotool", {"windowkill", first});
  // The server hears it: the focus is not held, and why (reported before it is restored).
  std::string why;
  ASSERT_TRUE(WaitUntil([&] { return (why = FocusState()).rfind("not held: ", 0) == 0; }, 15s))
      << why;
  EXPECT_TRUE(why.find("xlogo") != std::string::npos ||
              why.find("no window of") != std::string::npos) << why;
  auto shown = Admin({"devices", "show", d->agent->agent().device_id(), "-o", "json"});
  EXPECT_TRUE(shown.out.find("\"focus\": \"not held\"") != std::string::npos ||
              shown.out.find("\"focus\": \"held\"") != std::string::npos) << shown.out;
  EXPECT_TRUE(WaitUntil([&] {
    return platform.WhyFocusNotHeld().empty() && active() == "Regard de classe" &&
           FocusState() == "held";
  }, 20s)) << platform.WhyFocusNotHeld() << "; server: " << FocusState() << "; active: " << active();
  // Launched twice by the session (X may give the new window the old one's id).
  auto log = ReadFile(d->dir + "/session-1.log");
  ASSERT_TRUE(log.ok());
  size_t launches = 0;
  for (size_t at = 0; (at = log->find("launched fr.preau.regard", at)) != std::string::npos; ++at) {
    ++launches;
  }
  EXPECT_EQ(launches, 2u) << *log;
  EXPECT_FALSE(visible("xlogo"));

  // Unlock ends the focus; the launched app stays (the pupil's work), the rest is usable.
  r = Class({"unlock", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  d->desktop->Tool("xdotool", {"search", "--name", "xlogo", "windowmap", "windowactivate"});
  EXPECT_TRUE(WaitUntil([&] { return visible("xlogo") && active() == "xlogo"; }))
      << "active: " << active();
  EXPECT_TRUE(visible("Regard de classe"));
  EXPECT_TRUE(WaitUntil([&] { return FocusState() == ""; })) << FocusState();
}


// In a Wayland session preau-session sees only XWayland: it never claims a lock or a focus.
TEST_F(DesktopLockTest, OnWaylandTheLockIsUnverified) {
  DeviceSetup wayland;
  wayland.session_env = {"XDG_SESSION_TYPE=wayland", "WAYLAND_DISPLAY=wayland-0"};
  auto d = MakeDevice("d1", true, wayland);
  ASSERT_TRUE(d);
  auto r = Class({"lock", kClass, "--message", "Pause"});
  EXPECT_NE(r.out.find("0/1 locked"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unverified: a Wayland session"), std::string::npos) << r.out;
  EXPECT_TRUE(WaitUntil([&] { return LockState().rfind("unverified: a Wayland session", 0) == 0; }))
      << LockState();
  r = Class({"focus", kClass, "--app", "xlogo"});
  EXPECT_NE(r.out.find("0/1 focused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a Wayland session"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace preau::testing

namespace preau::testing {
namespace {

// A focus on a URL: the installed browser (Chromium here) in kiosk mode on it, in front,
// every other app iconified; done only once verified.
TEST_F(DesktopLockTest, FocusOnAUrlRunsTheBrowserInKioskMode) {
  DeviceSetup setup;
  setup.session_env = {"HOME=" + dir_.path()};  // the kiosk profile goes there
  auto d = MakeDevice("d1", true, setup);
  ASSERT_TRUE(d);
  auto r = Class({"focus", kClass, "--url", "https://exemple.fr/lecon-4", "--wait", "40s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1/1 focused"), std::string::npos) << r.out;
  // The active window is one of the browser's (by its window class). Chromium maps its
  // window again as it goes full screen, so this is looked at until it settles.
  std::string active, browser;
  EXPECT_TRUE(WaitUntil([&] {
    active = d->desktop->Tool("xdotool", {"getactivewindow"}).out;
    browser = d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--class", "chromium"}).out;
    return !active.empty() && ("\n" + browser).find("\n" + active) != std::string::npos;
  }, 5s)) << "active " << active << " not among the browser's windows:\n" << browser;
  EXPECT_NE(d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", "xlogo"}).exit_code,
            0)
      << "xlogo is still shown beside the kiosk browser";

  // What the pupil tries while the focus holds: a new window, raising another one,
  // alt+tab, minimising the kiosk. The kiosk stays the active window, nothing else shown.
  auto kiosk_in_front = [&] {
    active = d->desktop->Tool("xdotool", {"getactivewindow"}).out;
    browser = d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--class", "chromium"}).out;
    return !active.empty() && ("\n" + browser).find("\n" + active) != std::string::npos &&
           d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", "xlogo"}).exit_code != 0 &&
           d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", "autre"}).exit_code != 0;
  };
  ASSERT_TRUE(d->desktop->Launch({"xclock", "-name", "autre"}, "xclock.log").ok());
  ASSERT_TRUE(WaitUntil([&] {
    return d->desktop->Tool("xdotool", {"search", "--name", "autre"}).exit_code == 0;
  }));
  d->desktop->Tool("xdotool", {"search", "--name", "xlogo", "windowmap", "windowactivate"});
  d->desktop->Tool("xdotool", {"key", "alt+Tab"});
  d->desktop->Tool("xdotool", {"getactivewindow", "windowminimize"});
  EXPECT_TRUE(WaitUntil(kiosk_in_front, 5s)) << "active " << active << " not among:\n" << browser;
  auto& platform = d->agent->agent().platform();
  EXPECT_EQ(platform.WhyFocusNotHeld(), "");

  // The kiosk browser is killed: the device says the focus does not hold, starts the
  // browser again, and says it holds once verified.
  std::string pid = Line(d->desktop->Tool("xdotool", {"getactivewindow", "getwindowpid"}));
  ASSERT_FALSE(pid.empty());
  ASSERT_EQ(kill(std::stoi(pid), SIGKILL), 0);
  std::string why;
  ASSERT_TRUE(WaitUntil([&] { return (why = FocusState()).rfind("not held: ", 0) == 0; }, 15s))
      << why;
  EXPECT_NE(why.find("kiosk browser"), std::string::npos) << why;
  EXPECT_TRUE(WaitUntil([&] {
    return platform.WhyFocusNotHeld().empty() && kiosk_in_front() && FocusState() == "held";
  }, 40s)) << platform.WhyFocusNotHeld() << "; server: " << FocusState();
  std::string again = Line(d->desktop->Tool("xdotool", {"getactivewindow", "getwindowpid"}));
  EXPECT_NE(again, pid) << "not a new browser";

  // The focus ends: no kiosk left, the desktop is the pupil's again.
  r = Class({"unlock", kClass});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // First the kiosk goes (its process group is ended), then the pupil brings their window
  // back: nothing iconifies it any more. In that order, so the pupil's action cannot race
  // the session still ending the focus.
  EXPECT_TRUE(WaitUntil([&] {
    return d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--class", "chromium"}).exit_code != 0;
  })) << "the kiosk browser is still shown after the unlock";
  d->desktop->Tool("xdotool", {"search", "--name", "autre", "windowmap", "windowactivate"});
  EXPECT_TRUE(WaitUntil([&] {
    return d->desktop->Tool("xdotool", {"search", "--onlyvisible", "--name", "autre"}).exit_code == 0;
  })) << "the pupil's window is not shown after the focus ended";
}

}  // namespace
}  // namespace preau::testing
