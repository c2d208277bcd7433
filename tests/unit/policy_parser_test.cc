// Policy YAML parsing and validation: every error must name file, line and key, all errors
// come back at once, and the shipped examples must pass.
#include "common/policy/policy_parser.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/policy/local_time.h"

namespace preau::policy {
namespace {

std::string Examples(const std::string& name) {
  return std::string(PREAU_SOURCE_DIR) + "/policies/" + name;
}

// The errors of `yaml` parsed as "eni.yaml", one "file:line: key: message" string each.
std::vector<std::string> Errors(const std::string& yaml, Completeness c = Completeness::kFragment) {
  ParseResult r = ParsePolicy(yaml, "eni.yaml", ParseOptions{c});
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.ToString());
  EXPECT_EQ(r.ok(), out.empty());
  EXPECT_EQ(r.policy.has_value(), out.empty());
  return out;
}

bool HasError(const std::vector<std::string>& errors, const std::string& expected) {
  return std::find(errors.begin(), errors.end(), expected) != errors.end();
}

std::string Dump(const std::vector<std::string>& errors) {
  std::string s;
  for (const auto& e : errors) s += "\n  " + e;
  return s;
}

#define EXPECT_ERROR(errors, text) EXPECT_TRUE(HasError(errors, text)) << Dump(errors)

TEST(PolicyParserTest, ShippedExamplesAreValidStandalonePolicies) {
  for (const char* name : {"eni-ecole-elementaire.yaml", "college-tablette-domicile.yaml",
                           "enseignant.yaml", "heritage/1-ville.yaml"}) {
    ParseResult r = ParsePolicyFile(Examples(name), ParseOptions{Completeness::kEffective});
    EXPECT_TRUE(r.ok()) << name << ":\n" << FormatErrors(r.errors);
  }
  for (const char* name : {"heritage/2-ecole-jaures.yaml", "heritage/3-cm2-b.yaml"}) {
    ParseResult r = ParsePolicyFile(Examples(name));
    EXPECT_TRUE(r.ok()) << name << ":\n" << FormatErrors(r.errors);
  }
}

TEST(PolicyParserTest, ExampleCompilesToTheExpectedSpec) {
  ParseResult r = ParsePolicyFile(Examples("college-tablette-domicile.yaml"));
  ASSERT_TRUE(r.ok()) << FormatErrors(r.errors);
  const v1::PolicySpec& s = r.policy->spec;
  EXPECT_EQ(s.name(), "college-tablette-domicile");
  EXPECT_EQ(s.timezone().name(), "Europe/Paris");
  EXPECT_TRUE(TimeZoneRule::Parse(s.timezone().posix()).ok()) << s.timezone().posix();
  EXPECT_EQ(s.schedule().curfew().start(), 21 * 60u);
  EXPECT_EQ(s.schedule().curfew().end(), 7 * 60u);
  EXPECT_EQ(s.schedule().curfew().mode(), v1::PERIOD_LOCK);
  EXPECT_EQ(s.schedule().school_hours().monday().slots_size(), 2);
  EXPECT_EQ(s.schedule().school_hours().tuesday().slots(1).end(), 17 * 60u);  // via anchor
  EXPECT_TRUE(s.schedule().school_hours().has_saturday());
  EXPECT_EQ(s.schedule().school_hours().saturday().slots_size(), 0);
  EXPECT_EQ(s.apps().blocked().items_size(), 4);
  EXPECT_FALSE(s.apps().has_allowed());
  EXPECT_EQ(s.schedule().holidays().items(0).from(), "2025-10-18");
  EXPECT_EQ(s.updates().days().days_size(), 7);
  EXPECT_TRUE(s.restrictions().allow_camera());
  EXPECT_FALSE(s.restrictions().allow_usb_storage());
  EXPECT_TRUE(s.restrictions().has_allow_usb_storage());
  EXPECT_EQ(r.policy->lines.LineOf("schedule.curfew.start"), 51);
}

TEST(PolicyParserTest, BadTimeNamesFileLineAndKey) {
  auto errors = Errors(
      "name: x\n"
      "schedule:\n"
      "  curfew:\n"
      "    start: '25:00'\n"
      "    end: 7h\n");
  EXPECT_ERROR(errors, "eni.yaml:4: schedule.curfew.start: '25:00' is not a time HH:MM");
  EXPECT_ERROR(errors, "eni.yaml:5: schedule.curfew.end: '7h' is not a time HH:MM");
  EXPECT_EQ(errors.size(), 2u) << Dump(errors);
}

TEST(PolicyParserTest, UnknownKeysAreRefusedWithASuggestion) {
  auto errors = Errors(
      "name: x\n"
      "apps:\n"
      "  blokced: [a.b]\n"
      "wifii:\n"
      "  mode: always_on\n"
      "schedule:\n"
      "  school_hours:\n"
      "    lundi: ['08:30-11:30']\n"
      "colour: blue\n");
  EXPECT_ERROR(errors, "eni.yaml:3: apps.blokced: unknown key (did you mean 'blocked'?)");
  EXPECT_ERROR(errors, "eni.yaml:4: wifii: unknown key (did you mean 'wifi'?)");
  EXPECT_ERROR(errors,
               "eni.yaml:8: schedule.school_hours.lundi: unknown key (did you mean "
               "'monday'?)");
  ASSERT_EQ(errors.size(), 4u) << Dump(errors);
  EXPECT_NE(errors[3].find("eni.yaml:9: colour: unknown key (known keys here: name, "),
            std::string::npos)
      << errors[3];
}

TEST(PolicyParserTest, BadValuesAreNamed) {
  auto errors = Errors(
      "wifi:\n"
      "  mode: sheduled\n"
      "  idle_off_minutes: 0\n"
      "  teacher_demand: maybe\n"
      "screen_lock:\n"
      "  idle_minutes: -5\n"
      "web_filter:\n"
      "  allow: ['https://lumni.fr/']\n"
      "timezone: Mars/Olympus\n"
      "apps:\n"
      "  blocked:\n"
      "kiosk:\n"
      "  app: 'bad app'\n");
  EXPECT_ERROR(errors,
               "eni.yaml:2: wifi.mode: 'sheduled' is not one of: always_on, "
               "always_off, scheduled (did you mean 'scheduled'?)");
  EXPECT_ERROR(errors,
               "eni.yaml:3: wifi.idle_off_minutes: '0' must be a positive number of "
               "minutes");
  EXPECT_ERROR(errors, "eni.yaml:4: wifi.teacher_demand: 'maybe' is not true or false");
  EXPECT_ERROR(errors,
               "eni.yaml:6: screen_lock.idle_minutes: '-5' must be a positive number "
               "of minutes");
  EXPECT_ERROR(errors,
               "eni.yaml:8: web_filter.allow[0]: 'https://lumni.fr/' is not a domain "
               "name (write example.org: lower case, no http:// and no path)");
  EXPECT_ERROR(errors,
               "eni.yaml:9: timezone: unknown time zone 'Mars/Olympus' (use an IANA "
               "name such as Europe/Paris)");
  EXPECT_ERROR(errors, "eni.yaml:11: apps.blocked: has no value (write [] for an empty list)");
  EXPECT_ERROR(errors,
               "eni.yaml:13: kiosk.app: 'bad app' is not an app id (letters, digits, "
               ". _ -)");
  EXPECT_EQ(errors.size(), 8u) << Dump(errors);
}

TEST(PolicyParserTest, DuplicateKeyAndYamlSyntaxErrors) {
  auto dup = Errors("name: a\nname: b\n");
  EXPECT_ERROR(dup, "eni.yaml:2: name: given twice (first on line 1)");
  auto syntax = Errors("apps:\n  blocked: [a, b\nwifi: {\n");
  ASSERT_EQ(syntax.size(), 1u);
  EXPECT_EQ(syntax[0].rfind("eni.yaml:", 0), 0u) << syntax[0];
  EXPECT_NE(syntax[0].find("not valid YAML"), std::string::npos) << syntax[0];
  auto empty = Errors("");
  EXPECT_ERROR(empty, "eni.yaml:1: the policy is empty");
}

TEST(PolicyParserTest, ImpossibleSchedulesAreRefused) {
  auto errors = Errors(
      "schedule:\n"
      "  school_hours:\n"
      "    monday: ['11:30-08:30']\n"
      "    tuesday: ['08:30-11:30', '11:00-12:00']\n"
      "  holidays:\n"
      "    - {name: Noel, from: 2026-01-04, to: 2025-12-20}\n"
      "    - {name: Bad, from: 2026-02-30, to: 2026-03-01}\n"
      "  curfew:\n"
      "    start: '21:00'\n"
      "    end: '21:00'\n"
      "wifi:\n"
      "  slots:\n"
      "    friday: ['10:00-09:00']\n");
  EXPECT_ERROR(errors,
               "eni.yaml:3: schedule.school_hours.monday[0]: '11:30-08:30' ends before "
               "it starts (only the curfew and the update window may cross midnight; "
               "split it into two days)");
  EXPECT_ERROR(errors,
               "eni.yaml:4: schedule.school_hours.tuesday[1]: '11:00-12:00' overlaps "
               "'08:30-11:30' (schedule.school_hours.tuesday[0])");
  EXPECT_ERROR(errors,
               "eni.yaml:6: schedule.holidays[0].to: holiday 'Noel' ends (2025-12-20) "
               "before it starts (2026-01-04)");
  EXPECT_ERROR(errors,
               "eni.yaml:7: schedule.holidays[1].from: '2026-02-30' is not a date "
               "YYYY-MM-DD");
  EXPECT_ERROR(errors,
               "eni.yaml:10: schedule.curfew.end: the curfew starts and ends at 21:00 "
               "(a curfew of 0 or 24 hours; use enabled: false or lock mode)");
  EXPECT_ERROR(errors,
               "eni.yaml:13: wifi.slots.friday[0]: '10:00-09:00' ends before it starts "
               "(only the curfew and the update window may cross midnight; split it "
               "into two days)");
  EXPECT_EQ(errors.size(), 6u) << Dump(errors);
}

TEST(PolicyParserTest, CurfewCrossingMidnightIsFine) {
  EXPECT_TRUE(Errors("timezone: Europe/Paris\n"
                     "schedule:\n  curfew: {start: '21:00', end: '07:00'}\n",
                     Completeness::kEffective)
                  .empty());
  auto no_zone =
      Errors("schedule:\n  curfew: {start: '21:00', end: '07:00'}\n", Completeness::kEffective);
  EXPECT_ERROR(no_zone,
               "eni.yaml: timezone: not set, but the policy has a schedule (times are "
               "local: say e.g. timezone: Europe/Paris)");
  EXPECT_TRUE(Errors("timezone: UTC\nupdates: {days: [friday], window: '22:00-05:00'}\n",
                     Completeness::kEffective)
                  .empty());
}

TEST(PolicyParserTest, ConflictingRulesAreExplained) {
  auto errors = Errors(
      "apps:\n"
      "  allowed: [app.a, app.b, app.c]\n"
      "  required: [app.a, app.x]\n"
      "  blocked: [app.a, app.c, app.k]\n"
      "kiosk:\n"
      "  app: app.k\n");
  EXPECT_ERROR(errors,
               "eni.yaml:2: apps.allowed[0]: 'app.a' is both allowed and blocked "
               "(apps.blocked)");
  EXPECT_ERROR(errors,
               "eni.yaml:2: apps.allowed[2]: 'app.c' is both allowed and blocked "
               "(apps.blocked)");
  EXPECT_ERROR(errors,
               "eni.yaml:3: apps.required[0]: 'app.a' is both required and blocked "
               "(apps.blocked): it would be installed and removed in turn");
  EXPECT_ERROR(errors,
               "eni.yaml:3: apps.required[1]: 'app.x' is required but not in "
               "apps.allowed: it would be installed and never usable");
  EXPECT_ERROR(errors,
               "eni.yaml:6: kiosk.app: the kiosk app 'app.k' is blocked in "
               "apps.blocked");
  EXPECT_EQ(errors.size(), 5u) << Dump(errors);

  auto kiosk = Errors(
      "apps: {allowed: [app.a]}\n"
      "kiosk: {app: app.z}\n"
      "schedule:\n"
      "  curfew: {start: '21:00', end: '07:00', mode: listed_apps, apps: [app.a]}\n");
  EXPECT_ERROR(kiosk,
               "eni.yaml:2: kiosk.app: the kiosk app 'app.z' is not in apps.allowed, "
               "so it could never run");
  EXPECT_ERROR(kiosk,
               "eni.yaml:4: schedule.curfew.apps: the kiosk app 'app.z' is not in this "
               "list, so during the curfew the device could run nothing");
}

TEST(PolicyParserTest, WifiSlotInsideCurfewIsAConflict) {
  auto errors = Errors(
      "schedule:\n"
      "  curfew: {start: '21:00', end: '07:00'}\n"
      "wifi:\n"
      "  mode: scheduled\n"
      "  slots:\n"
      "    monday: ['06:00-06:30', '06:30-07:30', '21:30-22:00']\n");
  EXPECT_ERROR(errors,
               "eni.yaml:6: wifi.slots.monday[0]: '06:00-06:30' lies entirely within "
               "the curfew (21:00-07:00): the radio could never be used");
  EXPECT_ERROR(errors,
               "eni.yaml:6: wifi.slots.monday[2]: '21:30-22:00' lies entirely within "
               "the curfew (21:00-07:00): the radio could never be used");
  EXPECT_EQ(errors.size(), 2u) << Dump(errors);  // 06:30-07:30 is partly usable
  // With listed apps during the curfew the device is not locked: no conflict.
  EXPECT_TRUE(Errors("apps: {}\n"
                     "schedule:\n"
                     "  curfew: {start: '21:00', end: '07:00', mode: listed_apps, apps: [a.b]}\n"
                     "wifi: {slots: {monday: ['21:30-22:00']}}\n")
                  .empty());
}

TEST(PolicyParserTest, CompletenessIsOnlyRequiredOfEffectivePolicies) {
  const std::string fragment =
      "schedule:\n  curfew:\n    end: '06:30'\n"
      "wifi:\n  mode: scheduled\n";
  EXPECT_TRUE(Errors(fragment).empty());
  auto errors = Errors(fragment, Completeness::kEffective);
  EXPECT_ERROR(errors,
               "eni.yaml:2: schedule.curfew: a curfew needs both start and end (start "
               "is missing)");
  EXPECT_ERROR(errors,
               "eni.yaml:5: wifi.mode: scheduled, but wifi.slots has no slot: the radio "
               "would only come on on a teacher's demand (say mode: always_off to mean "
               "that)");
}

TEST(PolicyParserTest, PeriodModesNeedTheirApps) {
  auto errors = Errors(
      "schedule:\n"
      "  during_school_hours: {mode: listed_apps}\n"
      "  outside_school_hours: {mode: lock, apps: [a.b]}\n"
      "  curfew: {start: '21:00', end: '07:00', mode: any}\n");
  EXPECT_ERROR(errors,
               "eni.yaml:2: schedule.during_school_hours.apps: mode listed_apps needs "
               "at least one app (or use mode lock)");
  EXPECT_ERROR(errors,
               "eni.yaml:3: schedule.outside_school_hours.apps: apps are only used with "
               "mode listed_apps");
  EXPECT_ERROR(errors,
               "eni.yaml:4: schedule.curfew.mode: 'any' during the curfew is no curfew; "
               "use 'lock' or 'listed_apps', or enabled: false");
}

TEST(PolicyParserTest, MissingFileIsNamed) {
  ParseResult r = ParsePolicyFile("/nonexistent/eni.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(), "/nonexistent/eni.yaml: cannot read the file");
}

}  // namespace
}  // namespace preau::policy

namespace preau::policy {
namespace {

TEST(PolicyParserTest, WebFilterFailModeIsClosedUnlessThePolicySaysOpen) {
  ParseResult closed = ParsePolicy("web_filter:\n  categories: [gambling]\n", "eni.yaml", {});
  ASSERT_TRUE(closed.ok());
  EXPECT_FALSE(closed.policy->spec.web_filter().has_fail_open());
  ParseResult open = ParsePolicy("web_filter:\n  fail_open: true\n", "prof.yaml", {});
  ASSERT_TRUE(open.ok());
  EXPECT_TRUE(open.policy->spec.web_filter().fail_open());
  ParseResult bad = ParsePolicy("web_filter:\n  fail_open: sometimes\n", "eni.yaml", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.errors[0].ToString().find("eni.yaml:2: web_filter.fail_open"), std::string::npos)
      << bad.errors[0].ToString();
}

}  // namespace
}  // namespace preau::policy
