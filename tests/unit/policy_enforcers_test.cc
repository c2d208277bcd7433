// Enforcers driving the simulated platform, and a platform without capabilities that must
// get "not supported" rather than silence.
#include <gtest/gtest.h>

#include "agent/enforce/allow_list_enforcer.h"
#include "agent/enforce/app_enforcer.h"
#include "agent/enforce/focus_enforcer.h"
#include "agent/enforce/screen_lock_enforcer.h"
#include "agent/enforce/settings_enforcers.h"
#include "agent/enforce/wifi_enforcer.h"
#include "agent/platform/platform.h"

namespace preau::agent {
namespace {

// A device that can do nothing the policy asks (every call would fail the test).
class BarePlatform final : public Platform {
 public:
  std::string Kind() const override { return "bare"; }
  Capabilities GetCapabilities() const override { return {}; }
  v1::Inventory CollectInventory() override {
    v1::Inventory inv;
    inv.add_apps()->set_id("com.game");
    return inv;
  }
  Status Lock(const std::string&, int64_t) override { return Fail("Lock"); }
  Status Unlock() override { return Fail("Unlock"); }
  bool IsLocked() override { return false; }
  LockCheck CheckLock() override { return {}; }
  Status Focus(const std::string&, const std::string&) override { return Fail("Focus"); }
  Status OpenUrl(const std::string&) override { return Fail("OpenUrl"); }
  Status SetWifiRadio(bool) override { return Fail("SetWifiRadio"); }
  Status InstallApp(const std::string&, const std::string&, const std::string&) override {
    return Fail("InstallApp");
  }
  Status RemoveApp(const std::string&) override { return Fail("RemoveApp"); }

 private:
  static Status Fail(const char* call) {
    ADD_FAILURE() << call << " called on a platform without the capability";
    return Internal(call);
  }
};

class EnforcersTest : public ::testing::Test {
 protected:
  SimState Sim() { return *ReadSimState(*sim_); }
  bool Installed(const std::string& id) {
    for (const auto& a : Sim().apps) {
      if (a.id() == id) return true;
    }
    return false;
  }
  std::unique_ptr<Platform> sim_ = MakeSimPlatform(7);
};

TEST_F(EnforcersTest, ScreenLockLocksRelocksAndUnlocksOnlyItsOwnLock) {
  ScreenLockEnforcer e(sim_.get());
  DesiredState d;
  d.locked = true;
  d.lock_message = "Couvre-feu";
  d.period = "curfew";
  EXPECT_EQ(e.Apply(d).outcome(), v1::RULE_APPLIED);
  EXPECT_TRUE(Sim().locked);
  SimForceUnlock(*sim_);  // a pupil lifts the lock
  EXPECT_FALSE(Sim().locked);
  e.Apply(d);
  EXPECT_TRUE(Sim().locked);
  d.locked = false;
  EXPECT_EQ(e.Apply(d).outcome(), v1::RULE_APPLIED);
  EXPECT_FALSE(Sim().locked);

  // A lock set by someone else (the user, another component) is left alone.
  ASSERT_TRUE(sim_->Lock("verrou de l'utilisateur").ok());
  e.Apply(d);
  EXPECT_TRUE(Sim().locked);
}

TEST_F(EnforcersTest, ScreenLockFailureIsReported) {
  ScreenLockEnforcer e(sim_.get());
  ASSERT_TRUE(SimFailNext(*sim_, "lock", "logind unavailable").ok());
  DesiredState d;
  d.locked = true;
  v1::RuleResult r = e.Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_FAILED);
  EXPECT_EQ(r.reason(), "lock: logind unavailable");
  EXPECT_EQ(e.Apply(d).outcome(), v1::RULE_APPLIED);  // retried at the next pass
  EXPECT_TRUE(Sim().locked);
}

TEST_F(EnforcersTest, WifiSwitchesTheRadio) {
  WifiEnforcer e(sim_.get());
  DesiredState d;
  EXPECT_EQ(e.Apply(d).outcome(), v1::RULE_OUTCOME_UNSPECIFIED);  // the policy says nothing
  EXPECT_TRUE(Sim().wifi_on);
  d.wifi_on = false;
  d.wifi_reason = "no scheduled activity";
  v1::RuleResult r = e.Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_APPLIED);
  EXPECT_EQ(r.reason(), "off (no scheduled activity)");
  EXPECT_FALSE(Sim().wifi_on);
  ASSERT_TRUE(SimFailNext(*sim_, "wifi", "rfkill: blocked").ok());
  d.wifi_on = true;
  r = e.Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_FAILED);
  EXPECT_EQ(r.reason(), "switching the radio on: rfkill: blocked");
  EXPECT_FALSE(Sim().wifi_on);
}

TEST_F(EnforcersTest, AppsRemovesBlockedAndInstallsRequired) {
  ASSERT_TRUE(sim_->InstallApp("com.game", "1.0", "/tmp/game.apk").ok());
  DesiredState d;
  d.blocked_apps = {"com.game"};
  d.required_apps = {"fr.ac.ent"};
  AppEnforcer without_source(sim_.get(), {});
  v1::RuleResult r = without_source.Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_FAILED);
  EXPECT_EQ(r.reason(), "required 'fr.ac.ent' is not installed (no package source yet)");
  EXPECT_FALSE(Installed("com.game"));

  AppEnforcer with_source(sim_.get(), [this](const std::string& id) {
    return sim_->InstallApp(id, "2.1", "/var/lib/preau/" + id + ".apk");
  });
  r = with_source.Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_APPLIED) << r.reason();
  EXPECT_TRUE(Installed("fr.ac.ent"));
  r = with_source.Apply(d);
  EXPECT_EQ(r.reason(), "1 required present, 1 blocked absent");
}

TEST_F(EnforcersTest, FocusFollowsKioskAndEndsIt) {
  FocusEnforcer e(sim_.get());
  DesiredState d;
  EXPECT_EQ(e.Apply(d).outcome(), v1::RULE_OUTCOME_UNSPECIFIED);
  d.focus_app = "org.openboard.openboard";
  EXPECT_EQ(e.Apply(d).outcome(), v1::RULE_APPLIED);
  EXPECT_EQ(Sim().focus_app, "org.openboard.openboard");
  d.focus_app.clear();
  v1::RuleResult r = e.Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_APPLIED);
  EXPECT_EQ(r.reason(), "no focus");
  EXPECT_EQ(Sim().focus_app, "");
}

TEST_F(EnforcersTest, UnenforceableRulesAreReportedNotSupported) {
  DesiredState d;
  d.apps_restricted = true;
  d.allowed_apps = {"a.a", "b.b", "c.c"};
  d.period = "school_hours";
  v1::RuleResult r = AllowListEnforcer(sim_.get()).Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_NOT_SUPPORTED);
  EXPECT_EQ(r.reason(), "this platform cannot limit the device to a list of 3 apps (school_hours)");

  d.restrictions.set_allow_camera(false);
  r = RestrictionsEnforcer(sim_.get()).Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_NOT_SUPPORTED);
  EXPECT_EQ(r.reason(), "the platform interface has no restrictions call yet (camera off)");
  EXPECT_EQ(RestrictionsEnforcer(sim_.get()).Apply(DesiredState{}).outcome(),
            v1::RULE_OUTCOME_UNSPECIFIED);

  d.screen_lock.set_idle_minutes(5);
  d.screen_lock.set_pin_required(true);
  r = ScreenLockSettingsEnforcer(sim_.get()).Apply(d);
  EXPECT_EQ(r.outcome(), v1::RULE_NOT_SUPPORTED);
  EXPECT_EQ(r.reason(), "the sim platform has no call to set idle lock after 5 min, PIN required");
}

TEST_F(EnforcersTest, MissingCapabilitiesGiveNotSupportedWithoutCallingThePlatform) {
  BarePlatform bare;
  DesiredState d;
  d.locked = true;
  d.period = "curfew";
  d.wifi_on = false;
  d.focus_app = "k.k";
  d.blocked_apps = {"com.game"};
  d.restrictions.set_allow_usb_storage(false);
  EXPECT_EQ(ScreenLockEnforcer(&bare).Apply(d).reason(),
            "this platform cannot lock the screen (curfew)");
  EXPECT_EQ(WifiEnforcer(&bare).Apply(d).outcome(), v1::RULE_NOT_SUPPORTED);
  EXPECT_EQ(FocusEnforcer(&bare).Apply(d).outcome(), v1::RULE_NOT_SUPPORTED);
  v1::RuleResult apps = AppEnforcer(&bare, {}).Apply(d);
  EXPECT_EQ(apps.outcome(), v1::RULE_NOT_SUPPORTED);
  EXPECT_EQ(apps.reason(),
            "this platform cannot install or remove apps (1 blocked installed, "
            "0 required missing)");
  EXPECT_EQ(RestrictionsEnforcer(&bare).Apply(d).reason(),
            "the bare platform cannot apply restrictions (USB storage off)");
}

}  // namespace
}  // namespace preau::agent
