// The class lock on a real X11 desktop: Xvfb with the openbox window manager, the real
// agent on the `linux` platform against the real server (mTLS, SQLite), the real
// `preau-session` program in that display, and the teacher's `preau` CLI. What a pupil
// sees is read back from a screenshot (tesseract); what a pupil tries is sent with
// xdotool; what holds is checked at the X server (stacking order, grabs).
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "agent/platform/platform.h"
#include "common/files.h"
#include "tests/support/harness.h"
#include "tests/support/x_desktop.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClass = "ville/jules-ferry/cm2-a";
constexpr const char* kLock = "preau-lock";

// One pupil device: its own X desktop, its agent on the linux platform, its session program.
struct Device {
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

  std::unique_ptr<Device> MakeDevice(const std::string& name, bool with_session = true) {
    auto d = std::make_unique<Device>();
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
    c.wifi_on = c.wifi_off = c.open_url = "";
    agent::LinuxSessionOptions s;
    s.socket_path = d.socket();
    uid_t me = getuid();
    s.allow_peer = [me](uint32_t uid) {
      return uid == me ? "" : "uid " + std::to_string(uid) + " is not this desktop's user";
    };
    o.platform = agent::MakeLinuxPlatform(c, "/", s);
    auto a = TestAgent::Start(*server_, d.dir + "/state", token_, std::move(o));
    ASSERT_TRUE(a.ok()) << a.status().message();
    d.agent = std::move(a).value();
    ASSERT_TRUE(d.agent->WaitConnected());
  }

  void StartSession(Device& d) {
    std::string log = "session-" + std::to_string(++d.sessions) + ".log";
    auto s = d.desktop->Launch({std::string(PREAU_BINARY_DIR) + "/preau-session", "--socket",
                                d.socket()},
                               log);
    ASSERT_TRUE(s.ok()) << s.status().message();
    d.session = *s;
    // Connected to the agent (its log says so) before the test goes on.
    ASSERT_TRUE(WaitUntil([&] {
      auto text = ReadFile(d.dir + "/" + log);
      return text.ok() && text->find("connected to the agent") != std::string::npos;
    }));
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

}  // namespace
}  // namespace preau::testing

namespace preau::testing {
namespace {

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

}  // namespace
}  // namespace preau::testing
