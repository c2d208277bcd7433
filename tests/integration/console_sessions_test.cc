// The console's ways in, without a browser: one-time links (used once, 10 minutes), the
// sessions they open (until the time chosen, ended with the operator), and the CLI's
// refusals when the console is off or --until is not a time.
#include <gtest/gtest.h>

#include "server/console/sessions.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

constexpr int64_t kNow = 1'795'000'000'000;

TEST(ConsoleSessionsTest, ALinkOpensOneSessionOnceWithinTenMinutes) {
  server::ConsoleSessions s;
  auto link = s.CreateLink("prof.a", kNow + 3'600'000, kNow);
  EXPECT_EQ(link.expires_ms, kNow + 10 * 60 * 1000);
  EXPECT_EQ(link.token.size(), 64u);
  std::string cookie;
  auto session = s.RedeemLink(link.token, kNow + 1000, &cookie);
  ASSERT_TRUE(session.ok()) << session.status().message();
  EXPECT_EQ(session->operator_name, "prof.a");
  EXPECT_EQ(session->until_ms, kNow + 3'600'000);
  EXPECT_FALSE(session->csrf.empty());
  auto again = s.RedeemLink(link.token, kNow + 2000, &cookie);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("déjà servi"), std::string::npos);

  auto late = s.CreateLink("prof.a", kNow + 3'600'000, kNow);
  auto expired = s.RedeemLink(late.token, kNow + 10 * 60 * 1000, &cookie);
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("expiré"), std::string::npos);
  auto unknown = s.RedeemLink("0123", kNow, &cookie);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("inconnu"), std::string::npos);
}

TEST(ConsoleSessionsTest, ASessionEndsAtItsTimeAndWithItsOperator) {
  server::ConsoleSessions s;
  std::string a1, a2, b;
  s.Open("prof.a", kNow + 1000, &a1);
  s.Open("prof.a", kNow + 5000, &a2);
  s.Open("prof.b", kNow + 5000, &b);
  EXPECT_TRUE(s.Find(a1, kNow + 999).ok());
  EXPECT_FALSE(s.Find(a1, kNow + 1000).ok());  // its time is up
  EXPECT_FALSE(s.Find("", kNow).ok());
  EXPECT_FALSE(s.Find(a2 + "0", kNow).ok());
  EXPECT_EQ(s.EndAll("prof.a"), 1u);  // a1 had already ended
  EXPECT_FALSE(s.Find(a2, kNow).ok());
  EXPECT_TRUE(s.Find(b, kNow).ok());
  // A link made before the revocation no longer opens anything.
  auto link = s.CreateLink("prof.b", kNow + 5000, kNow);
  s.EndAll("prof.b");
  std::string cookie;
  EXPECT_FALSE(s.RedeemLink(link.token, kNow, &cookie).ok());
}

TEST(ConsoleSessionsTest, EndOfLocalDayIsLaterTheSameDay) {
  int64_t end = server::EndOfLocalDay(kNow);
  EXPECT_GT(end, kNow);
  EXPECT_LE(end - kNow, 24 * 3600 * 1000LL + 3600 * 1000LL);  // a DST day is 25 h
  EXPECT_EQ(server::EndOfLocalDay(end), end);
}

TEST(ConsoleSessionsTest, TheCliSaysWhenTheConsoleIsOffOrTheTimeIsWrong) {
  TempDir dir;
  TestServer server(dir.path());  // no --console-listen
  std::vector<std::string> admin = {"--credentials", server.data_dir() + "/admin.credentials",
                                    "--server", server.address(), "operators", "link"};
  auto off = RunBinary("preau", {admin[0], admin[1], admin[2], admin[3], "operators", "link",
                                 "admin"});
  EXPECT_EQ(off.exit_code, 1);
  EXPECT_NE(off.err.find("the console is off"), std::string::npos) << off.err;
  EXPECT_TRUE(off.out.empty());
  auto bad = RunBinary("preau", {admin[0], admin[1], admin[2], admin[3], "operators", "link",
                                 "admin", "--until", "25:00"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("--until '25:00'"), std::string::npos) << bad.err;
  auto nobody = RunBinary("preau", {admin[0], admin[1], admin[2], admin[3], "operators",
                                    "password", "nobody", "--clear"});
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.err.find("no operator named 'nobody'"), std::string::npos) << nobody.err;
}

}  // namespace
}  // namespace preau::testing
