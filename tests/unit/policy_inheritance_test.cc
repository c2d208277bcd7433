// Inheritance: authority → school → class → device, the closest level wins leaf by leaf,
// lists are replaced, and conflicts of the combined policy point at the level to fix.
#include <gtest/gtest.h>

#include "common/policy/inheritance.h"
#include "common/policy/policy_parser.h"

namespace preau::policy {
namespace {

PolicyLevel Level(const std::string& level, const std::string& file, const std::string& yaml) {
  ParseResult r = ParsePolicy(yaml, file);
  EXPECT_TRUE(r.ok()) << FormatErrors(r.errors);
  PolicyLevel out{level, file, {}, {}};
  if (r.ok()) {
    out.spec = r.policy->spec;
    out.lines = r.policy->lines;
  }
  return out;
}

PolicyLevel FromFile(const std::string& level, const std::string& name) {
  std::string path = std::string(PREAU_SOURCE_DIR) + "/policies/heritage/" + name;
  ParseResult r = ParsePolicyFile(path);
  EXPECT_TRUE(r.ok()) << FormatErrors(r.errors);
  return PolicyLevel{level, name, r.ok() ? r.policy->spec : v1::PolicySpec{},
                     r.ok() ? r.policy->lines : SourceMap{}};
}

TEST(PolicyInheritanceTest, ShippedChainResolvesKeyByKey) {
  ResolvedPolicy p =
      ResolvePolicy({FromFile("authority", "1-ville.yaml"),
                     FromFile("school", "2-ecole-jaures.yaml"), FromFile("class", "3-cm2-b.yaml")});
  ASSERT_TRUE(p.ok()) << FormatErrors(p.errors);
  const v1::PolicySpec& s = p.spec;
  EXPECT_EQ(s.name(), "cm2-b");                    // closest level
  EXPECT_EQ(s.timezone().name(), "Europe/Paris");  // authority only
  // Wi-Fi: mode and teacher_demand from the town, idle from the school, slots day by day.
  EXPECT_EQ(s.wifi().mode(), v1::WIFI_SCHEDULED);
  EXPECT_TRUE(s.wifi().teacher_demand());
  EXPECT_EQ(s.wifi().idle_off_minutes(), 10u);
  ASSERT_EQ(s.wifi().slots().monday().slots_size(), 1);
  EXPECT_EQ(s.wifi().slots().monday().slots(0).start(), 14 * 60u);  // class replaced Monday
  ASSERT_EQ(s.wifi().slots().thursday().slots_size(), 1);
  EXPECT_EQ(s.wifi().slots().thursday().slots(0).start(), 9 * 60u);  // town's Thursday kept
  EXPECT_EQ(s.wifi().slots().friday().slots(0).start(), 10 * 60u);   // class added Friday
  // Wednesday school hours from the school; Monday from the town.
  EXPECT_EQ(s.schedule().school_hours().wednesday().slots_size(), 1);
  EXPECT_EQ(s.schedule().school_hours().monday().slots_size(), 2);
  // Lists are replaced, not merged.
  EXPECT_EQ(s.apps().blocked().items_size(), 3);
  EXPECT_EQ(s.apps().blocked().items(2), "com.roblox.client");
  // Restrictions: camera from the class, the others from the town.
  EXPECT_TRUE(s.restrictions().allow_camera());
  EXPECT_FALSE(s.restrictions().allow_usb_storage());
  EXPECT_TRUE(s.restrictions().has_allow_usb_storage());
  // Origins say which level won each leaf.
  EXPECT_EQ(p.origin.at("wifi.idle_off_minutes"), 1u);
  EXPECT_EQ(p.origin.at("wifi.slots.monday"), 2u);
  EXPECT_EQ(p.origin.at("wifi.slots.thursday"), 0u);
  EXPECT_EQ(p.origin.at("restrictions.allow_camera"), 2u);
  EXPECT_EQ(p.origin.at("apps.blocked"), 1u);
  EXPECT_EQ(p.origin.count("apps"), 0u);  // blocks are not leaves
}

TEST(PolicyInheritanceTest, EmptyListClearsAndFalseOverridesTrue) {
  ResolvedPolicy p =
      ResolvePolicy({Level("authority", "a.yaml",
                           "apps: {blocked: [x.y], required: [r.s]}\n"
                           "web_filter: {safe_search: true, categories: [adult, games]}\n"
                           "kiosk: {app: k.k}\n"),
                     Level("school", "s.yaml",
                           "apps: {blocked: []}\n"
                           "web_filter: {safe_search: false}\n"
                           "kiosk: {app: ''}\n")},
                    Completeness::kFragment);
  ASSERT_TRUE(p.ok()) << FormatErrors(p.errors);
  EXPECT_TRUE(p.spec.apps().has_blocked());
  EXPECT_EQ(p.spec.apps().blocked().items_size(), 0);
  EXPECT_EQ(p.spec.apps().required().items(0), "r.s");
  EXPECT_FALSE(p.spec.web_filter().safe_search());
  EXPECT_EQ(p.spec.web_filter().categories().items_size(), 2);
  EXPECT_TRUE(p.spec.kiosk().app().empty());
}

TEST(PolicyInheritanceTest, CurfewKeysInheritOneByOne) {
  ResolvedPolicy p = ResolvePolicy(
      {Level("authority", "a.yaml",
             "timezone: Europe/Paris\nschedule: {curfew: {start: '21:00', end: '07:00'}}\n"),
       Level("device", "d.yaml", "schedule: {curfew: {end: '06:30'}}\n")});
  ASSERT_TRUE(p.ok()) << FormatErrors(p.errors);
  EXPECT_EQ(p.spec.schedule().curfew().start(), 21 * 60u);
  EXPECT_EQ(p.spec.schedule().curfew().end(), 6 * 60u + 30);

  ResolvedPolicy off = ResolvePolicy(
      {Level("authority", "a.yaml", "schedule: {curfew: {start: '21:00', end: '07:00'}}\n"),
       Level("class", "c.yaml", "schedule: {curfew: {enabled: false}}\n")});
  ASSERT_TRUE(off.ok()) << FormatErrors(off.errors);
  EXPECT_FALSE(off.spec.schedule().curfew().enabled());
}

TEST(PolicyInheritanceTest, ConflictsAcrossLevelsPointAtTheLevelThatSetTheKey) {
  ResolvedPolicy p =
      ResolvePolicy({Level("authority", "ville.yaml", "apps:\n  blocked: [com.game]\n"),
                     Level("class", "cm2.yaml", "name: cm2\nkiosk:\n  app: com.game\n")});
  ASSERT_EQ(p.errors.size(), 1u) << FormatErrors(p.errors);
  EXPECT_EQ(p.errors[0].ToString(),
            "cm2.yaml:3: kiosk.app: the kiosk app 'com.game' is blocked in apps.blocked");

  ResolvedPolicy wifi =
      ResolvePolicy({Level("authority", "ville.yaml",
                           "timezone: UTC\nwifi:\n  slots:\n    monday: ['21:30-22:00']\n"),
                     Level("school", "ecole.yaml",
                           "schedule:\n  curfew:\n    start: '21:00'\n    end: '07:00'\n")});
  ASSERT_EQ(wifi.errors.size(), 1u) << FormatErrors(wifi.errors);
  EXPECT_EQ(wifi.errors[0].ToString(),
            "ville.yaml:4: wifi.slots.monday[0]: '21:30-22:00' lies entirely within the curfew "
            "(21:00-07:00): the radio could never be used");
}

}  // namespace
}  // namespace preau::policy
