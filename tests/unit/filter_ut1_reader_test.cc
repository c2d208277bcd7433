// Reads the real UT1 extract and synthetic files with every known quirk.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <sys/stat.h>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "common/filter/domain_hash.h"
#include "common/filter/ut1_reader.h"

namespace preau::filter {
namespace {

const std::string kUt1Dir = PREAU_SOURCE_DIR "/tests/data/ut1";

// Lines as `wc -l` counts them (newline characters).
size_t WcLines(const std::string& path) {
  std::string cmd = "wc -l < '" + path + "'";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  unsigned long n = 0;
  if (fscanf(p, "%lu", &n) != 1) n = 0;
  pclose(p);
  return n;
}

TEST(Ut1Reader, ReadsTheRealExtract) {
  Result<Ut1Data> data = ReadUt1(kUt1Dir);
  ASSERT_TRUE(data.ok()) << data.status().message();
  ASSERT_EQ(data->categories.size(), 11u);
  for (const Ut1Category& cat : data->categories) {
    SCOPED_TRACE(cat.name);
    size_t skipped_domains = 0, skipped_urls = 0;
    for (const auto& s : cat.skipped) (s.file == "domains" ? skipped_domains : skipped_urls)++;
    size_t wc = WcLines(kUt1Dir + "/" + cat.name + "/domains");
    EXPECT_GT(wc, 0u);
    EXPECT_EQ(cat.domains.size(), wc - skipped_domains);
    EXPECT_EQ(cat.domain_lines, wc);
    if (cat.url_lines > 0) {
      EXPECT_EQ(cat.urls.size(), WcLines(kUt1Dir + "/" + cat.name + "/urls") - skipped_urls);
    }
    EXPECT_FALSE(cat.usage.empty());
    for (const auto& d : cat.domains) {
      EXPECT_EQ(d.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ \r"), std::string::npos) << d;
    }
  }
  const Ut1Category* games = data->Find("games");
  ASSERT_NE(games, nullptr);
  EXPECT_EQ(games->domain_lines, 33741u);
  // Known quirks are kept: '_' in labels and bare IPv4 addresses.
  const Ut1Category* chat = data->Find("chat");
  ASSERT_NE(chat, nullptr);
  EXPECT_NE(std::find(chat->domains.begin(), chat->domains.end(), "193.238.160.62"),
            chat->domains.end());
  EXPECT_NE(std::find(games->domains.begin(), games->domains.end(), "rpg_tips.tripod.com"),
            games->domains.end());
  EXPECT_TRUE(data->Find("liste_blanche")->IsWhite());
  EXPECT_TRUE(data->Find("gambling") && !data->Find("gambling")->IsWhite());
  EXPECT_EQ(data->descriptions.count("gambling"), 1u);
  EXPECT_EQ(data->descriptions.at("gambling").default_type, "black");
  EXPECT_GT(data->TotalDomains(), 87000u);
}

TEST(Ut1Reader, SkipsQuirksWithReasonsAndKeepsGoodEntries) {
  Ut1Category cat;
  ParseDomainsText(
      "# a comment\r\n"
      "Example.COM\r\n"
      ".leading.example.org\n"
      "trailing.example.net.\n"
      "\n"
      "foo bar\n"
      "under_score.tripod.com\n"
      "192.0.2.7\n"
      "example.com\n"
      "http://www.url.example/x\n"
      "localhost\n"
      "bad..dots.com\n"
      "caf\xc3\xa9.fr\n"
      "last.example.edu",
      cat);
  EXPECT_EQ(cat.domain_lines, 14u);
  std::vector<std::string> want = {"example.com",  "leading.example.org",
                                   "trailing.example.net", "under_score.tripod.com",
                                   "192.0.2.7",    "last.example.edu"};
  EXPECT_EQ(cat.domains, want);
  ASSERT_EQ(cat.skipped.size(), 8u);
  EXPECT_EQ(cat.skipped[0].reason, "line 1: comment");
  EXPECT_EQ(cat.skipped[1].reason, "line 5: empty line");
  EXPECT_EQ(cat.skipped[2].reason, "line 6: not a domain: 'foo bar' (contains a space)");
  EXPECT_EQ(cat.skipped[3].reason, "line 9: duplicate of line 2");
  EXPECT_EQ(cat.skipped[4].line, 10u);
  EXPECT_NE(cat.skipped[4].reason.find("a URL"), std::string::npos);
  EXPECT_NE(cat.skipped[5].reason.find("single label"), std::string::npos);
  EXPECT_NE(cat.skipped[6].reason.find("empty label"), std::string::npos);
  EXPECT_NE(cat.skipped[7].reason.find("non-ASCII"), std::string::npos);
}

TEST(Ut1Reader, NormalisesUrlRules) {
  Ut1Category cat;
  ParseUrlsText("4ds1.com/Games\nhttp://WWW.Site.Example/A?b=1#frag\nhost.example\nno host/x\n",
                cat);
  std::vector<std::string> want = {"4ds1.com/games", "www.site.example/a?b=1", "host.example"};
  EXPECT_EQ(cat.urls, want);
  ASSERT_EQ(cat.skipped.size(), 1u);
  EXPECT_NE(cat.skipped[0].reason.find("line 4: not a URL"), std::string::npos);
}

TEST(Ut1Reader, MissingFolderIsAClearError) {
  Result<Ut1Data> data = ReadUt1("/nonexistent/ut1");
  ASSERT_FALSE(data.ok());
  EXPECT_NE(data.status().message().find("/nonexistent/ut1"), std::string::npos);
}

// The hashes of `domains`, sorted, as the hashed reader gives them.
std::vector<uint64_t> SortedHashes(const std::vector<std::string>& domains) {
  std::vector<uint64_t> out;
  for (const auto& d : domains) out.push_back(HashDomain(d));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Ut1Reader, HashedReadCountsExactlyWhatTheFullReadDoes) {
  Result<Ut1Data> full = ReadUt1(kUt1Dir);
  ASSERT_TRUE(full.ok()) << full.status().message();
  std::map<std::string, Ut1Description> descriptions;
  std::vector<std::string> names;
  Status st = ReadUt1Hashed(kUt1Dir, 20, [&](Ut1HashedCategory& cat) -> Status {
    SCOPED_TRACE(cat.name);
    names.push_back(cat.name);
    const Ut1Category* want = full->Find(cat.name);
    if (want == nullptr) return NotFound(cat.name);
    EXPECT_EQ(cat.domain_hashes, SortedHashes(want->domains));
    EXPECT_EQ(cat.urls, want->urls);
    EXPECT_EQ(cat.usage, want->usage);
    EXPECT_EQ(cat.domain_lines, want->domain_lines);
    EXPECT_EQ(cat.url_lines, want->url_lines);
    EXPECT_EQ(cat.skipped_count, want->skipped.size());
    EXPECT_EQ(cat.skipped.size(), std::min<size_t>(20, want->skipped.size()));
    for (size_t i = 0; i < cat.skipped.size(); ++i) {
      EXPECT_EQ(cat.skipped[i].reason, want->skipped[i].reason);
      EXPECT_EQ(cat.skipped[i].file, want->skipped[i].file);
    }
    return Status::Ok();
  }, &descriptions);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(names.size(), full->categories.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(names[i], full->categories[i].name);
  EXPECT_EQ(descriptions.size(), full->descriptions.size());
}

TEST(Ut1Reader, HashedReadReportsDuplicatesInLineOrderAndCapsTheReasons) {
  const std::string text =
      "b.example\n"
      "A.example\n"
      "# comment\n"
      ".b.example\n"        // a duplicate of line 1 once normalised
      "not a domain\n"
      "a.example.\n"        // a duplicate of line 2
      "c.example\r\n"
      "B.EXAMPLE\n";        // a duplicate of line 1 again
  Ut1Category full;
  ParseDomainsText(text, full);
  Ut1HashedCategory hashed;
  HashDomainsText(text, 100, hashed);
  EXPECT_EQ(hashed.domain_hashes, SortedHashes(full.domains));
  EXPECT_EQ(hashed.domain_hashes.size(), 3u);
  EXPECT_EQ(hashed.domain_lines, 8u);
  ASSERT_EQ(hashed.skipped.size(), full.skipped.size());
  for (size_t i = 0; i < full.skipped.size(); ++i) {
    EXPECT_EQ(hashed.skipped[i].reason, full.skipped[i].reason);
  }
  EXPECT_EQ(hashed.skipped[1].reason, "line 4: duplicate of line 1");
  EXPECT_EQ(hashed.skipped[4].reason, "line 8: duplicate of line 1");

  // Only the first reasons are quoted, every skipped line is counted.
  Ut1HashedCategory capped;
  HashDomainsText(text, 2, capped);
  EXPECT_EQ(capped.skipped_count, 5u);
  ASSERT_EQ(capped.skipped.size(), 2u);
  EXPECT_EQ(capped.skipped[0].reason, "line 3: comment");
  EXPECT_EQ(capped.skipped[1].reason, "line 4: duplicate of line 1");
}

TEST(Ut1Reader, HashedReadOfAMissingFolderIsAClearError) {
  Status st = ReadUt1Hashed("/nonexistent/ut1", 20, [](Ut1HashedCategory&) {
    return Status::Ok();
  });
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/ut1"), std::string::npos);
}

}  // namespace
}  // namespace preau::filter

namespace preau::filter {
namespace {

// Issue 17, item 12: a category whose `usage` says both "black" and "white" (UT1's `chat`)
// is what global_usage's DEFAULT_TYPE says; without one, "black" wins.
TEST(Ut1Reader, GlobalUsageDecidesBlackOrWhite) {
  char tmpl[] = "/tmp/preau-ut1-usage-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  auto write = [&](const std::string& rel, const std::string& text) {
    FILE* f = std::fopen((root + "/" + rel).c_str(), "w");
    ASSERT_NE(f, nullptr) << rel;
    std::fputs(text.c_str(), f);
    std::fclose(f);
  };
  for (const char* c : {"chat", "liste_blanche", "mixed"}) {
    ASSERT_EQ(mkdir((root + "/" + c).c_str(), 0700), 0);
    write(std::string(c) + "/domains", std::string(c) + ".example\n");
  }
  write("chat/usage", "black\nwhite\n");
  write("liste_blanche/usage", "white\n");
  write("mixed/usage", "white\nblack\n");
  write("global_usage", "NAME: chat\nDEFAULT_TYPE: black\nNAME EN: Chat\n\n"
                        "NAME: liste_blanche\nDEFAULT_TYPE: white\n");
  Result<Ut1Data> data = ReadUt1(root);
  ASSERT_TRUE(data.ok()) << data.status().message();
  EXPECT_FALSE(data->Find("chat")->IsWhite());
  EXPECT_TRUE(data->Find("liste_blanche")->IsWhite());
  EXPECT_FALSE(data->Find("mixed")->IsWhite());
  std::map<std::string, bool> hashed;
  Status st = ReadUt1Hashed(root, 5, [&](Ut1HashedCategory& cat) -> Status {
    hashed[cat.name] = cat.IsWhite();
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(hashed, (std::map<std::string, bool>{
                        {"chat", false}, {"liste_blanche", true}, {"mixed", false}}));
  std::filesystem::remove_all(root);
}

TEST(Ut1Reader, UrlRulesAreNormalisedAsTheUrlsTheyMatch) {
  Ut1Category cat;
  ParseUrlsText("Site.example//%6Aeux/./a/../\nsite.example/x/%2e%2e/jeux/\n", cat);
  std::vector<std::string> want = {"site.example/jeux/"};
  EXPECT_EQ(cat.urls, want);  // the second line is the same rule: a duplicate
  ASSERT_EQ(cat.skipped.size(), 1u);
  EXPECT_NE(cat.skipped[0].reason.find("duplicate of line 1"), std::string::npos);
}

}  // namespace
}  // namespace preau::filter
