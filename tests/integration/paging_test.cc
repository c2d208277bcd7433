// Listings page: the real server on its SQLite file, real mTLS, the `preau` binary. A fleet
// larger than a page (and than gRPC's default 4 MiB message) is listed whole by the CLI,
// which follows the pages; --limit stops it with a token that --page-token resumes, stable
// under an enrolment in between; a garbled or foreign token is a clear error.
#include <set>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "common/sqlite.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSchool = "ville/jules-ferry";
constexpr const char* kClassA = "ville/jules-ferry/cm2-a";
constexpr const char* kClassB = "ville/jules-ferry/cm2-b";

class PagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    server_->CreateGroup(kClassA);
    server_->CreateGroup(kClassB);
    admin_path_ = server_->data_dir() + "/admin.credentials";
  }
  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.end(), {"--credentials", admin_path_, "--server", server_->address()});
    return RunBinary("preau", args);
  }
  // Adds `count` enrolled devices straight into the server's database (enrolling thousands
  // of agents would take minutes), each with an inventory of `apps` apps, alternating
  // between the two classes. Ids are "dev-00000"... so that tests know the order.
  void SeedDevices(int count, int apps) {
    auto db = server_->OpenStore();  // the server's SQLite file or PostgreSQL database
    ASSERT_TRUE(db);
    Status st = db->Transaction([&]() -> Status {
      for (int i = 0; i < count; ++i) {
        PREAU_ASSIGN_OR_RETURN(auto ins, db->Prepare(
            "INSERT INTO devices(id, name, group_path, cert_serial, key_fingerprint, "
            "enrolled_ms, last_seen_ms, inventory, agent_version) "
            "VALUES(?, ?, ?, ?, ?, 1, 1, ?, '1.0')"));
        char id[32];
        std::snprintf(id, sizeof id, "dev-%05d", i);
        v1::Inventory inv;
        inv.set_hostname(id);
        inv.set_os_name("Debian GNU/Linux");
        inv.set_model("Tablette collège");
        for (int a = 0; a < apps; ++a) {
          auto* app = inv.add_apps();
          app->set_id("org.example.application-number-" + std::to_string(a));
          app->set_version("1." + std::to_string(a) + ".0-1+deb12u1");
          app->set_title("Application éducative numéro " + std::to_string(a));
        }
        ins.Bind(1, std::string(id)).Bind(2, std::string("tablette-") + id)
            .Bind(3, std::string(i % 2 ? kClassB : kClassA)).Bind(4, std::string("serial-") + id)
            .Bind(5, std::string("fp-") + id).BindBlob(6, inv.SerializeAsString());
        PREAU_RETURN_IF_ERROR(ins.Run());
      }
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.message();
  }
  static google::protobuf::ListValue Parse(const std::string& json_listing) {
    google::protobuf::ListValue list;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json_listing, &list).ok())
        << json_listing.substr(0, 200);
    return list;
  }
  static std::string Field(const google::protobuf::ListValue& list, int i, const std::string& key) {
    const auto& fields = list.values(i).struct_value().fields();
    auto it = fields.find(key);
    if (it == fields.end()) return "";
    return it->second.has_string_value() ? it->second.string_value()
                                         : std::to_string(static_cast<int64_t>(it->second.number_value()));
  }
  static std::vector<std::string> Ids(const std::string& json_listing) {
    auto list = Parse(json_listing);
    std::vector<std::string> ids;
    for (int i = 0; i < list.values_size(); ++i) ids.push_back(Field(list, i, "id"));
    return ids;
  }
  static std::string TokenIn(const std::string& err) {
    const std::string marker = "--page-token ";
    size_t at = err.find(marker);
    if (at == std::string::npos) return "";
    size_t end = err.find_first_of(" \n", at + marker.size());
    return err.substr(at + marker.size(), end - at - marker.size());
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::string admin_path_;
};

// 2,600 devices with 60 apps each: more than the largest page (1,000) and more than 4 MiB
// in all. The RPC with gRPC's default limits answers page by page, each under the cap, and
// `devices list` prints every device once, in every format.
TEST_F(PagingTest, AFleetLargerThanAPageAndThan4MiBIsListedWhole) {
  constexpr int kDevices = 2600;
  SeedDevices(kDevices, 60);

  size_t total_bytes = 0, pages = 0;
  std::set<std::string> seen;
  v1::ListDevicesRequest req;
  req.set_page_size(100000);  // capped by the server
  do {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::ListDevicesResponse resp;
    auto st = server_->admin().ListDevices(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_LE(resp.devices_size(), 1000);
    EXPECT_LT(resp.ByteSizeLong(), 4u << 20);
    total_bytes += resp.ByteSizeLong();
    ++pages;
    for (const auto& d : resp.devices()) EXPECT_TRUE(seen.insert(d.id()).second) << d.id();
    req.set_page_token(resp.next_page_token());
  } while (!req.page_token().empty());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kDevices));
  EXPECT_GT(total_bytes, 4u << 20) << "the fleet should not fit in one default-sized message";
  EXPECT_GE(pages, 3u);

  auto json = Cli({"devices", "list", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto ids = Ids(json.out);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kDevices));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), seen);

  auto csv = Cli({"devices", "list", "-o", "csv", "--group", kClassB});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), kDevices / 2 + 1);  // + header

  auto table = Cli({"devices", "list"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(std::count(table.out.begin(), table.out.end(), '\n'), kDevices + 1);
  EXPECT_EQ(table.out.rfind("ID ", 0), 0u) << "one header, at the top";
  EXPECT_EQ(table.out.find("\nID "), std::string::npos) << "the header is printed once";
}

// --limit prints that many and the token that resumes; a device enrolled in between (by a
// real agent) does not shift the pages: nothing is printed twice or skipped.
TEST_F(PagingTest, LimitAndPageTokenResumeStablyUnderInserts) {
  constexpr int kDevices = 1500;
  SeedDevices(kDevices, 2);

  auto first = Cli({"devices", "list", "-o", "json", "--limit", "1200"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto first_ids = Ids(first.out);
  ASSERT_EQ(first_ids.size(), 1200u);
  std::string token = TokenIn(first.err);
  ASSERT_FALSE(token.empty()) << first.err;

  // An enrolment between the pages: its id is random, before or after the cursor.
  auto agent = TestAgent::Start(*server_, dir_ / "late", server_->CreateToken(kClassA));
  ASSERT_TRUE(agent.ok()) << agent.status().message();
  ASSERT_TRUE((*agent)->WaitConnected());

  auto rest = Cli({"devices", "list", "-o", "json", "--page-token", token});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_EQ(rest.err, "") << "the rest is complete, no further token";
  auto rest_ids = Ids(rest.out);
  std::set<std::string> all(first_ids.begin(), first_ids.end());
  for (const auto& id : rest_ids) EXPECT_TRUE(all.insert(id).second) << id << " printed twice";
  for (int i = 0; i < kDevices; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "dev-%05d", i);
    EXPECT_EQ(all.count(id), 1u) << id << " skipped";
  }
  EXPECT_TRUE(all.size() == kDevices || all.size() == kDevices + 1u) << all.size();

  // The token belongs to its filters: the same token with --group is refused.
  auto other = Cli({"devices", "list", "--group", kSchool, "--page-token", token});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("other filters"), std::string::npos) << other.err;
  EXPECT_EQ(other.out, "");
}

// Every listing pages the same way: groups, operators and the audit log under --limit.
TEST_F(PagingTest, GroupsOperatorsAndAuditPageToo) {
  for (int i = 0; i < 7; ++i) server_->CreateGroup("ville/ecole-" + std::to_string(i));
  auto groups = Cli({"groups", "list", "-o", "csv", "--limit", "4"});
  ASSERT_EQ(groups.exit_code, 0) << groups.err;
  EXPECT_EQ(std::count(groups.out.begin(), groups.out.end(), '\n'), 5);
  auto rest = Cli({"groups", "list", "-o", "csv", "--page-token", TokenIn(groups.err)});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  auto whole = Cli({"groups", "list", "-o", "csv"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  // The resumed part repeats the header and nothing else.
  EXPECT_EQ(groups.out + rest.out.substr(rest.out.find('\n') + 1), whole.out);

  auto audit = Cli({"audit", "list", "-o", "json", "--limit", "3"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  auto entries = Parse(audit.out);
  EXPECT_EQ(entries.values_size(), 3);
  auto audit_rest = Cli({"audit", "list", "-o", "json", "--page-token", TokenIn(audit.err)});
  ASSERT_EQ(audit_rest.exit_code, 0) << audit_rest.err;
  auto later = Parse(audit_rest.out);
  ASSERT_GE(later.values_size(), 7);  // the groups created above, at least
  EXPECT_GT(std::stoll(Field(later, 0, "seq")), std::stoll(Field(entries, 2, "seq")));

  server_->CreateOperator(dir_.path(), "prof-a", v1::ROLE_TEACHER, {kClassA});
  server_->CreateOperator(dir_.path(), "prof-b", v1::ROLE_TEACHER, {kClassB});
  auto ops = Cli({"operators", "list", "-o", "csv", "--limit", "2"});
  ASSERT_EQ(ops.exit_code, 0) << ops.err;
  EXPECT_EQ(std::count(ops.out.begin(), ops.out.end(), '\n'), 3);
  EXPECT_FALSE(TokenIn(ops.err).empty()) << "three operators: admin, prof-a, prof-b";
}

// A token that is garbled, truncated or from another listing is refused with a message
// that says so; nothing is printed on stdout.
TEST_F(PagingTest, ABadPageTokenIsAClearError) {
  SeedDevices(20, 1);
  auto first = Cli({"devices", "list", "--limit", "5"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::string token = TokenIn(first.err);
  ASSERT_FALSE(token.empty());
  std::string flipped = token;
  flipped[2] = flipped[2] == 'a' ? 'b' : 'a';
  auto audit = Cli({"audit", "list", "--limit", "1"});
  std::string audit_token = TokenIn(audit.err);
  ASSERT_FALSE(audit_token.empty()) << audit.err;

  for (const std::string& bad : {std::string("not-a-token"), flipped,
                                 token.substr(0, token.size() / 2), std::string("zz.zz")}) {
    auto r = Cli({"devices", "list", "--page-token", bad});
    EXPECT_EQ(r.exit_code, 1) << bad;
    EXPECT_NE(r.err.find("page token"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("garbled"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << bad;
  }
  auto foreign = Cli({"devices", "list", "--page-token", audit_token});
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_NE(foreign.err.find("another listing"), std::string::npos) << foreign.err;

  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 10s);
  v1::ListDevicesRequest req;
  req.set_page_token(flipped);
  v1::ListDevicesResponse resp;
  auto st = server_->admin().ListDevices(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
}

}  // namespace
}  // namespace preau::testing
