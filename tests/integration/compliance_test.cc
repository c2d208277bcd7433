// Honest compliance end to end: a rule a platform cannot enforce is reported NOT_SUPPORTED
// by the agent, kept as such by the server, and shown as its own count in `policy status`
// (never as applied) and as the device's state in `devices show`. One device runs the
// real `linux` platform (which cannot hold updates to a window, limit apps to a list or
// switch the camera off), one the simulated platform (which holds updates to a window but
// has no restrictions call and no app list either): neither counts as applied.
#include <gtest/gtest.h>

#include "agent/platform/platform.h"
#include "common/files.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

constexpr const char* kClass = "ville/jules-ferry/cm2-a";

constexpr const char* kPolicy = R"(name: salle-info
timezone: Europe/Paris
apps:
  allowed: [org.openboard.openboard, org.mozilla.firefox]
updates:
  days: [monday, tuesday, wednesday, thursday, friday, saturday, sunday]
  window: "13:00-17:00"
restrictions:
  allow_camera: false
)";

TEST(ComplianceTest, WhatAPlatformCannotEnforceIsNotSupportedNeverApplied) {
  TempDir dir;
  TestServer server(dir.path());
  server.CreateGroup(kClass);
  std::string token = server.CreateToken(kClass, 2);
  auto sim = TestAgent::Start(server, dir / "sim", token, 7);
  ASSERT_TRUE(sim.ok()) << sim.status().message();
  TestAgentOptions o;
  agent::LinuxCommands none{"", "", "", "", "", "", "", ""};
  o.platform = agent::MakeLinuxPlatform(none, "/");
  auto linux_agent = TestAgent::Start(server, dir / "linux", token, std::move(o));
  ASSERT_TRUE(linux_agent.ok()) << linux_agent.status().message();
  ASSERT_TRUE((*sim)->WaitConnected() && (*linux_agent)->WaitConnected());
  std::string linux_id = (*linux_agent)->agent().device_id();

  std::string file = dir / "salle-info.yaml";
  ASSERT_TRUE(WriteFileAtomic(file, kPolicy).ok());
  std::vector<std::string> conn = {"--credentials", server.data_dir() + "/admin.credentials",
                                   "--server", server.address()};
  std::vector<std::string> apply = {"policy", "apply", file, "--group", kClass};
  apply.insert(apply.end(), conn.begin(), conn.end());
  auto r = RunBinary("preau", apply);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The devices' states, as `devices list` and `devices show` give them.
  auto state_of = [&](const std::string& id) {
    for (const auto& d : server.Devices(kClass)) {
      if (d.id() == id) return d.policy_state();
    }
    return std::string("(no such device)");
  };
  ASSERT_TRUE(WaitUntil([&] {
    return state_of(linux_id) != "" && state_of((*sim)->agent().device_id()) != "";
  })) << state_of(linux_id);
  std::string linux_state = state_of(linux_id);
  EXPECT_EQ(linux_state.rfind("not supported: ", 0), 0u) << linux_state;
  for (const char* rule : {"updates: ", "apps.allowed: ", "restrictions"}) {
    EXPECT_NE(linux_state.find(rule), std::string::npos) << rule << " in " << linux_state;
  }
  std::string sim_state = state_of((*sim)->agent().device_id());
  EXPECT_EQ(sim_state.rfind("not supported: ", 0), 0u) << sim_state;
  EXPECT_NE(sim_state.find("restrictions"), std::string::npos) << sim_state;
  EXPECT_EQ(sim_state.find("updates: "), std::string::npos)
      << "the simulated platform holds updates to a window: " << sim_state;

  std::vector<std::string> status = {"policy", "status", "salle-info", "-o", "json"};
  status.insert(status.end(), conn.begin(), conn.end());
  r = RunBinary("preau", status);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"targeted\": 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"applied\": 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"not_supported\": 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"failed\": 0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(linux_id + " ("), std::string::npos) << "the device is not listed: " << r.out;

  std::vector<std::string> show = {"devices", "show", linux_id, "-o", "json"};
  show.insert(show.end(), conn.begin(), conn.end());
  r = RunBinary("preau", show);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"policy_state\": \"not supported: "), std::string::npos) << r.out;
}

}  // namespace
}  // namespace preau::testing
