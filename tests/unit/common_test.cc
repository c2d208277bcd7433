// The small shared pieces: durations, credentials files, atomic writes, the SQLite wrapper.
#include <sys/stat.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "common/credentials.h"
#include "common/duration.h"
#include "common/files.h"
#include "common/sqlite.h"

namespace preau {
namespace {

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/preau-unit-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST(DurationTest, ParsesTheUnitsPeopleType) {
  EXPECT_EQ(*ParseDuration("90s"), 90);
  EXPECT_EQ(*ParseDuration("45m"), 45 * 60);
  EXPECT_EQ(*ParseDuration("2h"), 7200);
  EXPECT_EQ(*ParseDuration("7d"), 7 * 86400);
}

TEST(DurationTest, RefusesWhatIsNotADuration) {
  for (const char* bad : {"", "m", "45", "4 5m", "-5m", "0m", "45x", "1.5h", "999999999999d"}) {
    auto r = ParseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST_F(TempDirTest, CredentialsRoundTripWithPrivateMode) {
  Credentials c{"127.0.0.1:7443", "mme-martin",
                "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n",
                "-----BEGIN CERTIFICATE-----\nREVG\n-----END CERTIFICATE-----\n",
                "-----BEGIN PRIVATE KEY-----\nR0hJ\n-----END PRIVATE KEY-----\n"};
  std::string path = dir_ + "/c";
  ASSERT_TRUE(SaveCredentials(path, c).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = LoadCredentials(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->server, c.server);
  EXPECT_EQ(back->name, c.name);
  EXPECT_EQ(back->ca_pem, c.ca_pem);
  EXPECT_EQ(back->cert_pem, c.cert_pem);
  EXPECT_EQ(back->key_pem, c.key_pem);
}

TEST(CredentialsTest, BrokenFilesNameWhatIsWrong) {
  auto missing_key = ParseCredentials("server: x\nca: |\n-----BEGIN CERTIFICATE-----\n", "f");
  ASSERT_FALSE(missing_key.ok());
  EXPECT_NE(missing_key.status().message().find("certificate"), std::string::npos);
  auto unknown = ParseCredentials("colour: blue\n", "f");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("f:1: unknown key 'colour'"), std::string::npos)
      << unknown.status().message();
}

TEST_F(TempDirTest, AtomicWriteLeavesNoTemporaryAndReplacesWhole) {
  std::string path = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "second").ok());
  EXPECT_EQ(*ReadFile(path), "second");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  auto r = WriteFileAtomic(dir_ + "/no/such/dir/f", "x");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.message().find("no/such/dir"), std::string::npos);
  EXPECT_EQ(ReadFile(dir_ + "/absent").status().code(), Code::kNotFound);
}

TEST_F(TempDirTest, MigrationsApplyOnceAndInOrder) {
  std::vector<Db::Migration> v1 = {{1, "CREATE TABLE t(x INTEGER);"}};
  std::vector<Db::Migration> v2 = {{1, "CREATE TABLE t(x INTEGER);"},
                                   {2, "INSERT INTO t VALUES(42);"}};
  {
    auto db = Db::Open(dir_ + "/s.db", true);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Migrate(v1).ok());
  }
  auto db = Db::Open(dir_ + "/s.db", false);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->Migrate(v2).ok());
  ASSERT_TRUE((*db)->Migrate(v2).ok());  // a second start applies nothing again
  auto s = (*db)->Prepare("SELECT COUNT(*), SUM(x) FROM t");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Int(0), 1);
  EXPECT_EQ(s->Int(1), 42);
}

TEST_F(TempDirTest, FailedMigrationLeavesTheDatabaseAsItWas) {
  auto db = Db::Open(dir_ + "/s.db", true);
  ASSERT_TRUE(db.ok());
  std::vector<Db::Migration> bad = {{1, "CREATE TABLE t(x INTEGER); INSERT INTO nowhere VALUES(1);"}};
  Status st = (*db)->Migrate(bad);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("migration 1"), std::string::npos);
  auto s = (*db)->Prepare("SELECT COUNT(*) FROM sqlite_master WHERE name='t'");
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Int(0), 0);
}

TEST_F(TempDirTest, CorruptDatabaseIsReportedAsDataLoss) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/bad.db", std::string(4096, '\x7f')).ok());
  auto db = Db::Open(dir_ + "/bad.db", false);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kDataLoss) << db.status().message();
  EXPECT_NE(db.status().message().find("bad.db"), std::string::npos);
}

TEST_F(TempDirTest, TransactionRollsBackOnError) {
  auto db = Db::Open(dir_ + "/s.db", true);
  ASSERT_TRUE((*db)->Exec("CREATE TABLE t(x INTEGER)").ok());
  Status st = (*db)->Transaction([&]() -> Status {
    PREAU_RETURN_IF_ERROR((*db)->Exec("INSERT INTO t VALUES(1)"));
    return Internal("changed my mind");
  });
  EXPECT_EQ(st.message(), "changed my mind");
  auto s = (*db)->Prepare("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(*s->Step());
  EXPECT_EQ(s->Int(0), 0);
}

}  // namespace
}  // namespace preau
