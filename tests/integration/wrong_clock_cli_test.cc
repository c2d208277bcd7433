// Issue 17, item 3: the CLI on a machine whose clock is years ahead. TLS really refuses the
// server's certificate (libfaketime moves the CLI's clock, OpenSSL's included); the error
// names the clock, not "cannot reach the server". A file of its own because libfaketime
// cannot run under the sanitizer step (see PREAU_NOT_SANITIZED in CMakeLists.txt).
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/support/harness.h"

namespace preau::testing {
namespace {

TEST(WrongClockCliTest, TheCliOnAWrongClockSaysTheClockIsTheCause) {
  const std::string faketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
  ASSERT_TRUE(std::filesystem::exists(faketime)) << "install faketime (deploy/install-deps.sh --test)";
  TempDir dir;
  TestServer server(dir.path());
  const std::vector<std::string> args = {"groups", "list", "--credentials",
                                         server.data_dir() + "/admin.credentials",
                                         "--server", server.address()};
  CommandResult ok = RunBinary("preau", args);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  CommandResult r = RunBinary("preau", args,
                              {"LD_PRELOAD=" + faketime, "FAKETIME=@2035-06-01 08:00:00"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("clock says 2035-06-01"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("ended"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("cannot reach"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace preau::testing
