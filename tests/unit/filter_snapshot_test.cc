// Snapshot format: round trip, corruption and truncation detected, deltas reproduce B.
#include <unistd.h>

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "common/filter/snapshot.h"

namespace preau::filter {
namespace {

const std::string kUt1Dir = PREAU_SOURCE_DIR "/tests/data/ut1";

const Ut1Data& Extract() {
  static const Ut1Data* data = [] {
    Result<Ut1Data> d = ReadUt1(kUt1Dir);
    EXPECT_TRUE(d.ok()) << d.status().message();
    return new Ut1Data(std::move(*d));
  }();
  return *data;
}

FilterProfile SchoolProfile() {
  FilterProfile p;
  p.blocked_categories = {"gambling", "games", "doh", "dating"};
  p.allow = {"allowed-game.example"};
  p.deny = {"Denied.Example"};
  return p;
}

std::shared_ptr<const Snapshot> MustParse(const std::string& bytes) {
  Result<std::shared_ptr<const Snapshot>> s = Snapshot::Parse(bytes);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? *s : nullptr;
}

TEST(Snapshot, RoundTripOnTheRealExtract) {
  const Ut1Data& data = Extract();
  Result<std::string> bytes = BuildSnapshot(data, SchoolProfile(), 7);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto snap = MustParse(*bytes);
  ASSERT_NE(snap, nullptr);
  EXPECT_EQ(snap->version(), 7u);
  EXPECT_EQ(snap->sha256_hex().size(), 64u);
  EXPECT_EQ(snap->bytes(), *bytes);
  size_t expected = 0;
  for (const char* c : {"gambling", "games", "doh", "dating"}) {
    expected += data.Find(c)->domains.size();
  }
  // Hash collisions or cross-category duplicates could only lower the count.
  EXPECT_LE(snap->entry_count(), expected);
  EXPECT_GE(snap->entry_count(), expected - 10);
  ASSERT_EQ(snap->categories().size(), data.categories.size());
  // Every loaded domain of a blocked category is blocked, with its category named.
  for (const char* c : {"gambling", "games", "doh", "dating"}) {
    for (const std::string& d : data.Find(c)->domains) {
      if (d == "allowed-game.example") continue;
      Decision dec = snap->Decide("www." + d);
      ASSERT_TRUE(dec.blocked) << d;
    }
  }
  // Categories outside the profile are not carried (only_blocked_categories).
  const std::string shortener = data.Find("shortener")->domains.front();
  EXPECT_FALSE(snap->Decide(shortener).blocked) << shortener;
  EXPECT_TRUE(snap->Decide("x.denied.example").blocked);
  EXPECT_EQ(snap->Decide("x.denied.example").rule, "deny list");
  // The URL rules travel too.
  EXPECT_TRUE(snap->DecideUrl("http://1001reves.com/games/x").blocked);
  // And the same bytes come back from a file.
  std::string path = testing::TempDir() + "/snap-" + std::to_string(getpid());
  ASSERT_TRUE(snap->WriteFile(path).ok());
  Result<std::shared_ptr<const Snapshot>> loaded = Snapshot::LoadFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->sha256_hex(), snap->sha256_hex());
  EXPECT_TRUE((*loaded)->Decide("casino-en-ligne.example").blocked ==
              snap->Decide("casino-en-ligne.example").blocked);
  unlink(path.c_str());
}

TEST(Snapshot, BuildIsDeterministic) {
  Result<std::string> a = BuildSnapshot(Extract(), SchoolProfile(), 3);
  Result<std::string> b = BuildSnapshot(Extract(), SchoolProfile(), 3);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(Snapshot, EveryCorruptionOrTruncationIsDetected) {
  SnapshotContents c;
  c.version = 1;
  c.categories = {{"games", false}};
  c.profile.blocked_categories = {"games"};
  for (int i = 0; i < 50; ++i) c.entries.push_back({HashDomain("h" + std::to_string(i) + ".fr"), 0});
  c.urls = {{0, "a.fr/x"}};
  Result<std::string> good = BuildSnapshot(c);
  ASSERT_TRUE(good.ok());
  ASSERT_NE(MustParse(*good), nullptr);
  // Flip each byte in turn: never accepted, never a crash.
  for (size_t i = 0; i < good->size(); ++i) {
    std::string bad = *good;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    Result<std::shared_ptr<const Snapshot>> s = Snapshot::Parse(bad);
    ASSERT_FALSE(s.ok()) << "flipped byte " << i << " accepted";
  }
  for (size_t n = 0; n < good->size(); ++n) {
    Result<std::shared_ptr<const Snapshot>> s = Snapshot::Parse(good->substr(0, n));
    ASSERT_FALSE(s.ok()) << "truncated to " << n << " accepted";
  }
  std::string flipped = *good;
  flipped[good->size() - 3] ^= 1;
  Result<std::shared_ptr<const Snapshot>> s = Snapshot::Parse(flipped);
  EXPECT_NE(s.status().message().find("SHA-256 mismatch"), std::string::npos)
      << s.status().message();
  s = Snapshot::Parse(good->substr(0, 100));
  EXPECT_NE(s.status().message().find("truncated"), std::string::npos) << s.status().message();
  s = Snapshot::Parse("hello, not a snapshot at all, hello, not a snapshot at all, hello, "
                      "not a snapshot at all");
  EXPECT_NE(s.status().message().find("bad magic"), std::string::npos) << s.status().message();
  EXPECT_FALSE(Snapshot::LoadFile("/nonexistent/snapshot").ok());
}

// The server cuts device snapshots from the full set; the cut must be exactly the snapshot
// built for that profile from the lists themselves.
TEST(Snapshot, CutFromTheFullSetEqualsTheSnapshotBuiltForTheProfile) {
  const Ut1Data& data = Extract();
  SnapshotOptions all;
  all.only_blocked_categories = false;
  Result<std::string> full = BuildSnapshot(data, FilterProfile{}, 1, all);
  ASSERT_TRUE(full.ok()) << full.status().message();
  auto parsed = MustParse(*full);
  Result<std::string> cut = CutSnapshot(*parsed, SchoolProfile(), 9);
  ASSERT_TRUE(cut.ok()) << cut.status().message();
  Result<std::string> built = BuildSnapshot(data, SchoolProfile(), 9);
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(*cut, *built);
  EXPECT_LT(MustParse(*cut)->entry_count(), parsed->entry_count());
  FilterProfile unknown = SchoolProfile();
  unknown.blocked_categories.push_back("no-such-category");
  EXPECT_FALSE(CutSnapshot(*parsed, unknown, 10).ok());
}

// The doh category's names travel in plain form (the agent resolves them for the
// firewall), only to profiles that block doh, and with deltas as lists change.
TEST(Snapshot, CarriesTheDohNamesToProfilesThatBlockDoh) {
  const Ut1Data& data = Extract();
  const Ut1Category* doh = data.Find("doh");
  ASSERT_NE(doh, nullptr);
  std::vector<std::string> want = doh->domains;
  std::sort(want.begin(), want.end());
  ASSERT_GT(want.size(), 1000u);
  SnapshotOptions all;
  all.only_blocked_categories = false;
  Result<std::string> full = BuildSnapshot(data, FilterProfile{}, 1, all);
  ASSERT_TRUE(full.ok()) << full.status().message();
  auto parsed = MustParse(*full);
  EXPECT_EQ(parsed->NamesIn("doh"), want);
  EXPECT_TRUE(parsed->NamesIn("gambling").empty());  // big lists stay hashes only
  auto with = MustParse(*CutSnapshot(*parsed, SchoolProfile(), 2));
  EXPECT_EQ(with->NamesIn("doh"), want);
  FilterProfile no_doh;
  no_doh.blocked_categories = {"gambling"};
  auto without = MustParse(*CutSnapshot(*parsed, no_doh, 3));
  EXPECT_TRUE(without->NamesIn("doh").empty());
  // Turning doh on by a delta brings the names; off, takes them away.
  Result<std::string> on = MakeDelta(*without, *with);
  ASSERT_TRUE(on.ok()) << on.status().message();
  Result<std::shared_ptr<const Snapshot>> applied = ApplyDelta(*without, *on);
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  EXPECT_EQ((*applied)->NamesIn("doh"), want);
  Result<std::shared_ptr<const Snapshot>> off = ApplyDelta(*with, *MakeDelta(*with, *without));
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_TRUE((*off)->NamesIn("doh").empty());
}

TEST(Snapshot, DeltaFromAToBGivesExactlyB) {
  const Ut1Data& data = Extract();
  FilterProfile pa = SchoolProfile();
  FilterProfile pb = SchoolProfile();
  pb.blocked_categories = {"gambling", "games", "vpn", "chat"};  // drops doh/dating, adds two
  pb.allow.push_back("another.example");
  Result<std::string> a = BuildSnapshot(data, pa, 10);
  Result<std::string> b = BuildSnapshot(data, pb, 11);
  ASSERT_TRUE(a.ok() && b.ok());
  auto sa = MustParse(*a);
  auto sb = MustParse(*b);
  Result<std::string> delta = MakeDelta(*sa, *sb);
  ASSERT_TRUE(delta.ok()) << delta.status().message();
  EXPECT_LT(delta->size(), b->size());
  Result<std::shared_ptr<const Snapshot>> applied = ApplyDelta(*sa, *delta);
  ASSERT_TRUE(applied.ok()) << applied.status().message();
  EXPECT_EQ((*applied)->bytes(), *b);
  const auto& sc = *applied;
  EXPECT_EQ(sc->sha256_hex(), sb->sha256_hex());
  EXPECT_EQ(sc->entry_count(), sb->entry_count());
  for (const auto& cat : data.categories) {  // b blocks gambling, not dating: so does c
    if (cat.name != "gambling" && cat.name != "dating") continue;
    ASSERT_FALSE(cat.domains.empty());
    EXPECT_EQ(sc->Decide("www." + cat.domains.front()).blocked, cat.name == "gambling")
        << cat.name;
  }
  EXPECT_EQ(sc->version(), 11u);
  // A delta applied to the wrong base is refused; a damaged delta is refused.
  Result<std::shared_ptr<const Snapshot>> wrong = ApplyDelta(*sb, *delta);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("version 10"), std::string::npos);
  for (size_t i : {size_t{0}, size_t{20}, size_t{110}, delta->size() / 2, delta->size() - 1}) {
    std::string bad = *delta;
    bad[i] ^= 0x21;
    EXPECT_FALSE(ApplyDelta(*sa, bad).ok()) << "byte " << i;
  }
  EXPECT_FALSE(ApplyDelta(*sa, delta->substr(0, delta->size() - 5)).ok());
  // An empty delta (same content, new version) also works.
  Result<std::string> a2 = BuildSnapshot(data, pa, 12);
  Result<std::string> d2 = MakeDelta(*sa, *MustParse(*a2));
  ASSERT_TRUE(d2.ok());
  Result<std::shared_ptr<const Snapshot>> applied2 = ApplyDelta(*sa, *d2);
  ASSERT_TRUE(applied2.ok()) << applied2.status().message();
  EXPECT_EQ((*applied2)->bytes(), *a2);
}

}  // namespace
}  // namespace preau::filter
