// Hostile input against the real server, CLI and SQLite file: what a user types or a file
// holds can be refused, but can never corrupt the record or stop the server (issue 17).

#include <filesystem>
#include <fstream>

#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include "agent/platform/platform.h"
#include "common/files.h"
#include "common/grpc_credentials.h"
#include "common/pki.h"
#include "common/policy/bundle.h"
#include "preau/v1/device.grpc.pb.h"
#include "common/utf8.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    admin_path_ = server_->data_dir() + "/admin.credentials";
  }
  CommandResult Cli(std::vector<std::string> args, const std::string& credentials = "") {
    args.insert(args.end(), {"--credentials", credentials.empty() ? admin_path_ : credentials,
                             "--server", server_->address()});
    return RunBinary("preau", args);
  }
  // Runs one SQL statement on the server's database from a second connection, as someone
  // editing the file by hand (or an older version) would.
  void ExecSql(const std::string& sql) {
    auto db = server_->OpenStore();
    ASSERT_TRUE(db);
    Status st = db->Exec(sql);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::string admin_path_;
};

// Finding 2: "ville/école" was echoed one byte at a time into the refusal, the lone byte went
// into the audit, and `audit list` failed from then on in every format.
TEST_F(HardeningTest, AnAccentedGroupNameIsRefusedWholeAndTheAuditStaysReadable) {
  auto r = Cli({"groups", "create", "ville/\xC3\xA9" "cole"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("character '\xC3\xA9' not allowed"), std::string::npos) << r.err;
  EXPECT_TRUE(IsValidUtf8(r.err)) << r.err;

  for (const char* format : {"table", "json", "csv"}) {
    auto list = Cli({"audit", "list", "-o", format});
    ASSERT_EQ(list.exit_code, 0) << format << ": " << list.err;
    EXPECT_NE(list.out.find("ville/\xC3\xA9" "cole"), std::string::npos) << format << list.out;
    EXPECT_TRUE(IsValidUtf8(list.out)) << format;
  }
}

// A row that is not UTF-8 already in the database (written by an older version, or by
// hand) is read as text with U+FFFD in place of the bad byte; the listing still works.
TEST_F(HardeningTest, AuditListSurvivesARowThatIsNotUtf8) {
  if (server_->on_postgres()) {
    GTEST_SKIP() << "PostgreSQL refuses text that is not UTF-8: no such row can be there";
  }
  ExecSql("INSERT INTO audit(at_ms, actor, action, target, result, detail) VALUES("
          "1, 'old-version', 'group.create', CAST(X'76696C6C652FC3' AS TEXT), "
          "CAST(X'636861726163746572202720C327' AS TEXT), '')");
  for (const char* format : {"table", "json", "csv"}) {
    auto list = Cli({"audit", "list", "-o", format});
    ASSERT_EQ(list.exit_code, 0) << format << ": " << list.err;
    EXPECT_NE(list.out.find("old-version"), std::string::npos) << format << list.out;
    EXPECT_NE(list.out.find("ville/\xEF\xBF\xBD"), std::string::npos) << format << list.out;
  }
}

// Finding 8: a policy.key that is not the half of policy.pub signs bundles that every agent
// refuses; the server must refuse to start with it, and start again once the pair is back.
TEST_F(HardeningTest, TheServerRefusesToStartWithAPolicyKeyThatIsNotPolicyPubsHalf) {
  const std::string key_path = server_->data_dir() + "/policy.key";
  auto good = ReadFile(key_path);
  ASSERT_TRUE(good.ok());
  server_->Stop();
  auto other = pki::GenerateKey();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(WriteFileAtomic(key_path, other->private_key_pem, 0600).ok());
  server::RunOptions run;
  run.data_dir = server_->data_dir();
  auto refused = server::Server::Start(run);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("policy.key does not match policy.pub"),
            std::string::npos)
      << refused.status().message();

  ASSERT_TRUE(WriteFileAtomic(key_path, *good, 0600).ok());
  auto started = server::Server::Start(run);
  EXPECT_TRUE(started.ok()) << started.status().message();
}

// Finding 4: `filter import` followed links inside the folder (to /etc/shadow, say) and the
// server kept the first rejected lines of each file, which any teacher could read.
TEST_F(HardeningTest, FilterImportFollowsNoLinkAndShowsRejectedLinesToAdminsOnly) {
  namespace fs = std::filesystem;
  std::string secret = dir_ / "shadow";
  ASSERT_TRUE(WriteFileAtomic(secret, "root:$6$secret-hash:19000:0:99999:7:::\n").ok());
  std::string ut1 = dir_ / "ut1";
  fs::create_directories(ut1 + "/casinos");
  fs::create_directories(ut1 + "/leak");
  ASSERT_TRUE(WriteFileAtomic(ut1 + "/casinos/domains",
                              "casino.example\nnot a domain but a stray line\n").ok());
  ASSERT_TRUE(WriteFileAtomic(ut1 + "/casinos/usage", "black\n").ok());
  fs::create_symlink(secret, ut1 + "/leak/domains");
  fs::create_directory_symlink(dir_.path(), ut1 + "/linked-category");

  auto r = Cli({"filter", "import", ut1});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("leak/domains is a link: not followed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("linked-category is a link: not followed"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("secret-hash"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("leak"), std::string::npos) << r.out;

  // The admin sees the rejected line; a school's digital referent (who may see the lists)
  // sees the counts but not the text.
  auto admin = Cli({"filter", "list", "-o", "json"});
  ASSERT_EQ(admin.exit_code, 0) << admin.err;
  EXPECT_NE(admin.out.find("stray line"), std::string::npos) << admin.out;
  EXPECT_EQ(admin.out.find("secret-hash"), std::string::npos) << admin.out;
  server_->CreateGroup("ville/ecole/cm2");
  std::string referent =
      server_->CreateOperator(dir_.path(), "mme.martin", v1::ROLE_REFERENT, {"ville/ecole"});
  auto seen = Cli({"filter", "list", "-o", "json"}, referent);
  ASSERT_EQ(seen.exit_code, 0) << seen.err;
  EXPECT_NE(seen.out.find("casinos"), std::string::npos) << seen.out;
  EXPECT_EQ(seen.out.find("stray line"), std::string::npos) << seen.out;
}

// A UT1-layout folder under the test's folder: `counts` domains per category.
std::string WriteUt1(const TempDir& dir, const std::string& name,
                     const std::vector<std::pair<std::string, int>>& counts) {
  std::string root = dir / name;
  for (const auto& [category, n] : counts) {
    std::filesystem::create_directories(root + "/" + category);
    std::string domains;
    for (int i = 0; i < n; ++i) domains += category + "-" + std::to_string(i) + ".example\n";
    if (n == 0) domains = "not a domain\n# only a comment\n";
    EXPECT_TRUE(WriteFileAtomic(root + "/" + category + "/domains", domains).ok());
    EXPECT_TRUE(WriteFileAtomic(root + "/" + category + "/usage", "black\n").ok());
  }
  return root;
}

// Finding 6: an import with no valid domain became current and turned filtering off, and
// there was no way back to the previous version.
TEST_F(HardeningTest, SuspiciousImportsAreRefusedUnlessForcedAndAVersionCanBeRolledBack) {
  auto current = [&] {
    auto r = Cli({"filter", "list", "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  };
  auto r = Cli({"filter", "import", WriteUt1(dir_, "v1", {{"casinos", 40}, {"games", 25}})});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Casinos would go from 40 domains to 3: refused, nothing changes.
  std::string shrunk = WriteUt1(dir_, "v2", {{"casinos", 3}, {"games", 25}});
  r = Cli({"filter", "import", shrunk});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("casinos 40 -> 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  // A set with no valid domain at all: refused.
  r = Cli({"filter", "import", WriteUt1(dir_, "empty", {{"casinos", 0}, {"games", 0}})});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no valid domain"), std::string::npos) << r.err;
  std::string listed = current();
  EXPECT_EQ(listed.find("\"version\": 2"), std::string::npos) << listed;
  EXPECT_NE(listed.find("\"domains\": 65"), std::string::npos) << listed;

  // Forced, it goes through; then version 1's lists come back as version 3.
  r = Cli({"filter", "import", shrunk, "--force"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Imported version 2: 28 domains"), std::string::npos) << r.out;
  r = Cli({"filter", "rollback", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Version 3 is current: rollback to version 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("65 domains"), std::string::npos) << r.out;
  auto test = Cli({"filter", "test", "casinos-39.example", "-o", "json"});
  ASSERT_EQ(test.exit_code, 0) << test.err;
  EXPECT_NE(test.out.find("\"filter_version\": 3"), std::string::npos) << test.out;

  r = Cli({"filter", "rollback", "3"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already current"), std::string::npos) << r.err;
  r = Cli({"filter", "rollback", "99"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no filter version 99"), std::string::npos) << r.err;

  bool audited = false;
  auto audit = Cli({"audit", "list", "-o", "csv"});
  audited = audit.out.find("filter.rollback") != std::string::npos;
  EXPECT_TRUE(audited) << audit.out;
}

// Finding 7: after the server's database was restored from a backup, devices held policy
// versions above the server's, and every new apply was refused as "not newer"; class
// commands numbered below what a device had handled were taken as already handled.
TEST_F(HardeningTest, AfterARestoreFromAnOlderBackupDevicesTakeNewAppliesAndCommands) {
  namespace fs = std::filesystem;
  const std::string kClass = "ville/ecole/cm2";
  server_->CreateGroup(kClass);
  auto agent = TestAgent::Start(*server_, dir_ / "a", server_->CreateToken(kClass, 1), 1);
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  ASSERT_TRUE((*agent)->WaitConnected());
  const std::string id = (*agent)->agent().device_id();
  auto device = [&] {
    for (const auto& d : server_->Devices(kClass)) {
      if (d.id() == id) return d;
    }
    return v1::Device();
  };
  int applied = 0;
  auto apply = [&](const std::string& ssid) {
    std::string file = dir_ / ("wifi-" + std::to_string(++applied) + ".yaml");
    EXPECT_TRUE(WriteFileAtomic(file, "name: cm2\ntimezone: Europe/Paris\napps:\n  blocked:\n"
                                      "    - fr.example." + ssid + "\n")
                    .ok());
    auto r = Cli({"policy", "apply", file, "--group", kClass});
    EXPECT_EQ(r.exit_code, 0) << r.err;
  };
  auto locked = [&] {
    auto st = agent::ReadSimState((*agent)->agent().platform());
    return st && st->locked;
  };
  auto applied_above = [&](uint64_t v) {
    return WaitUntil([&] {
      auto d = device();
      return d.policy_state() == "applied" && d.policy_version() > v;
    }, 20s);
  };

  apply("one");
  ASSERT_TRUE(applied_above(0)) << device().policy_state();

  // The backup, the server stopped: the database file (or a pg_dump).
  const std::string backup = dir_ / "backup.db";
  server_->Stop();
  server_->BackUpStore(backup);
  server_->Restart();
  ASSERT_TRUE((*agent)->WaitConnected(20s));

  // Life goes on after the backup: two applies, a lock and an unlock.
  apply("two");
  apply("three");
  ASSERT_TRUE(applied_above(0));
  ASSERT_TRUE(WaitUntil([&] { return device().policy_version() >= 3; }, 20s))
      << device().policy_version();
  uint64_t held = device().policy_version();
  for (const char* kind : {"lock", "unlock"}) {
    auto r = Cli({"class", kind, kClass, "--wait", "10s"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_FALSE(locked());

  // The disk is lost; the database comes back from the backup.
  server_->Stop();
  server_->RestoreStore(backup);
  server_->Restart();
  ASSERT_TRUE((*agent)->WaitConnected(20s));

  // A new apply reaches the device, numbered above what it held...
  apply("four");
  EXPECT_TRUE(applied_above(held)) << device().policy_state() << " v" << device().policy_version();
  // ...and so does a lock.
  auto r = Cli({"class", "lock", kClass, "--wait", "10s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(WaitUntil(locked, 10s)) << r.out;
}

// Finding 11 (enrolment): the CSR was parsed and signed before the token was checked, and
// nothing limited how many tokens one address could try.
TEST_F(HardeningTest, EnrolmentChecksTheTokenFirstAndSlowsDownAddressesThatKeepFailing) {
  server_->CreateGroup("ville/ecole/cm2");
  auto stub = v1::DeviceService::NewStub(grpc::CreateChannel(
      server_->address(), preau::MtlsCredentials(server_->ca_pem())));
  auto enroll = [&](const std::string& token, const std::string& csr) {
    v1::EnrollRequest req;
    req.set_token(token);
    req.set_csr_pem(csr);
    v1::EnrollResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    return stub->Enroll(&ctx, req, &resp);
  };
  auto key = pki::GenerateKey();
  ASSERT_TRUE(key.ok());
  auto csr = pki::CreateCsr(key->private_key_pem, "preau-device");
  ASSERT_TRUE(csr.ok());
  std::string spent = server_->CreateToken("ville/ecole/cm2", 1);
  ASSERT_TRUE(enroll(spent, *csr).ok());

  // A spent token with a CSR that is not one: the token is what is refused.
  grpc::Status st = enroll(spent, "-----BEGIN CERTIFICATE REQUEST-----\nnot base64\n");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_NE(st.error_message().find("no uses left"), std::string::npos) << st.error_message();

  // Ten failures from this address, then even a good token waits.
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(enroll(spent, *csr).ok());
  std::string good = server_->CreateToken("ville/ecole/cm2", 5);
  auto other = pki::GenerateKey();
  ASSERT_TRUE(other.ok());
  st = enroll(good, *pki::CreateCsr(other->private_key_pem, "preau-device"));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_NE(st.error_message().find("too many failed enrolments"), std::string::npos)
      << st.error_message();
}

// Finding 11: the agent logged "policy bundle refused: policy bundle refused: ...".
TEST_F(HardeningTest, ARefusedBundleIsLoggedOnceAsRefused) {
  server_->CreateGroup("ville/ecole/cm2");
  auto agent = TestAgent::Start(*server_, dir_ / "a", server_->CreateToken("ville/ecole/cm2", 1), 1);
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  ASSERT_TRUE((*agent)->WaitConnected());
  const std::string id = (*agent)->agent().device_id();
  auto other = pki::GenerateKey();
  ASSERT_TRUE(other.ok());
  v1::PolicySpec spec;
  spec.set_name("forged");
  auto forged = policy::SignBundle(policy::MakeBundle("forged", 99, id, spec, 1),
                                   other->private_key_pem);
  ASSERT_TRUE(forged.ok());
  v1::ServerMessage m;
  *m.mutable_policy() = *forged;
  ::testing::internal::CaptureStderr();
  bool sent = server_->server().core().connections.Send(id, m);
  bool reported = WaitUntil([&] {
    for (const auto& d : server_->Devices("ville/ecole/cm2")) {
      if (d.id() == id && d.policy_state().rfind("refused v99", 0) == 0) return true;
    }
    return false;
  }, 20s);
  std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(sent);
  ASSERT_TRUE(reported);
  EXPECT_NE(log.find("policy bundle refused: signed by key"), std::string::npos) << log;
  EXPECT_EQ(log.find("policy bundle refused: policy bundle refused"), std::string::npos) << log;
}

// Finding 11 (groups): "..", "." and 100 kB names were accepted, and a group could be
// neither renamed nor deleted.
TEST_F(HardeningTest, GroupNamesAreCheckedAndGroupsCanBeRenamedAndDeleted) {
  for (const std::string& bad : {std::string(".."), std::string("."), std::string("ville/.."),
                                 std::string("ville/./cm2"), std::string(100 * 1024, 'a')}) {
    auto r = Cli({"groups", "create", bad});
    EXPECT_NE(r.exit_code, 0) << bad.substr(0, 20) << ": " << r.out;
    EXPECT_LT(r.err.size(), 2000u) << "the refusal echoes the whole name";
  }
  auto r = Cli({"groups", "list", "-o", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find(".."), std::string::npos) << r.out;

  const std::string kClass = "ville/ecole/cm2";
  server_->CreateGroup(kClass);
  auto agent = TestAgent::Start(*server_, dir_ / "a", server_->CreateToken(kClass, 1), 1);
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  ASSERT_TRUE((*agent)->WaitConnected());
  std::string teacher =
      server_->CreateOperator(dir_.path(), "mme.martin", v1::ROLE_TEACHER, {kClass});

  r = Cli({"groups", "rename", "ville/ecole", "ville/jaures"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto devices = server_->Devices("ville/jaures/cm2");
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_TRUE(server_->Devices("ville/ecole").empty());
  // The teacher's scope followed: she still locks her class, under its new name.
  r = Cli({"class", "lock", "ville/jaures/cm2", "--wait", "10s"}, teacher);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Cli({"groups", "rename", "ville/jaures", "ville/jaures/sub"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("under itself"), std::string::npos) << r.err;

  r = Cli({"groups", "delete", "ville/jaures/cm2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;
  server_->CreateGroup("ville/vide");
  r = Cli({"groups", "delete", "ville/vide"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Cli({"groups", "list", "-o", "csv"});
  EXPECT_EQ(r.out.find("ville/vide"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ville/jaures/cm2"), std::string::npos) << r.out;
  auto audit = Cli({"audit", "list", "-o", "csv"});
  EXPECT_NE(audit.out.find("group.rename"), std::string::npos);
  EXPECT_NE(audit.out.find("group.delete"), std::string::npos);
}

// Finding 11 (class commands and policies): an app id that is a path, a public suffix as a
// site, terminal escapes in a lock message, and policy files that `check` passed but
// `apply` refused.
TEST_F(HardeningTest, ClassCommandsAndPolicyCheckRefuseWhatCouldHarm) {
  const std::string kClass = "ville/ecole/cm2";
  server_->CreateGroup(kClass);
  auto r = Cli({"class", "focus", kClass, "--app", "../../bin/sh"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("expected an app id"), std::string::npos) << r.err;
  r = Cli({"class", "allow", kClass, "--site", "co.uk", "--for", "10m"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("public suffix"), std::string::npos) << r.err;
  r = Cli({"class", "allow", kClass, "--site", "github.io", "--for", "10m"});
  EXPECT_EQ(r.exit_code, 1) << "github.io is in the list's private section";
  r = Cli({"class", "allow", kClass, "--site", "bbc.co.uk", "--for", "10m"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = Cli({"class", "lock", kClass, "--message", "Pause\x1b]0;pwned\x07"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("control character U+001B"), std::string::npos) << r.err;
  r = Cli({"class", "lock", kClass, "--message", "Pause\ndans 5 minutes"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // A name apply refuses: `check` says so too, with the line.
  std::string file = dir_ / "cm2.yaml";
  ASSERT_TRUE(WriteFileAtomic(file, "name: mon \xC3\xA9" "cole\ntimezone: Europe/Paris\n").ok());
  auto check = RunBinary("preau", {"policy", "check", file, "--fragment"});
  EXPECT_EQ(check.exit_code, 1) << check.out;
  EXPECT_NE(check.err.find(":1: name:"), std::string::npos) << check.err;
  auto apply = Cli({"policy", "apply", file, "--group", kClass});
  EXPECT_EQ(apply.exit_code, 1);
  EXPECT_NE(apply.err.find("name"), std::string::npos) << apply.err;
}

// Finding 11 (errors): a failure on the server's side named its files and SQL to clients.
TEST_F(HardeningTest, ServerSideFailuresShowNoServerPathToTheClient) {
  std::filesystem::create_directories(server_->data_dir() + "/filter");
  ASSERT_TRUE(WriteFileAtomic(server_->data_dir() + "/filter/incoming", "not a folder").ok());
  std::string ut1 = WriteUt1(dir_, "ut1", {{"casinos", 5}});
  auto r = Cli({"filter", "import", ut1});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("internal error on the server"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(server_->data_dir()), std::string::npos) << r.err;
}

}  // namespace
}  // namespace preau::testing
