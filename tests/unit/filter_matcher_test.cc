// Matcher decisions: exact and subdomain matches, allow beats block, deny list, URL rules.
#include <gtest/gtest.h>

#include "common/filter/domain_hash.h"
#include "common/filter/matcher.h"
#include "common/filter/url_rules.h"
#include "common/filter/ut1_reader.h"

namespace preau::filter {
namespace {

class MatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    names_ = {"gambling", "games", "doh", "liste_blanche"};
    std::vector<DomainSet::Entry> e = {
        {HashDomain("casino.example"), 0},   {HashDomain("bet.example.org"), 0},
        {HashDomain("play.example"), 1},     {HashDomain("casino.example"), 1},
        {HashDomain("dns.google"), 2},       {HashDomain("192.0.2.7"), 1},
        {HashDomain("school.example"), 3},
    };
    UrlRules urls;
    urls.Add(1, "portal.example/games");
    urls.Add(1, "portal.example/arcade/");
    urls.Add(0, "news.example/index.php?page=poker");
    urls.Finish();
    matcher_ = Matcher(names_, DomainSet::Build(e), std::move(urls));
  }
  CompiledProfile Profile(FilterProfile spec) {
    Result<CompiledProfile> p = CompiledProfile::Compile(spec, names_);
    EXPECT_TRUE(p.ok()) << p.status().message();
    return std::move(*p);
  }
  std::vector<std::string> names_;
  Matcher matcher_;
};

TEST_F(MatcherTest, ExactAndSubdomainMatches) {
  CompiledProfile p = Profile({{"gambling"}, {}, {}});
  Decision d = matcher_.Decide("casino.example", p);
  EXPECT_TRUE(d.blocked);
  EXPECT_EQ(d.kind, RuleKind::kCategory);
  EXPECT_EQ(d.rule, "gambling");
  EXPECT_EQ(d.matched_entry, "casino.example");
  d = matcher_.Decide("WWW.Deep.Casino.Example.", p);
  EXPECT_TRUE(d.blocked);
  EXPECT_EQ(d.matched_entry, "casino.example");
  EXPECT_EQ(d.ToString(), "blocked by category gambling (entry casino.example)");
  // A name that merely ends with the same letters is not a subdomain.
  EXPECT_FALSE(matcher_.Decide("notcasino.example", p).blocked);
  EXPECT_FALSE(matcher_.Decide("example", p).blocked);
  // Categories not in the profile do not block.
  EXPECT_FALSE(matcher_.Decide("play.example", p).blocked);
  EXPECT_TRUE(matcher_.Decide("bet.example.org", p).blocked);
}

TEST_F(MatcherTest, NameInTwoCategoriesBlocksIfEitherIsBlocked) {
  Decision d = matcher_.Decide("casino.example", Profile({{"games"}, {}, {}}));
  EXPECT_TRUE(d.blocked);
  EXPECT_EQ(d.rule, "games");
}

TEST_F(MatcherTest, AllowListBeatsCategoryBlock) {
  CompiledProfile p = Profile({{"gambling"}, {"Safe.Casino.Example"}, {}});
  Decision d = matcher_.Decide("www.safe.casino.example", p);
  EXPECT_FALSE(d.blocked);
  EXPECT_EQ(d.kind, RuleKind::kAllowList);
  EXPECT_EQ(d.rule, "allow list");
  EXPECT_EQ(d.matched_entry, "safe.casino.example");
  EXPECT_TRUE(matcher_.Decide("other.casino.example", p).blocked);
}

TEST_F(MatcherTest, DenyListAndMostSpecificListedEntryWins) {
  CompiledProfile p = Profile({{}, {"good.wiki.example"}, {"wiki.example"}});
  Decision d = matcher_.Decide("fr.wiki.example", p);
  EXPECT_TRUE(d.blocked);
  EXPECT_EQ(d.rule, "deny list");
  EXPECT_EQ(d.matched_entry, "wiki.example");
  EXPECT_FALSE(matcher_.Decide("a.good.wiki.example", p).blocked);
  CompiledProfile tie = Profile({{}, {"x.example"}, {"x.example"}});
  EXPECT_FALSE(matcher_.Decide("x.example", tie).blocked);
}

TEST_F(MatcherTest, Ipv4LiteralMatchesOnlyItself) {
  CompiledProfile p = Profile({{"games"}, {}, {}});
  EXPECT_TRUE(matcher_.Decide("192.0.2.7", p).blocked);
  EXPECT_FALSE(matcher_.Decide("192.0.2.70", p).blocked);
  EXPECT_FALSE(matcher_.Decide("0.2.7", p).blocked);
  EXPECT_TRUE(matcher_.DecideUrl("http://192.0.2.7/x", p).blocked);
}

TEST_F(MatcherTest, UrlPrefixRulesAreStringPrefixes) {
  CompiledProfile p = Profile({{"games"}, {}, {}});
  Decision d = matcher_.DecideUrl("https://www.Portal.example/Games/tetris", p);
  EXPECT_TRUE(d.blocked);
  EXPECT_EQ(d.kind, RuleKind::kUrlRule);
  EXPECT_EQ(d.rule, "games");
  EXPECT_EQ(d.matched_entry, "portal.example/games");
  EXPECT_TRUE(matcher_.DecideUrl("portal.example/games", p).blocked);
  EXPECT_TRUE(matcher_.DecideUrl("http://portal.example/games?x=1", p).blocked);
  // UT1 entries are string prefixes (issue 17, item 12): "/games" also catches "/gamesfoo".
  EXPECT_TRUE(matcher_.DecideUrl("http://portal.example/gamesfoo", p).blocked);
  EXPECT_FALSE(matcher_.DecideUrl("http://portal.example/news", p).blocked);
  EXPECT_TRUE(matcher_.DecideUrl("http://user@portal.example:8080/arcade/pacman", p).blocked);
  // Domain rules apply to URLs too.
  EXPECT_TRUE(matcher_.DecideUrl("https://sub.play.example/", p).blocked);
  // Rules of categories the profile does not block do not apply.
  EXPECT_FALSE(matcher_.DecideUrl("http://news.example/index.php?page=poker", p).blocked);
  CompiledProfile g = Profile({{"gambling"}, {}, {}});
  EXPECT_TRUE(matcher_.DecideUrl("http://news.example/index.php?page=poker", g).blocked);
  // An allow-listed host beats URL rules.
  CompiledProfile a = Profile({{"games"}, {"portal.example"}, {}});
  EXPECT_FALSE(matcher_.DecideUrl("http://portal.example/games", a).blocked);
  EXPECT_FALSE(matcher_.DecideUrl("not a url", p).blocked);
}

TEST_F(MatcherTest, UnknownCategoryInProfileIsAnError) {
  Result<CompiledProfile> p = CompiledProfile::Compile({{"nope"}, {}, {}}, names_);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "profile: unknown category 'nope'");
  Result<CompiledProfile> q = CompiledProfile::Compile({{}, {"bad name"}, {}}, names_);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("allow list"), std::string::npos);
}

TEST(DomainHash, SuffixHashesAgreeWithWholeNameHashes) {
  SuffixHashes s;
  ASSERT_TRUE(ComputeSuffixHashes("www.a.b.com", s));
  ASSERT_EQ(s.count, 4);
  EXPECT_EQ(s.hash[0], HashDomain("com"));
  EXPECT_EQ(s.hash[1], HashDomain("b.com"));
  EXPECT_EQ(s.hash[2], HashDomain("a.b.com"));
  EXPECT_EQ(s.hash[3], HashDomain("www.a.b.com"));
  EXPECT_EQ(s.begin[2], 4);
  EXPECT_NE(HashDomain("ab.c"), HashDomain("a.bc"));
  EXPECT_NE(HashDomain("abcdefgh.com"), HashDomain("abcdefgh0.com"));
}

TEST(DomainSet, FindsEveryEntryAmongMany) {
  std::vector<DomainSet::Entry> e;
  for (int i = 0; i < 100000; ++i) {
    e.push_back({HashDomain("host" + std::to_string(i) + ".example"), uint8_t(i % 7)});
  }
  DomainSet set = DomainSet::Build(e);
  ASSERT_EQ(set.size(), 100000u);
  for (const auto& x : e) {
    auto [lo, hi] = set.Find(x.hash);
    ASSERT_EQ(hi - lo, 1u);
    EXPECT_EQ(set.category(lo), x.category);
  }
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(set.Contains(HashDomain("miss" + std::to_string(i) + ".example")));
  }
  EXPECT_LE(set.MemoryBytes(), 100000u * 13);
  DomainSet empty = DomainSet::Build({});
  EXPECT_FALSE(empty.Contains(HashDomain("a.b")));
}

}  // namespace
}  // namespace preau::filter

namespace preau::filter {
namespace {

// Issue 17, item 12: a URL rule cannot be walked around by spellings RFC 3986 calls
// equivalent, and entries match as UT1 documents them (string prefixes).
TEST(UrlRules, NormalisedSpellingsCannotWalkAroundARule) {
  std::vector<std::string> names = {"games"};
  UrlRules urls;
  Result<std::string> rule = NormalizeUrlRule("http://Site.Example/jeux");
  ASSERT_TRUE(rule.ok()) << rule.status().message();
  urls.Add(0, *rule);
  urls.Add(0, *NormalizeUrlRule("other.example/%67ames/Arcade"));  // an escaped rule too
  urls.Finish();
  Matcher m(names, DomainSet::Build({}), std::move(urls));
  Result<CompiledProfile> p = CompiledProfile::Compile({{"games"}, {}, {}}, names);
  ASSERT_TRUE(p.ok());
  for (const char* url : {
           "http://site.example/jeux",
           "http://site.example/jeux.html",         // a string prefix, as UT1 documents
           "http://site.example//jeux",             // doubled slash
           "http://site.example/a//../jeux/x",      // doubled slash and dot segments
           "http://site.example/%6Aeux",            // percent-encoded unreserved letter
           "http://site.example/%6a%65%75%78?p=1",  // lowercase escapes, with a query
           "http://site.example/./jeux",            // dot segment
           "http://site.example/x/../jeux",         // dot-dot segment
           "http://site.example/%2E%2E/jeux",       // escaped dot-dot
           "HTTP://SITE.EXAMPLE/JEUX",              // case of scheme, host and path
           "http://%73ite.example/jeux",            // escaped letter in the host
           "http://www.site.example:8080/jeux#top",
           "http://other.example/games/arcade/pacman",
           "http://other.example//games/./arcade",
       }) {
    EXPECT_TRUE(m.DecideUrl(url, *p).blocked) << url;
  }
  EXPECT_FALSE(m.DecideUrl("http://site.example/", *p).blocked);
  EXPECT_FALSE(m.DecideUrl("http://site.example/je", *p).blocked);
  EXPECT_FALSE(m.DecideUrl("http://site.example/maths/jeux", *p).blocked);
  EXPECT_FALSE(m.DecideUrl("http://site.example/jeux/../maths", *p).blocked);
  EXPECT_FALSE(m.DecideUrl("http://other.example/games", *p).blocked);
  // A reserved character stays escaped: "%2F" is not a path separator.
  EXPECT_FALSE(m.DecideUrl("http://other.example/games%2Farcade", *p).blocked);
}

TEST(UrlRules, NormalizeUrlPathFollowsRfc3986) {
  EXPECT_EQ(NormalizeUrlPath(""), "/");
  EXPECT_EQ(NormalizeUrlPath("?q=1"), "/?q=1");
  EXPECT_EQ(NormalizeUrlPath("/a/b/c/./../../g"), "/a/g");  // RFC 3986 5.2.4's example
  EXPECT_EQ(NormalizeUrlPath("/mid/content=5/../6"), "/mid/6");
  EXPECT_EQ(NormalizeUrlPath("/../../x"), "/x");
  EXPECT_EQ(NormalizeUrlPath("//a///b/"), "/a/b/");
  EXPECT_EQ(NormalizeUrlPath("/a/.."), "/");
  EXPECT_EQ(NormalizeUrlPath("/a/b/.."), "/a/");
  EXPECT_EQ(NormalizeUrlPath("/%7Euser/%41%2f"), "/~user/a%2f");
  EXPECT_EQ(NormalizeUrlPath("/a?b=/../c"), "/a?b=/../c");  // the query is no path
  EXPECT_EQ(NormalizeUrlPath("/%zz%4"), "/%zz%4");
}

}  // namespace
}  // namespace preau::filter
