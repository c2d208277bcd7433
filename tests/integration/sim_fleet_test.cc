// The simulator as load generators run it: the `preau-sim` binary (under the sanitizer
// step it is the AddressSanitizer build, so a use after free or a double free in the
// fleet's start, run or stop fails this test) against the real server on 127.0.0.1:0.
#include <gtest/gtest.h>

#include "common/files.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

constexpr const char* kGroup = "sim/charge";

// 300 devices enrol, connect, run and stop cleanly; the status file counts them.
TEST(SimFleetTest, AFleetEnrolsConnectsAndStopsCleanly) {
  TempDir dir;
  TestServer server(dir.path());
  server.CreateGroup(kGroup);
  constexpr int kDevices = 300;
  ASSERT_TRUE(WriteFileAtomic(dir / "ca.pem", server.ca_pem()).ok());
  auto r = RunBinary("preau-sim", {"--server", server.address(), "--ca", dir / "ca.pem",
                                   "--enroll", server.CreateToken(kGroup, kDevices),
                                   "--count", std::to_string(kDevices), "--threads", "2",
                                   "--for", "1", "--status-file", dir / "status"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("300/300 connected"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("giving up"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("could not be released"), std::string::npos) << r.err;
  auto status = ReadFile(dir / "status");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, "300 300\n");
  EXPECT_EQ(server.Devices().size(), static_cast<size_t>(kDevices));
}

}  // namespace
}  // namespace preau::testing
