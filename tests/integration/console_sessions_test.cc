// The console's ways in, without a browser: one-time links (used once, 10 minutes), the
// sessions they open (until the time chosen, ended with the operator, kept across a
// restart by their hashes), the CLI's refusals when the console is off or --until is not
// a time, and the rule set's refusals in the page's French.
#include <gtest/gtest.h>

#include "common/files.h"
#include "server/admin/refusal_texts.h"
#include "server/console/sessions.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

constexpr int64_t kNow = 1'795'000'000'000;

// The sessions on a store of their own, as the server keeps them.
struct SessionsOnDisk {
  SessionsOnDisk() {
    auto opened = server::Store::Open(dir / "server.db", /*create=*/true);
    EXPECT_TRUE(opened.ok()) << opened.status().message();
    store = std::move(opened).value();
  }
  TempDir dir;
  std::unique_ptr<server::Store> store;
};

TEST(ConsoleSessionsTest, ALinkOpensOneSessionOnceWithinTenMinutes) {
  SessionsOnDisk disk;
  server::ConsoleSessions s(*disk.store);
  auto made = s.CreateLink("prof.a", kNow + 3'600'000, kNow);
  ASSERT_TRUE(made.ok()) << made.status().message();
  auto link = *made;
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
  ASSERT_TRUE(late.ok());
  auto expired = s.RedeemLink(late->token, kNow + 10 * 60 * 1000, &cookie);
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("expiré"), std::string::npos);
  auto unknown = s.RedeemLink("0123", kNow, &cookie);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("inconnu"), std::string::npos);
}

TEST(ConsoleSessionsTest, ASessionEndsAtItsTimeAndWithItsOperator) {
  SessionsOnDisk disk;
  server::ConsoleSessions s(*disk.store);
  std::string a1, a2, b;
  ASSERT_TRUE(s.Open("prof.a", kNow + 1000, &a1).ok());
  ASSERT_TRUE(s.Open("prof.a", kNow + 5000, &a2).ok());
  ASSERT_TRUE(s.Open("prof.b", kNow + 5000, &b).ok());
  // The page's anti-CSRF token: the same for a session whenever it is found, another
  // for another session.
  EXPECT_EQ(s.Find(a2, kNow)->csrf, s.Find(a2, kNow + 1)->csrf);
  EXPECT_NE(s.Find(a2, kNow)->csrf, s.Find(b, kNow)->csrf);
  EXPECT_EQ(s.Find(a2, kNow)->csrf.size(), 64u);
  EXPECT_TRUE(s.Find(a1, kNow + 999).ok());
  EXPECT_FALSE(s.Find(a1, kNow + 1000).ok());  // its time is up
  EXPECT_FALSE(s.Find("", kNow).ok());
  EXPECT_FALSE(s.Find(a2 + "0", kNow).ok());
  EXPECT_EQ(*s.EndAll("prof.a"), 1);  // a1 had already ended
  EXPECT_FALSE(s.Find(a2, kNow).ok());
  EXPECT_TRUE(s.Find(b, kNow).ok());
  // A link made before the revocation no longer opens anything.
  auto link = s.CreateLink("prof.b", kNow + 5000, kNow);
  ASSERT_TRUE(link.ok());
  ASSERT_TRUE(s.EndAll("prof.b").ok());
  std::string cookie;
  EXPECT_FALSE(s.RedeemLink(link->token, kNow, &cookie).ok());
}

// Kept in the store by their hashes only: a restart signs nobody out, and what the
// database holds opens nothing.
TEST(ConsoleSessionsTest, SessionsAndLinksOutliveARestartByTheirHashesOnly) {
  SessionsOnDisk disk;
  std::string cookie, cookie_b, csrf;
  std::string token;
  {
    server::ConsoleSessions s(*disk.store);
    auto link = s.CreateLink("prof.a", kNow + 3'600'000, kNow);
    ASSERT_TRUE(link.ok());
    token = link->token;
    auto unused = s.CreateLink("prof.a", kNow + 3'600'000, kNow);
    ASSERT_TRUE(unused.ok());
    auto opened = s.RedeemLink(token, kNow + 1000, &cookie);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    csrf = opened->csrf;
    ASSERT_TRUE(s.Open("prof.b", kNow + 3'600'000, &cookie_b).ok());
    token = unused->token;
  }
  disk.store.reset();  // the server stops
  auto reopened = server::Store::Open(disk.dir / "server.db", /*create=*/false);
  ASSERT_TRUE(reopened.ok()) << reopened.status().message();
  disk.store = std::move(reopened).value();
  server::ConsoleSessions s(*disk.store);
  auto found = s.Find(cookie, kNow + 2000);
  ASSERT_TRUE(found.ok()) << found.status().message();
  EXPECT_EQ(found->operator_name, "prof.a");
  EXPECT_EQ(found->until_ms, kNow + 3'600'000);
  EXPECT_EQ(found->csrf, csrf) << "the open page's anti-CSRF token still holds";
  std::string cookie_2;
  EXPECT_TRUE(s.RedeemLink(token, kNow + 3000, &cookie_2).ok()) << "a link made before";

  // The secrets themselves are nowhere in the file.
  auto db = ReadFile(disk.dir / "server.db");
  ASSERT_TRUE(db.ok());
  for (const std::string& secret : {cookie, cookie_b, cookie_2, token, csrf}) {
    EXPECT_EQ(db->find(secret), std::string::npos) << secret;
  }
  // Revoked after the restart: ended at once.
  EXPECT_EQ(*s.EndAll("prof.a"), 2);
  EXPECT_FALSE(s.Find(cookie, kNow + 4000).ok());
  EXPECT_FALSE(s.Find(cookie_2, kNow + 4000).ok());
  EXPECT_TRUE(s.Find(cookie_b, kNow + 4000).ok());
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

TEST(ConsoleRefusalsTest, TheRuleSetsRefusalsReadInFrench) {
  using server::InFrench;
  using server::Say;
  namespace r = server::refusal;
  std::string who = Say(r::kOperator, {"prof.a", "teacher"});
  EXPECT_EQ(who, "operator 'prof.a' (teacher)");
  std::string scope = Say(r::kNoRightsOnGroup, {who, "ecole/cm2-b"});
  EXPECT_EQ(scope, "operator 'prof.a' (teacher) has no rights on group 'ecole/cm2-b'");
  EXPECT_EQ(InFrench(scope),
            "l'opérateur « prof.a » (enseignant) n'a aucun droit sur le groupe « ecole/cm2-b »");
  EXPECT_EQ(InFrench(Say(r::kRoleMayNot, {Say(r::kOperator, {"v", "viewer"}),
                                          "run class commands", "ClassService.Run",
                                          "class-commands"})),
            "l'opérateur « v » (observateur) ne peut pas lancer des commandes de classe "
            "(ClassService.Run demande le droit class-commands)");
  EXPECT_EQ(InFrench(Say(r::kOutsideHours, {"anim", "mon,tue 16:30-18:00", "Europe/Paris",
                                            "sat 10:00"})),
            "l'opérateur « anim » ne peut agir que mon,tue 16:30-18:00 (Europe/Paris) ; il est "
            "sat 10:00");
  EXPECT_EQ(InFrench(Say(r::kForDoesNotApply, {"--for", "unlock"})),
            "durée : sans objet pour « déverrouiller » (laissez-la vide)");
  EXPECT_EQ(InFrench(Say(r::kNotHttp, {"--url", "ftp://x"})),
            "adresse « ftp://x » : une adresse en http:// ou https:// est attendue");
  // Every sentence has its French, with every value in place and no English left.
  const std::vector<const server::RefusalText*> all = {
      &r::kOperator, &r::kNoRightsOnGroup, &r::kNotWholeAuthority, &r::kRoleMayNot,
      &r::kOutsideHours, &r::kUnknownGroup, &r::kRequired, &r::kNotHttp, &r::kUrlTooLong,
      &r::kUrlSpaces, &r::kTextTooLong, &r::kControlCharacter, &r::kForNotPositive,
      &r::kForTooLong, &r::kForDoesNotApply, &r::kWifiNeedsFor, &r::kAllowNeedsFor,
      &r::kFocusOneTarget, &r::kNotAnAppId, &r::kNotADomain, &r::kPublicSuffix};
  for (const auto* t : all) {
    std::string english = Say(*t, {"v0", "v1", "v2", "v3"});
    auto french = InFrench(english);
    ASSERT_TRUE(french.has_value()) << english;
    EXPECT_NE(*french, english);
    EXPECT_EQ(french->find('{'), std::string::npos) << *french;
    for (const char* v : {"v0", "v1", "v2", "v3"}) {
      EXPECT_EQ(english.find(v) == std::string::npos, french->find(v) == std::string::npos)
          << english << " / " << *french;
    }
  }
  EXPECT_FALSE(InFrench("the database is locked").has_value());
}

}  // namespace
}  // namespace preau::testing
