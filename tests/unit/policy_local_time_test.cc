// Local time from POSIX TZ rules: the offline time zone handling schedules rely on.
#include <gtest/gtest.h>

#include "common/policy/local_time.h"

namespace preau::policy {
namespace {

constexpr int64_t kHour = 3600'000;
// 2026-03-29T00:00:00Z and 2026-10-25T00:00:00Z (the EU DST change days of 2026).
constexpr int64_t kMarch29 = 1774742400'000;
constexpr int64_t kOctober25 = 1792886400'000;

TEST(LocalTimeTest, ParisChangesOffsetOnTheLastSundays) {
  auto paris = TimeZoneRule::Parse("CET-1CEST,M3.5.0,M10.5.0/3");
  ASSERT_TRUE(paris.ok()) << paris.status().message();
  LocalTime before = paris->ToLocal(kMarch29 + kHour - 1);  // 00:59:59Z
  EXPECT_EQ(before.minute_of_day, 1 * 60 + 59);
  EXPECT_EQ(before.utc_offset_seconds, 3600);
  EXPECT_EQ(before.weekday, 7);
  EXPECT_EQ(before.Date(), "2026-03-29");
  LocalTime after = paris->ToLocal(kMarch29 + kHour);  // 01:00Z
  EXPECT_EQ(after.minute_of_day, 3 * 60);
  EXPECT_EQ(after.utc_offset_seconds, 7200);
  EXPECT_EQ(paris->ToLocal(kOctober25 + kHour - 1).utc_offset_seconds, 7200);
  EXPECT_EQ(paris->ToLocal(kOctober25 + kHour).utc_offset_seconds, 3600);
}

TEST(LocalTimeTest, ZonesOfFrenchSchools) {
  for (const char* zone : {"Europe/Paris", "Indian/Reunion", "America/Cayenne", "UTC"}) {
    auto posix = PosixRuleForZone(zone);
    ASSERT_TRUE(posix.ok()) << zone << ": " << posix.status().message();
    EXPECT_TRUE(TimeZoneRule::Parse(*posix).ok()) << zone << ": " << *posix;
  }
  auto reunion = TimeZoneRule::Parse(*PosixRuleForZone("Indian/Reunion"));
  EXPECT_EQ(reunion->ToLocal(kMarch29).minute_of_day, 4 * 60);
  EXPECT_EQ(PosixRuleForZone("Europe/Atlantis").status().message(),
            "unknown time zone 'Europe/Atlantis' (use an IANA name such as Europe/Paris)");
  EXPECT_FALSE(TimeZoneRule::Parse("CET-1CEST,M13.5.0,M10.5.0").ok());
}

TEST(LocalTimeTest, BeforeTheEpochAndAcrossMidnight) {
  TimeZoneRule utc = TimeZoneRule::Utc();
  LocalTime t = utc.ToLocal(-1);  // 1969-12-31T23:59:59.999Z
  EXPECT_EQ(t.Date(), "1969-12-31");
  EXPECT_EQ(t.minute_of_day, 23 * 60 + 59);
  EXPECT_EQ(t.weekday, 3);
}

}  // namespace
}  // namespace preau::policy
