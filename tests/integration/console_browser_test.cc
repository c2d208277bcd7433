// The teachers' console in a real browser: the real server with its console on HTTPS,
// 30 + 2 agents with the simulated platform over real mTLS, two teachers, the `preau`
// CLI for the sign-in links and the CLI's own lock figure, and Debian's Chromium driven
// by puppeteer-core (tests/browser/console.test.mjs, installed by `npm ci` into
// build/browser). The script asks this test to act on the fleet (a device goes offline,
// the server's clock moves past a link's 10 minutes, the teacher is revoked) through
// files in a folder; screenshots are kept in build/test-artefacts/console.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/files.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kClassA = "ecole-jaures/cm2-a";
constexpr const char* kClassB = "ecole-jaures/cm2-b";
constexpr int kDevicesA = 30;
constexpr int kDevicesB = 2;

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(ConsoleBrowserTest, LinkSignInLiveGridLockScopesAndRefusals) {
  if (access(kChromium, X_OK) != 0) {
    GTEST_SKIP() << kChromium << " is not installed (deploy/install-deps.sh --test installs it)";
  }
  const std::string browser_dir = std::string(PREAU_BINARY_DIR) + "/browser";
  ASSERT_TRUE(Exists(browser_dir + "/node_modules/puppeteer-core/package.json"))
      << "puppeteer-core is missing from " << browser_dir
      << ": the build runs `npm ci` there when npm is installed (deploy/install-deps.sh --test)";
  ASSERT_TRUE(Exists(browser_dir + "/console.test.mjs")) << "the build copies the script there";

  TempDir dir;
  // The server's clock, moved on by hand to expire a link; it starts at the real time,
  // which the agents use.
  ManualClock clock(Clock::System().NowUnixMs());
  TestServer server(dir.path(), &clock, "127.0.0.1:0");
  ASSERT_GT(server.console_port(), 0);
  server.CreateGroup(kClassA);
  server.CreateGroup(kClassB);
  std::string token_a = server.CreateToken(kClassA, kDevicesA);
  std::string token_b = server.CreateToken(kClassB, kDevicesB);
  std::string teacher_a = server.CreateOperator(dir.path(), "prof.a", v1::ROLE_TEACHER, {kClassA});
  server.CreateOperator(dir.path(), "prof.b", v1::ROLE_TEACHER, {kClassB});

  std::vector<std::unique_ptr<TestAgent>> agents;
  for (int i = 0; i < kDevicesA + kDevicesB; ++i) {
    bool in_a = i < kDevicesA;
    auto a = TestAgent::Start(server, dir / ("agent-" + std::to_string(i)),
                              in_a ? token_a : token_b, 100 + i);
    ASSERT_TRUE(a.ok()) << a.status().message();
    agents.push_back(std::move(a).value());
  }
  for (auto& a : agents) ASSERT_TRUE(a->WaitConnected());
  std::string offline_id = agents[0]->status().device_id;
  std::string moved_id = agents[1]->status().device_id;
  ASSERT_FALSE(offline_id.empty());
  ASSERT_FALSE(moved_id.empty());

  // The CLI's figure in the same run: the teacher's own `preau class lock`, then unlock.
  const std::vector<std::string> as_teacher = {"--credentials", teacher_a, "--server",
                                               server.address()};
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> all = as_teacher;
    all.insert(all.end(), args.begin(), args.end());
    return RunBinary("preau", all);
  };
  auto t0 = std::chrono::steady_clock::now();
  auto locked = cli({"class", "lock", kClassA, "--wait", "10s"});
  auto cli_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(locked.exit_code, 0) << locked.err;
  ASSERT_NE(locked.out.find("30/30 locked"), std::string::npos) << locked.out;
  ASSERT_EQ(cli({"class", "unlock", kClassA, "--wait", "10s"}).exit_code, 0);
  ASSERT_TRUE(WaitUntil([&] {
    for (const auto& d : server.Devices(kClassA)) {
      if (d.lock_state() != "unlocked") return false;
    }
    return true;
  }));

  // Two one-time links for teacher A, made by the admin with the CLI.
  auto link = [&] {
    auto r = RunBinary("preau", {"--credentials", server.data_dir() + "/admin.credentials",
                                 "--server", server.address(), "operators", "link", "prof.a"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("\u2580"), std::string::npos) << "a QR code is drawn: " << r.err;
    return Trim(r.out);
  };
  // Teacher B's console password, set by the admin with the CLI (read from stdin).
  const std::string password_b = "tableau-noir-42";
  auto set_password = RunTool(
      "sh", {"-c", "echo " + password_b + " | \"$0\" --credentials \"$1\" --server \"$2\" "
                   "operators password prof.b",
             std::string(PREAU_BINARY_DIR) + "/preau", server.data_dir() + "/admin.credentials",
             server.address()});
  ASSERT_EQ(set_password.exit_code, 0) << set_password.err;
  std::string link_1 = link();
  std::string link_2 = link();
  ASSERT_EQ(link_1.rfind("https://127.0.0.1:" + std::to_string(server.console_port()) +
                             "/connexion#", 0), 0u) << link_1;
  // A teacher may not make links.
  auto refused = RunBinary("preau", {"--credentials", teacher_a, "--server", server.address(),
                                     "operators", "link", "prof.a"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("may not manage operators"), std::string::npos) << refused.err;

  const std::string signals = dir / "signals";
  std::filesystem::create_directories(signals);
  const std::string artefacts = std::string(PREAU_BINARY_DIR) + "/test-artefacts/console";
  std::filesystem::create_directories(artefacts);
  for (const char* f : {"console-phone.png", "console-eni.png", "console-used-link.png",
                        "console-password-limit.png"}) {
    std::filesystem::remove(artefacts + "/" + f);
  }

  std::atomic<bool> finished{false};
  CommandResult result;
  std::thread node([&] {
    result = RunTool("node", {browser_dir + "/console.test.mjs"},
                     {"CONSOLE_URL=https://127.0.0.1:" + std::to_string(server.console_port()),
                      "LINK=" + link_1, "LINK_EXPIRING=" + link_2,
                      std::string("CLASS_A=") + kClassA, std::string("CLASS_B=") + kClassB,
                      "DEVICES_A=" + std::to_string(kDevicesA), "OFFLINE_ID=" + offline_id,
                      "MOVED_ID=" + moved_id,
                      "DEVICES_B=" + std::to_string(kDevicesB), "PASSWORD_B=" + password_b,
                      "CLI_LOCK_MS=" + std::to_string(cli_ms), "ARTEFACTS=" + artefacts,
                      "SIGNALS=" + signals, "SERVER_CERT=" + server.data_dir() + "/server.pem"});
    finished = true;
  });
  // What the script may ask for, in its order.
  auto serve = [&](const std::string& name, const std::function<void()>& act) {
    bool asked = WaitUntil([&] { return finished || Exists(signals + "/want-" + name); }, 90s);
    if (!asked || finished) return;
    act();
    ASSERT_TRUE(WriteFileAtomic(signals + "/done-" + name, "").ok());
  };
  serve("offline", [&] { agents[0].reset(); });
  auto admin_cli = [&](std::vector<std::string> args) {
    std::vector<std::string> all = {"--credentials", server.data_dir() + "/admin.credentials",
                                    "--server", server.address()};
    all.insert(all.end(), args.begin(), args.end());
    auto r = RunBinary("preau", all);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  };
  serve("move", [&] { admin_cli({"devices", "move", moved_id, "--group", kClassB}); });
  serve("retire", [&] { admin_cli({"devices", "retire", offline_id}); });
  serve("restart", [&] { server.Restart(); });
  serve("expire", [&] { clock.Advance(11 * 60 * 1000); });
  serve("revoke", [&] {
    auto r = RunBinary("preau", {"--credentials", server.data_dir() + "/admin.credentials",
                                 "--server", server.address(), "operators", "revoke", "prof.a"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  });
  serve("restart-again", [&] { server.Restart(); });
  node.join();
  std::printf("%s", result.out.c_str());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("all checks passed"), std::string::npos);
  // One audit for both front ends: the CLI's lock and the page's lock are the same
  // class.lock rows by the same teacher; sign-ins, links and refusals are there too.
  grpc::ClientContext actx;
  actx.set_deadline(std::chrono::system_clock::now() + 30s);
  v1::ListAuditResponse audit;
  ASSERT_TRUE(server.admin().ListAudit(&actx, v1::ListAuditRequest(), &audit).ok());
  int locks = 0, sign_ins = 0, links = 0, csrf = 0, refused_b = 0;
  for (const auto& e : audit.entries()) {
    if (e.actor() == "prof.a" && e.action() == "class.lock" && e.result() == "ok" &&
        e.target() == kClassA) {
      ++locks;
    }
    if (e.action() == "console.signin" && e.result() == "ok") ++sign_ins;
    if (e.action() == "operator.link" && e.result() == "ok") ++links;
    if (e.action() == "console.csrf" && e.actor() == "prof.a") ++csrf;
    if (e.actor() == "prof.a" && e.target() == kClassB && e.result() != "ok") ++refused_b;
  }
  EXPECT_EQ(locks, 2) << "the CLI's lock and the page's";
  EXPECT_EQ(sign_ins, 2) << "prof.a by link, prof.b by password";
  EXPECT_EQ(links, 2);
  EXPECT_EQ(csrf, 1);
  EXPECT_GE(refused_b, 2) << "the forged grid and lock of class B";

  for (const char* f : {"console-phone.png", "console-eni.png", "console-used-link.png"}) {
    auto png = ReadFile(artefacts + "/" + f);
    ASSERT_TRUE(png.ok()) << f;
    EXPECT_GT(png->size(), 10000u) << f;
    EXPECT_EQ(png->substr(1, 3), "PNG") << f;
  }
}

}  // namespace
}  // namespace preau::testing
