// The pedagogical store end to end: the real server (SQLite, artifact store, mTLS), real
// agents with the apps plugin, the real CLI. Review gates assignment; roles are enforced;
// packages reach devices, are upgraded and removed; downloads resume after a cut and a
// damaged partial file is detected and fetched again.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include "agent/apps/apps_feature.h"
#include "agent/apps/package_fetcher.h"
#include "common/credentials.h"
#include "common/pki.h"
#include "preau/v1/catalog.grpc.pb.h"
#include "preau/v1/device.grpc.pb.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSchool = "ville/jaures";
constexpr const char* kClassA = "ville/jaures/cm2-a";
constexpr const char* kClassB = "ville/jaures/cm2-b";

// Writes `size` pseudo-random bytes to `path`; returns their SHA-256.
std::string WriteRandomFile(const std::string& path, size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(size, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(size));
  return pki::Sha256Hex(data);
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// An agent with only the apps plugin, tuned for tests (small chunks, a bandwidth cap so
// a download can be caught half-way, fast retries), on its own event-loop thread.
class AppsAgent {
 public:
  static std::unique_ptr<AppsAgent> Start(const TestServer& server, const std::string& state_dir,
                                          const std::string& token,
                                          std::unique_ptr<agent::Platform> platform,
                                          uint64_t max_bytes_per_second = 0) {
    std::unique_ptr<AppsAgent> t(new AppsAgent());
    TestAgentOptions options;
    options.platform = std::move(platform);
    options.add_features = [&](agent::Agent& a) {
      agent::AppsOptions apps;
      apps.dir = agent::AppsDirFor(state_dir, "");
      apps.fetch.max_chunk = 64 * 1024;
      apps.fetch.max_bytes_per_second = max_bytes_per_second;
      apps.retry_min = 50ms;
      apps.retry_max = 500ms;
      apps.on_apps_changed = [raw = &a] { raw->CheckInventory(); };
      auto feature = std::make_unique<agent::AppsFeature>(apps);
      t->apps_ = feature.get();
      a.AddFeature(std::move(feature));
    };
    auto agent = TestAgent::Start(server, state_dir, token, std::move(options));
    EXPECT_TRUE(agent.ok()) << agent.status().message();
    if (!agent.ok()) return nullptr;
    t->agent_ = std::move(agent).value();
    return t;
  }
  agent::Agent& agent() { return agent_->agent(); }
  agent::AppsFeature& apps() { return *apps_; }
  std::optional<v1::InstalledApp> SimApp(const std::string& id) {
    auto s = agent::ReadSimState(agent_->agent().platform());
    if (!s) return std::nullopt;
    for (const auto& a : s->apps) {
      if (a.id() == id) return a;
    }
    return std::nullopt;
  }

 private:
  AppsAgent() = default;
  std::unique_ptr<TestAgent> agent_;
  agent::AppsFeature* apps_ = nullptr;
};

class AppsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path());
    server_->CreateGroup(kClassA);
    server_->CreateGroup(kClassB);
    admin_path_ = server_->data_dir() + "/admin.credentials";
    // Appointed by another admin than the one who uploads: nobody approves what they, or
    // whoever appointed them, uploaded.
    reviewer_path_ = server_->CreateOperatorAs(CreateOperator("academie", v1::ROLE_ADMIN, {}),
                                               dir_.path(), "m.durand", v1::ROLE_REVIEWER, {});
    teacher_path_ = CreateOperator("mme.martin", v1::ROLE_TEACHER, {kClassA});
    scoped_admin_path_ = CreateOperator("it.jaures", v1::ROLE_ADMIN, {kClassB});
  }

  std::string CreateOperator(const std::string& name, v1::Role role,
                             const std::vector<std::string>& scopes) {
    return server_->CreateOperator(dir_.path(), name, role, scopes);
  }

  std::unique_ptr<v1::CatalogService::Stub> Catalog(const std::string& credentials) {
    return v1::CatalogService::NewStub(OperatorChannel(credentials, server_->port()));
  }

  // Uploads `file` through the streaming call, in 100 KiB chunks.
  grpc::Status Upload(const std::string& credentials, const std::string& file,
                      const std::string& name, const std::string& version,
                      v1::AppVersion* out) {
    auto stub = Catalog(credentials);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    auto writer = stub->Upload(&ctx, out);
    v1::UploadAppRequest req;
    req.mutable_metadata()->set_name(name);
    req.mutable_metadata()->set_version(version);
    req.mutable_metadata()->set_file_name(std::filesystem::path(file).filename().string());
    req.mutable_metadata()->set_size(FileSize(file));
    req.mutable_metadata()->set_category("mathematics");
    bool ok = writer->Write(req);
    std::ifstream in(file, std::ios::binary);
    std::string buf(100 * 1024, '\0');
    while (ok && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      if (in.gcount() == 0) break;
      v1::UploadAppRequest chunk;
      chunk.set_chunk(buf.substr(0, static_cast<size_t>(in.gcount())));
      ok = writer->Write(chunk);
    }
    if (ok) writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status Review(const std::string& credentials, const std::string& id, bool approve,
                      const std::string& reason = "") {
    v1::ReviewAppRequest req;
    req.set_id(id);
    req.set_approve(approve);
    req.set_reason(reason);
    v1::AppVersion resp;
    grpc::ClientContext ctx;
    return Catalog(credentials)->Review(&ctx, req, &resp);
  }

  grpc::Status Assign(const std::string& credentials, const std::string& id,
                      const std::string& group, bool required = true) {
    v1::AssignAppRequest req;
    req.set_id(id);
    req.set_group(group);
    req.set_required(required);
    v1::AppAssignment resp;
    grpc::ClientContext ctx;
    return Catalog(credentials)->Assign(&ctx, req, &resp);
  }

  // Uploads a random package of `size` bytes as name@version and approves it.
  std::string Publish(const std::string& name, const std::string& version, size_t size,
                      uint32_t seed, const std::string& ext = ".apk") {
    std::string file = dir_ / (name + "-" + version + ext);
    std::string sha = WriteRandomFile(file, size, seed);
    v1::AppVersion v;
    auto st = Upload(admin_path_, file, name, version, &v);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(v.sha256(), sha);
    EXPECT_EQ(v.state(), v1::REVIEW_STATE_SUBMITTED);
    st = Review(reviewer_path_, v.id(), true);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return sha;
  }

  // Starts a Linux laptop in class A whose installer runs `cmds`, its downloads throttled,
  // and stops it once a MiB of package `sha` is on disk: a download cut half-way (a
  // reboot, a dead battery). Returns the partial file, the resume point.
  std::string CutDownloadHalfWay(const std::string& sha, const agent::LinuxCommands& cmds) {
    auto a = AppsAgent::Start(*server_, dir_ / "laptop", server_->CreateToken(kClassA),
                              agent::MakeLinuxPlatform(cmds), 3 << 20);
    EXPECT_TRUE(a);
    if (!a) return "";
    std::string partial = a->apps().PartialPath(sha);
    EXPECT_TRUE(WaitUntil([&] { return FileSize(partial) >= (1 << 20); }, 20s));
    return partial;
  }

  std::vector<v1::AuditEntry> Audit() {
    v1::ListAuditRequest req;
    v1::ListAuditResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(server_->admin().ListAudit(&ctx, req, &resp).ok());
    return {resp.entries().begin(), resp.entries().end()};
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::string admin_path_, reviewer_path_, teacher_path_, scoped_admin_path_;
};

TEST_F(AppsTest, OnlyAnApprovedVersionCanBeAssigned) {
  std::string file = dir_ / "calcul.apk";
  std::string sha = WriteRandomFile(file, 300 * 1024, 1);
  v1::AppVersion v;
  ASSERT_TRUE(Upload(admin_path_, file, "fr.calcul", "1.0", &v).ok());
  EXPECT_EQ(v.id(), "fr.calcul@1.0");
  EXPECT_EQ(v.metadata().platform(), "android");  // from the file name
  EXPECT_EQ(v.size(), 300u * 1024);
  // Content-addressed: the artifact is the file under its hash, whole.
  EXPECT_EQ(FileSize(server_->data_dir() + "/artifacts/" + sha), 300u * 1024);

  auto st = Assign(admin_path_, "fr.calcul@1.0", kClassA);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("submitted"), std::string::npos) << st.error_message();

  EXPECT_EQ(Review(reviewer_path_, "fr.calcul@1.0", false).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // a rejection needs a reason
  ASSERT_TRUE(Review(reviewer_path_, "fr.calcul@1.0", false, "publicités").ok());
  st = Assign(admin_path_, "fr.calcul@1.0", kClassA);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("rejected (publicités)"), std::string::npos);
  // A rejected version stays rejected; the same version cannot be uploaded again.
  EXPECT_EQ(Review(reviewer_path_, "fr.calcul@1.0", true).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Upload(admin_path_, file, "fr.calcul", "1.0", &v).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  // A new version goes through review again.
  ASSERT_TRUE(Upload(admin_path_, file, "fr.calcul", "1.1", &v).ok());
  EXPECT_EQ(v.state(), v1::REVIEW_STATE_SUBMITTED);
  EXPECT_EQ(Assign(admin_path_, "fr.calcul@1.1", kClassA).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Review(reviewer_path_, "fr.calcul@1.1", true).ok());
  EXPECT_TRUE(Assign(admin_path_, "fr.calcul@1.1", kClassA).ok());

  // Every step is in the audit log, refusals included.
  int uploads = 0, reviews = 0, refused_assigns = 0;
  for (const auto& e : Audit()) {
    if (e.action() == "app.upload") ++uploads;
    if (e.action() == "app.review") ++reviews;
    if (e.action() == "app.assign" && e.result() != "ok") ++refused_assigns;
  }
  EXPECT_EQ(uploads, 3);          // 1.0, the refused duplicate, 1.1
  EXPECT_EQ(reviews, 4);          // no reason, reject, re-approve refused, approve 1.1
  EXPECT_EQ(refused_assigns, 3);
}

TEST_F(AppsTest, AReviewerCannotAssignAndATeacherCannotApprove) {
  std::string file = dir_ / "lecture.apk";
  WriteRandomFile(file, 64 * 1024, 2);
  v1::AppVersion v;
  EXPECT_EQ(Upload(teacher_path_, file, "fr.lecture", "1.0", &v).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Upload(reviewer_path_, file, "fr.lecture", "1.0", &v).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Upload(admin_path_, file, "fr.lecture", "1.0", &v).ok());

  auto st = Review(teacher_path_, "fr.lecture@1.0", true);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("may not review apps"), std::string::npos);
  // IT staff publish; they do not judge what reaches pupils either.
  EXPECT_EQ(Review(admin_path_, "fr.lecture@1.0", true).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Review(reviewer_path_, "fr.lecture@1.0", true).ok());

  st = Assign(reviewer_path_, "fr.lecture@1.0", kClassA);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("may not assign apps"), std::string::npos);
  EXPECT_EQ(Assign(teacher_path_, "fr.lecture@1.0", kClassA).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // An admin acts within its scopes only.
  EXPECT_EQ(Assign(scoped_admin_path_, "fr.lecture@1.0", kClassA).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Assign(scoped_admin_path_, "fr.lecture@1.0", kClassB).ok());

  bool refusal_audited = false;
  for (const auto& e : Audit()) {
    if (e.action() == "app.review" && e.actor() == "mme.martin" && e.result() != "ok") {
      refusal_audited = true;
    }
  }
  EXPECT_TRUE(refusal_audited);
}

TEST_F(AppsTest, CliUploadThenInstallUpgradeAndRemovalReachTheDevice) {
  std::string file = dir_ / "geo-1.0.apk";
  std::string sha1 = WriteRandomFile(file, 2 << 20, 3);
  auto r = RunBinary("preau", {"apps", "upload", file, "--name", "fr.geo", "--version", "1.0",
                               "--category", "geography", "--minimum-age", "8", "--credentials",
                               admin_path_, "--server", server_->address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("submitted for review"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(sha1), std::string::npos) << r.out;
  r = RunBinary("preau", {"apps", "assign", "fr.geo@1.0", "--group", kClassA, "--required",
                          "--credentials", admin_path_, "--server", server_->address()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("only a version approved by a reviewer can be assigned"),
            std::string::npos) << r.err;
  r = RunBinary("preau", {"apps", "review", "fr.geo@1.0", "--approve", "--credentials",
                          reviewer_path_, "--server", server_->address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunBinary("preau", {"apps", "assign", "fr.geo@1.0", "--group", kSchool, "--required",
                          "--credentials", admin_path_, "--server", server_->address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto a = AppsAgent::Start(*server_, dir_ / "tablet", server_->CreateToken(kClassA),
                            agent::MakeSimPlatform(7));
  ASSERT_TRUE(a);
  ASSERT_TRUE(WaitUntil([&] { return a->SimApp("fr.geo").has_value(); }, 20s));
  EXPECT_EQ(a->SimApp("fr.geo")->version(), "1.0");
  // Installed apps show in the device's inventory (what `devices show` prints)…
  std::string device_id = a->agent().device_id();
  auto inventory_has = [&](const std::string& version) {
    for (const auto& d : server_->Devices(kClassA)) {
      if (d.id() != device_id) continue;
      for (const auto& app : d.inventory().apps()) {
        if (app.id() == "fr.geo" && app.version() == version) return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(WaitUntil([&] { return inventory_has("1.0"); }, 10s));
  // …and in the store's view.
  r = RunBinary("preau", {"apps", "list", "-o", "json", "--credentials", admin_path_,
                          "--server", server_->address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"state\": \"approved\""), std::string::npos) << r.out;
  EXPECT_TRUE(WaitUntil([&] {
    auto s = RunBinary("preau", {"apps", "status", "fr.geo", "-o", "csv", "--credentials",
                                 admin_path_, "--server", server_->address()});
    return s.out.find(device_id) != std::string::npos &&
           s.out.find(",installed,") != std::string::npos;
  }, 10s));

  // Upgrade: a new version, reviewed, assigned closer to the device, replaces 1.0.
  Publish("fr.geo", "2.0", 1 << 20, 4);
  ASSERT_TRUE(Assign(admin_path_, "fr.geo@2.0", kClassA).ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto app = a->SimApp("fr.geo");
    return app && app->version() == "2.0";
  }, 20s));
  EXPECT_TRUE(WaitUntil([&] { return inventory_has("2.0"); }, 10s));

  // Unassigned at the class: the school's 1.0 applies again (closest assignment wins).
  r = RunBinary("preau", {"apps", "unassign", "fr.geo", "--group", kClassA, "--credentials",
                          admin_path_, "--server", server_->address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitUntil([&] {
    auto app = a->SimApp("fr.geo");
    return app && app->version() == "1.0";
  }, 20s));
  // Unassigned everywhere: the required app leaves the device.
  r = RunBinary("preau", {"apps", "unassign", "fr.geo", "--group", kSchool, "--credentials",
                          admin_path_, "--server", server_->address()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitUntil([&] { return !a->SimApp("fr.geo").has_value(); }, 20s));
  // The counters move just after the platform acted.
  EXPECT_TRUE(WaitUntil([&] { return a->apps().stats().removals.load() == 1; }));
  EXPECT_EQ(a->apps().stats().installs.load(), 3u);
}

TEST_F(AppsTest, InstallFailuresAreReportedAndRetried) {
  Publish("fr.dico", "3.1", 256 * 1024, 5);
  ASSERT_TRUE(Assign(admin_path_, "fr.dico@3.1", kClassB).ok());
  auto platform = agent::MakeSimPlatform(9);
  ASSERT_TRUE(agent::SimFailNext(*platform, "install", "disk read-only", 2).ok());
  auto a = AppsAgent::Start(*server_, dir_ / "tablet", server_->CreateToken(kClassB),
                            std::move(platform));
  ASSERT_TRUE(a);
  ASSERT_TRUE(WaitUntil([&] { return a->SimApp("fr.dico").has_value(); }, 20s));
  EXPECT_EQ(a->apps().stats().failures.load(), 2u);
  // The reason reached the server before the retry succeeded; the final state is installed.
  auto stub = Catalog(admin_path_);
  EXPECT_TRUE(WaitUntil([&] {
    v1::AppDeviceStatusRequest req;
    v1::AppDeviceStatusResponse resp;
    grpc::ClientContext ctx;
    if (!stub->DeviceStatus(&ctx, req, &resp).ok() || resp.devices_size() != 1) return false;
    return resp.devices(0).status().state() == "installed";
  }, 10s));
}

TEST_F(AppsTest, ADownloadCutHalfWayResumesAndTheInstalledFileMatches) {
  constexpr size_t kSize = 6 << 20;
  std::string sha = Publish("org.suite", "7.2", kSize, 6, ".bin");
  ASSERT_TRUE(Assign(admin_path_, "org.suite@7.2", kClassA).ok());
  // A Linux device whose installer copies the package, so the test can hash what was
  // installed.
  std::string installed = dir_ / "installed.deb";
  agent::LinuxCommands cmds;
  cmds.install = "cp {file} " + installed;
  cmds.remove = "rm -f " + installed;
  std::string partial = CutDownloadHalfWay(sha, cmds);
  // Buffered bytes not yet on disk are lost with the process; the file is the resume point.
  uint64_t kept = FileSize(partial);
  ASSERT_GT(kept, 0u);
  ASSERT_LT(kept, kSize);

  auto a = AppsAgent::Start(*server_, dir_ / "laptop", "", agent::MakeLinuxPlatform(cmds));
  ASSERT_TRUE(a);
  ASSERT_TRUE(WaitUntil([&] { return FileSize(installed) == kSize; }, 30s));
  auto got = agent::Sha256OfFile(installed);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, sha);
  // Resumed, not started again: only the missing bytes crossed the wire.
  EXPECT_EQ(a->apps().stats().resumed_downloads.load(), 1u);
  EXPECT_EQ(a->apps().stats().bytes_fetched.load(), kSize - kept);
  EXPECT_EQ(a->apps().stats().hash_failures.load(), 0u);
  EXPECT_TRUE(WaitUntil([&] { return !std::filesystem::exists(partial); }));  // not kept
}

TEST_F(AppsTest, ADownloadSurvivesAServerRestart) {
  constexpr size_t kSize = 3 << 20;
  std::string sha = Publish("org.carto", "2.0", kSize, 10, ".bin");
  ASSERT_TRUE(Assign(admin_path_, "org.carto@2.0", kClassA).ok());
  auto a = AppsAgent::Start(*server_, dir_ / "tablet", server_->CreateToken(kClassA),
                            agent::MakeSimPlatform(11), 2 << 20);
  ASSERT_TRUE(a);
  ASSERT_TRUE(WaitUntil([&] { return FileSize(a->apps().PartialPath(sha)) > 0; }, 20s));
  server_->Restart();
  ASSERT_TRUE(WaitUntil([&] { return a->SimApp("org.carto").has_value(); }, 30s));
  EXPECT_EQ(a->apps().stats().hash_failures.load(), 0u);
  EXPECT_LE(a->apps().stats().bytes_fetched.load(), 2 * kSize);
}

TEST_F(AppsTest, ACorruptedPartialDownloadIsDetectedAndFetchedAgain) {
  constexpr size_t kSize = 6 << 20;
  std::string sha = Publish("org.atlas", "1.0", kSize, 8, ".bin");
  ASSERT_TRUE(Assign(admin_path_, "org.atlas@1.0", kClassA).ok());
  std::string installed = dir_ / "atlas.deb";
  agent::LinuxCommands cmds;
  cmds.install = "cp {file} " + installed;
  std::string partial = CutDownloadHalfWay(sha, cmds);
  uint64_t kept = FileSize(partial);
  ASSERT_GT(kept, 1000u);
  ASSERT_LT(kept, kSize);
  {  // one damaged chunk on disk
    int fd = ::open(partial.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "garbage!", 8, 1000), 8);
    ::close(fd);
  }
  auto a = AppsAgent::Start(*server_, dir_ / "laptop", "", agent::MakeLinuxPlatform(cmds));
  ASSERT_TRUE(a);
  ASSERT_TRUE(WaitUntil([&] { return FileSize(installed) == kSize; }, 30s));
  auto got = agent::Sha256OfFile(installed);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, sha);
  EXPECT_EQ(a->apps().stats().hash_failures.load(), 1u);
  EXPECT_GE(a->apps().stats().resumed_downloads.load(), 1u);
  // The rest of the first attempt, then the whole package again.
  EXPECT_EQ(a->apps().stats().bytes_fetched.load(), kSize - kept + kSize);
}

// A device downloads only what it is entitled to: an app assigned to its group (not one
// assigned elsewhere, not one never approved), whatever hashes it may have learnt.
TEST_F(AppsTest, ADeviceMayFetchOnlyTheAppsAssignedToItsGroup) {
  std::string mine = Publish("fr.mine", "1.0", 300 << 10, 21);
  std::string theirs = Publish("fr.theirs", "1.0", 200 << 10, 22);
  std::string file = dir_ / "draft-1.0.apk";
  std::string draft = WriteRandomFile(file, 100 << 10, 23);
  v1::AppVersion v;
  ASSERT_TRUE(Upload(admin_path_, file, "fr.draft", "1.0", &v).ok());  // never reviewed
  for (auto [app, group] : {std::pair{"fr.mine@1.0", kClassA}, {"fr.theirs@1.0", kClassB}}) {
    auto r = RunBinary("preau", {"apps", "assign", app, "--group", group, "--required",
                                 "--credentials", admin_path_, "--server", server_->address()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  {
    auto a = AppsAgent::Start(*server_, dir_ / "tablet", server_->CreateToken(kClassA),
                              agent::MakeSimPlatform(9));
    ASSERT_TRUE(a);
    ASSERT_TRUE(WaitUntil([&] { return a->SimApp("fr.mine").has_value(); }, 20s));
  }
  // The same identity, asking directly.
  auto channel = DeviceChannel(dir_ / "tablet", server_->address());
  ASSERT_TRUE(channel);
  auto stub = v1::DeviceService::NewStub(channel);
  auto fetch = [&](const std::string& sha, uint64_t* bytes) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 20s);
    v1::FetchRequest req;
    req.set_sha256(sha);
    auto reader = stub->Fetch(&ctx, req);
    v1::FetchChunk chunk;
    *bytes = 0;
    while (reader->Read(&chunk)) *bytes += chunk.data().size();
    return reader->Finish();
  };
  uint64_t got = 0;
  grpc::Status st = fetch(mine, &got);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(got, uint64_t{300 << 10});
  for (const std::string& sha : {theirs, draft}) {
    st = fetch(sha, &got);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << sha;
    EXPECT_NE(st.error_message().find("may not download " + sha), std::string::npos)
        << st.error_message();
    EXPECT_EQ(got, 0u);
  }
}

TEST_F(AppsTest, AnUploadThatStopsShortLeavesNothingBehind) {
  auto stub = Catalog(admin_path_);
  grpc::ClientContext ctx;
  v1::AppVersion out;
  auto writer = stub->Upload(&ctx, &out);
  v1::UploadAppRequest req;
  req.mutable_metadata()->set_name("fr.short");
  req.mutable_metadata()->set_version("1");
  req.mutable_metadata()->set_size(1 << 20);
  ASSERT_TRUE(writer->Write(req));
  v1::UploadAppRequest chunk;
  chunk.set_chunk(std::string(1000, 'x'));
  ASSERT_TRUE(writer->Write(chunk));
  writer->WritesDone();
  auto st = writer->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("1000 of 1048576"), std::string::npos) << st.error_message();
  size_t files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(
           server_->data_dir() + "/artifacts")) {
    if (e.is_regular_file()) ++files;
  }
  EXPECT_EQ(files, 0u);
  v1::ListAppsRequest lreq;
  v1::ListAppsResponse lresp;
  grpc::ClientContext lctx;
  ASSERT_TRUE(stub->List(&lctx, lreq, &lresp).ok());
  EXPECT_EQ(lresp.versions_size(), 0);
}

}  // namespace
}  // namespace preau::testing
