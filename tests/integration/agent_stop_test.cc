// Stopping agents that were made but never started. A fleet whose enrolment fails half-way
// destroys the agents it already made before its event loop ever ran; each used to wait
// out the whole stop deadline (60 s) for a loop that would never run its stop, one after
// the other (a 19k-device run sat for hours). Real server, real enrolments.
#include <gtest/gtest.h>

#include <future>

#include "agent/core/standard_features.h"
#include "common/files.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

constexpr const char* kGroup = "stop/test";

// Agents enrolled on a loop that never runs, never started, destroyed: the destruction
// ends well within one stop deadline (60 s), and each agent says it is released.
TEST(AgentStopTest, AnAgentNeverStartedIsDestroyedAtOnce) {
  TempDir dir;
  TestServer server(dir.path());
  server.CreateGroup(kGroup);
  constexpr int kAgents = 4;
  std::string token = server.CreateToken(kGroup, kAgents);

  // Owned by the destroying thread: if it hung, the test fails without waiting for it.
  struct Made {
    boost::asio::io_context io;  // never run
    std::vector<std::unique_ptr<agent::Agent>> agents;
  };
  auto made = std::make_shared<Made>();
  for (int i = 0; i < kAgents; ++i) {
    auto opts = FastAgentOptions(dir / ("device-" + std::to_string(i)), server.address());
    opts.ca_pem = server.ca_pem();
    opts.enroll_token = token;
    auto a = agent::Agent::Create(made->io, opts, agent::MakeSimPlatform(i + 1));
    ASSERT_TRUE(a.ok()) << a.status().message();
    agent::FeatureOptions features;
    features.state_dir = opts.state_dir;
    agent::AddStandardFeatures(**a, features);
    made->agents.push_back(std::move(a).value());
  }
  // Stop() itself on one, the destructor on the others.
  auto done = std::make_shared<std::promise<bool>>();
  auto done_f = done->get_future();
  std::thread([made, done] {
    made->agents[0]->Stop();
    bool released = made->agents[0]->released();
    made->agents.clear();
    done->set_value(released);
  }).detach();
  ASSERT_EQ(done_f.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "destroying agents that were never started waited on their event loop";
  EXPECT_TRUE(done_f.get());
  EXPECT_EQ(server.Devices(kGroup).size(), static_cast<size_t>(kAgents));
}

// The simulator's case: the token runs out after 3 of 10 devices, so Fleet::Start fails
// after making 3 agents. preau-sim says why and exits 1 at once; before, it sat 60 s per
// agent made (RunBinary kills it at 90 s, and the exit code then is not 1).
TEST(AgentStopTest, AFleetWhoseEnrolmentFailsExitsAtOnce) {
  TempDir dir;
  TestServer server(dir.path());
  server.CreateGroup(kGroup);
  ASSERT_TRUE(WriteFileAtomic(dir / "ca.pem", server.ca_pem()).ok());
  auto r = RunBinary("preau-sim", {"--server", server.address(), "--ca", dir / "ca.pem",
                                   "--enroll", server.CreateToken(kGroup, 3), "--count", "10",
                                   "--threads", "1", "--state-root", dir / "fleet"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("preau-sim: device sim-"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("giving up"), std::string::npos) << r.err;
  EXPECT_EQ(server.Devices(kGroup).size(), 3u);
}

}  // namespace
}  // namespace preau::testing
