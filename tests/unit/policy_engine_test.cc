// The agent's policy engine with a ManualClock and the simulated platform: bundles refused
// for each reason, curfew and Wi-Fi switching at the right minute (across midnight, on a
// holiday, across a DST change, with the idle timeout), and a restart that keeps enforcing
// from the persisted bundle with no server.
#include "agent/policy/policy_engine.h"

#include <gtest/gtest.h>

#include <chrono>

#include "agent/enforce/default_enforcers.h"
#include "agent/platform/platform.h"
#include "common/pki.h"
#include "common/policy/bundle.h"
#include "common/policy/policy_parser.h"

namespace preau::agent {
namespace {

constexpr int64_t kMinute = 60'000;

// Unix ms of a UTC wall time.
int64_t UtcMs(int y, unsigned mo, unsigned d, int h, int mi) {
  using namespace std::chrono;
  sys_days date = year(y) / month(mo) / day(d);
  return (int64_t{date.time_since_epoch().count()} * 86400 + h * 3600 + mi * 60) * 1000;
}
// Unix ms of a Paris wall time in winter (CET, UTC+1).
int64_t ParisWinter(int y, unsigned mo, unsigned d, int h, int mi) {
  return UtcMs(y, mo, d, h, mi) - 3600'000;
}

v1::PolicySpec Example(const std::string& name) {
  auto r = policy::ParsePolicyFile(std::string(PREAU_SOURCE_DIR) + "/policies/" + name,
                                   {policy::Completeness::kEffective});
  EXPECT_TRUE(r.ok()) << policy::FormatErrors(r.errors);
  return r.ok() ? r.policy->spec : v1::PolicySpec{};
}

class FailingStore final : public PolicyStore {
 public:
  Status SaveBundle(const std::string&) override { return Unavailable("disk full"); }
  std::optional<std::string> LoadBundle() override { return std::nullopt; }
};

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto key = pki::GenerateKey();
    ASSERT_TRUE(key.ok()) << key.status().message();
    key_ = *key;
    platform_ = MakeSimPlatform(42);
    engine_ = MakeEngine(&store_, platform_.get());
  }

  std::unique_ptr<PolicyEngine> MakeEngine(PolicyStore* store, Platform* platform) {
    return std::make_unique<PolicyEngine>(
        PolicyEngineOptions{"tab-0042", key_.public_key_pem, &clock_}, store,
        MakeDefaultEnforcers(platform));
  }

  v1::SignedPolicyBundle Bundle(const v1::PolicySpec& spec, uint64_t version,
                                const std::string& device = "tab-0042",
                                const std::string* key = nullptr) {
    auto s = policy::SignBundle(policy::MakeBundle(spec.name(), version, device, spec, 1),
                                key ? *key : key_.private_key_pem);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return *s;
  }

  SimState Sim() { return *ReadSimState(*platform_); }

  // Moves the clock and enforces, as the agent's minute tick does.
  v1::ComplianceReport At(int64_t ms) {
    clock_.Set(ms);
    return engine_->Enforce();
  }

  static const v1::RuleResult* Rule(const v1::ComplianceReport& r, const std::string& name) {
    for (const auto& rule : r.rules()) {
      if (rule.rule() == name) return &rule;
    }
    return nullptr;
  }

  pki::KeyPair key_;
  ManualClock clock_{ParisWinter(2025, 11, 17, 12, 0)};
  MemoryPolicyStore store_;
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<PolicyEngine> engine_;
};

TEST_F(PolicyEngineTest, AcceptedBundleIsReportedRuleByRule) {
  v1::ComplianceReport r = engine_->Apply(Bundle(Example("college-tablette-domicile.yaml"), 1));
  ASSERT_TRUE(r.accepted()) << r.refusal();
  EXPECT_EQ(r.policy_name(), "college-tablette-domicile");
  EXPECT_EQ(r.policy_version(), 1u);
  ASSERT_NE(Rule(r, "screen_lock"), nullptr);
  EXPECT_EQ(Rule(r, "screen_lock")->outcome(), v1::RULE_APPLIED);
  ASSERT_NE(Rule(r, "wifi"), nullptr);
  EXPECT_EQ(Rule(r, "wifi")->outcome(), v1::RULE_APPLIED);
  // Monday noon is outside school hours for this collège (12:00-13:30 lunch).
  EXPECT_EQ(Rule(r, "schedule")->reason(), "period: outside_school_hours");
  // What the platform interface cannot do is said, not hidden.
  ASSERT_NE(Rule(r, "restrictions"), nullptr);
  EXPECT_EQ(Rule(r, "restrictions")->outcome(), v1::RULE_NOT_SUPPORTED);
  EXPECT_EQ(Rule(r, "screen_lock.settings")->outcome(), v1::RULE_NOT_SUPPORTED);
  // Required apps cannot be installed without a package source: failed, with the reason.
  ASSERT_NE(Rule(r, "apps"), nullptr);
  EXPECT_EQ(Rule(r, "apps")->outcome(), v1::RULE_FAILED);
  EXPECT_NE(Rule(r, "apps")->reason().find("no package source"), std::string::npos);
  EXPECT_EQ(engine_->held_version(), 1u);
  EXPECT_TRUE(store_.LoadBundle().has_value());
}

TEST_F(PolicyEngineTest, EachBadBundleIsRefusedAndChangesNothing) {
  const v1::PolicySpec college = Example("college-tablette-domicile.yaml");
  ASSERT_TRUE(engine_->Apply(Bundle(college, 5)).accepted());
  const std::string persisted = *store_.LoadBundle();

  v1::SignedPolicyBundle tampered = Bundle(college, 6);
  v1::PolicyBundle b;
  ASSERT_TRUE(b.ParseFromString(tampered.bundle()));
  b.set_spec("");  // strip every rule
  tampered.set_bundle(b.SerializeAsString());
  pki::KeyPair other = *pki::GenerateKey();

  struct Case {
    const char* what;
    v1::SignedPolicyBundle bundle;
    const char* expected;
  } cases[] = {
      {"tampered", tampered, "the signature does not match its content"},
      {"older", Bundle(college, 4),
       "version 4 of 'college-tablette-domicile' is not newer "
       "than the version held (5)"},
      {"replayed", Bundle(college, 5), "is not newer than the version held (5)"},
      {"other key", Bundle(college, 6, "tab-0042", &other.private_key_pem),
       "this device trusts only key"},
      {"other device", Bundle(college, 6, "tab-0099"),
       "it is for device 'tab-0099', this is device 'tab-0042'"},
  };
  for (const auto& c : cases) {
    v1::ComplianceReport r = engine_->Apply(c.bundle);
    EXPECT_FALSE(r.accepted()) << c.what;
    EXPECT_NE(r.refusal().find(c.expected), std::string::npos) << c.what << ": " << r.refusal();
    EXPECT_EQ(r.rules_size(), 0) << c.what;
    EXPECT_EQ(engine_->held_version(), 5u) << c.what;
    EXPECT_EQ(*store_.LoadBundle(), persisted) << c.what;
  }
  EXPECT_TRUE(engine_->Apply(Bundle(college, 6)).accepted());
  EXPECT_EQ(engine_->held_version(), 6u);
}

TEST_F(PolicyEngineTest, BundleThatCannotBePersistedIsNotAdopted) {
  FailingStore failing;
  auto engine = MakeEngine(&failing, platform_.get());
  v1::ComplianceReport r = engine->Apply(Bundle(Example("enseignant.yaml"), 1));
  EXPECT_FALSE(r.accepted());
  EXPECT_EQ(r.refusal(), "policy bundle not kept: saving it failed: disk full");
  EXPECT_EQ(engine->held_version(), 0u);
  EXPECT_FALSE(engine->Evaluate().has_policy);
}

TEST_F(PolicyEngineTest, CurfewLocksAtTheRightMinuteAcrossMidnight) {
  ASSERT_TRUE(engine_->Apply(Bundle(Example("college-tablette-domicile.yaml"), 1)).accepted());
  At(ParisWinter(2025, 11, 17, 20, 59));
  EXPECT_FALSE(Sim().locked);
  At(ParisWinter(2025, 11, 17, 21, 0));
  EXPECT_TRUE(Sim().locked);
  EXPECT_EQ(Sim().lock_message, "Droit à la déconnexion : la tablette se réveille à 7 h.");
  At(ParisWinter(2025, 11, 18, 0, 30));  // Tuesday, after midnight
  EXPECT_TRUE(Sim().locked);
  At(ParisWinter(2025, 11, 18, 6, 59));
  EXPECT_TRUE(Sim().locked);
  EXPECT_EQ(engine_->Evaluate().period, "curfew");
  At(ParisWinter(2025, 11, 18, 7, 0));
  EXPECT_FALSE(Sim().locked);
  EXPECT_EQ(engine_->Evaluate().period, "outside_school_hours");
  At(ParisWinter(2025, 11, 18, 8, 0));
  DesiredState school = engine_->Evaluate();
  EXPECT_EQ(school.period, "school_hours");
  EXPECT_TRUE(school.apps_restricted);
  EXPECT_EQ(school.allowed_apps.size(), 4u);
}

TEST_F(PolicyEngineTest, HolidayHasNoSchoolHoursButKeepsTheCurfew) {
  ASSERT_TRUE(engine_->Apply(Bundle(Example("college-tablette-domicile.yaml"), 1)).accepted());
  At(ParisWinter(2025, 12, 22, 10, 0));  // a Monday in the Christmas holidays
  DesiredState d = engine_->Evaluate();
  EXPECT_EQ(d.period, "holiday");
  EXPECT_FALSE(d.apps_restricted);
  EXPECT_FALSE(Sim().locked);
  At(ParisWinter(2025, 12, 22, 21, 0));
  EXPECT_TRUE(Sim().locked);
  At(ParisWinter(2026, 1, 5, 10, 0));  // back to school
  EXPECT_EQ(engine_->Evaluate().period, "school_hours");
}

TEST_F(PolicyEngineTest, CurfewFollowsParisDaylightSavingTime) {
  ASSERT_TRUE(engine_->Apply(Bundle(Example("college-tablette-domicile.yaml"), 1)).accepted());
  // 29 March 2026: clocks go from 02:00 CET to 03:00 CEST; 07:00 local is 05:00 UTC.
  At(UtcMs(2026, 3, 29, 4, 59));
  EXPECT_TRUE(Sim().locked);
  At(UtcMs(2026, 3, 29, 5, 0));
  EXPECT_FALSE(Sim().locked);
  // The day before, still winter time, 07:00 local was 06:00 UTC.
  At(UtcMs(2026, 3, 28, 5, 30));
  EXPECT_TRUE(Sim().locked);
  At(UtcMs(2026, 3, 28, 6, 0));
  EXPECT_FALSE(Sim().locked);
}

TEST_F(PolicyEngineTest, WifiFollowsSlotsAndTurnsOffWhenIdle) {
  ASSERT_TRUE(engine_->Apply(Bundle(Example("eni-ecole-elementaire.yaml"), 1)).accepted());
  // Monday slot 09:00-09:45, idle timeout 15 minutes.
  At(ParisWinter(2025, 11, 17, 8, 59));
  EXPECT_FALSE(Sim().wifi_on);
  At(ParisWinter(2025, 11, 17, 9, 0));
  EXPECT_TRUE(Sim().wifi_on);
  At(ParisWinter(2025, 11, 17, 9, 10));
  engine_->NoteActivity();  // the class uses the display at 09:10
  At(ParisWinter(2025, 11, 17, 9, 24));
  EXPECT_TRUE(Sim().wifi_on);
  At(ParisWinter(2025, 11, 17, 9, 25));  // 15 minutes without activity
  EXPECT_FALSE(Sim().wifi_on);
  EXPECT_EQ(engine_->Evaluate().wifi_reason, "idle 15 min during slot monday 09:00-09:45");
  engine_->NoteActivity();  // activity again within the slot: back on
  At(ParisWinter(2025, 11, 17, 9, 26));
  EXPECT_TRUE(Sim().wifi_on);
  At(ParisWinter(2025, 11, 17, 9, 45));  // the slot ends
  EXPECT_FALSE(Sim().wifi_on);
  // Same Monday slot during the holidays: off.
  At(ParisWinter(2025, 12, 22, 9, 10));
  EXPECT_FALSE(Sim().wifi_on);
  EXPECT_EQ(engine_->Evaluate().wifi_reason, "holiday");
}

TEST_F(PolicyEngineTest, TeacherDemandHoldsUntilIdleTimeout) {
  ASSERT_TRUE(engine_->Apply(Bundle(Example("eni-ecole-elementaire.yaml"), 1)).accepted());
  At(ParisWinter(2025, 11, 18, 14, 0));  // Tuesday afternoon: no slot
  EXPECT_FALSE(Sim().wifi_on);
  engine_->SetTeacherWifiDemand(true);
  At(ParisWinter(2025, 11, 18, 14, 0) + 1);
  EXPECT_TRUE(Sim().wifi_on);
  EXPECT_EQ(engine_->Evaluate().wifi_reason, "teacher demand");
  At(ParisWinter(2025, 11, 18, 14, 5));
  engine_->NoteActivity();
  At(ParisWinter(2025, 11, 18, 14, 19));
  EXPECT_TRUE(Sim().wifi_on);
  At(ParisWinter(2025, 11, 18, 14, 20));  // 15 minutes after the last activity
  EXPECT_FALSE(Sim().wifi_on);
  engine_->NoteActivity();  // an expired demand is not revived by activity
  At(ParisWinter(2025, 11, 18, 14, 21));
  EXPECT_FALSE(Sim().wifi_on);
  // A teacher's "off" ends the demand at once.
  engine_->SetTeacherWifiDemand(true);
  At(ParisWinter(2025, 11, 18, 14, 22));
  EXPECT_TRUE(Sim().wifi_on);
  engine_->SetTeacherWifiDemand(false);
  At(ParisWinter(2025, 11, 18, 14, 23));
  EXPECT_FALSE(Sim().wifi_on);
}

TEST_F(PolicyEngineTest, RestartedEngineKeepsEnforcingFromThePersistedBundle) {
  ASSERT_TRUE(engine_->Apply(Bundle(Example("college-tablette-domicile.yaml"), 3)).accepted());
  engine_.reset();  // the agent stops; the device reboots with a fresh platform

  platform_ = MakeSimPlatform(42);
  engine_ = MakeEngine(&store_, platform_.get());
  EXPECT_FALSE(engine_->Evaluate().has_policy);
  ASSERT_TRUE(engine_->Load().ok());
  EXPECT_EQ(engine_->held_version(), 3u);
  At(ParisWinter(2025, 11, 20, 22, 30));  // offline, at night
  EXPECT_TRUE(Sim().locked);
  At(ParisWinter(2025, 11, 21, 7, 0));
  EXPECT_FALSE(Sim().locked);
  // The held version survives too: a replay of an older bundle is still refused.
  EXPECT_FALSE(engine_->Apply(Bundle(Example("enseignant.yaml"), 2)).accepted());
}

TEST_F(PolicyEngineTest, LoadRefusesAPersistedBundleForAnotherKey) {
  MemoryPolicyStore store;
  pki::KeyPair other = *pki::GenerateKey();
  ASSERT_TRUE(
      store
          .SaveBundle(Bundle(Example("enseignant.yaml"), 1, "tab-0042", &other.private_key_pem)
                          .SerializeAsString())
          .ok());
  auto engine = MakeEngine(&store, platform_.get());
  Status st = engine->Load();
  EXPECT_EQ(st.code(), Code::kUnauthenticated);
  EXPECT_NE(st.message().find("persisted policy bundle: "), std::string::npos) << st.message();
  EXPECT_EQ(engine->held_version(), 0u);
  MemoryPolicyStore empty;
  EXPECT_EQ(MakeEngine(&empty, platform_.get())->Load().code(), Code::kNotFound);
}

TEST_F(PolicyEngineTest, TeacherLockAndCurfewCombine) {
  ASSERT_TRUE(engine_->Apply(Bundle(Example("college-tablette-domicile.yaml"), 1)).accepted());
  ClassControl teacher{true, "Regardez le tableau", "", ""};
  clock_.Set(ParisWinter(2025, 11, 17, 18, 0));
  engine_->Enforce(teacher);
  EXPECT_TRUE(Sim().locked);
  EXPECT_EQ(Sim().lock_message, "Regardez le tableau");
  engine_->Enforce({});  // the teacher unlocks
  EXPECT_FALSE(Sim().locked);
  clock_.Set(ParisWinter(2025, 11, 17, 21, 30));
  engine_->Enforce(teacher);
  engine_->Enforce({});  // a teacher's unlock does not lift the curfew
  EXPECT_TRUE(Sim().locked);
  EXPECT_EQ(Sim().lock_message, "Droit à la déconnexion : la tablette se réveille à 7 h.");
}

TEST_F(PolicyEngineTest, KioskFocusesTheDevice) {
  v1::PolicySpec spec = Example("enseignant.yaml");
  spec.mutable_kiosk()->set_app("org.openboard.openboard");
  ASSERT_TRUE(engine_->Apply(Bundle(spec, 1)).accepted());
  EXPECT_EQ(Sim().focus_app, "org.openboard.openboard");
  // A teacher's focus replaces the kiosk for the lesson, then the kiosk comes back.
  engine_->Enforce(ClassControl{false, "", "fr.lumni.app", ""});
  EXPECT_EQ(Sim().focus_app, "fr.lumni.app");
  engine_->Enforce({});
  EXPECT_EQ(Sim().focus_app, "org.openboard.openboard");
}

}  // namespace
}  // namespace preau::agent
