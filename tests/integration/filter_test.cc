// Web protection end to end: the real server (FilterService, per-profile snapshots and
// deltas, the policy's web_filter), a real agent over mTLS with the filter plugin's
// resolver on loopback, real DNS packets from our own client and from `dig`, a fake
// upstream DNS server (there is no internet here), the `preau` CLI binary, and a teacher's
// `class allow` on a ManualClock.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "agent/control/class_control.h"
#include "agent/control/teacher_state.h"
#include "agent/core/agent.h"
#include "agent/filter/dns_message.h"
#include "agent/filter/filter_plugin.h"
#include "agent/platform/platform.h"
#include "common/credentials.h"
#include "common/files.h"
#include "common/filter/ut1_reader.h"
#include "common/pki.h"
#include "preau/v1/command.pb.h"
#include "preau/v1/filter.grpc.pb.h"
#include "preau/v1/policy.grpc.pb.h"
#include "server/filter/filter_service.h"
#include "tests/support/dns_peers.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace dns = agent::dns;

constexpr int64_t kStart = 1'790'000'000'000;  // 2026-09-21, a school day
constexpr const char* kCasino2 = "000-online-casino.biz";    // in gambling/domains
constexpr const char* kGame = "007arcadegames.com";          // in games/domains

// The class blocks gambling and DoH, allows one name under a blocked domain and denies one
// name that no list has.
constexpr const char* kWebPolicy = R"(name: cm2-web
timezone: Europe/Paris
web_filter:
  categories: [gambling, doh]
  allow: [good.000-online-casino.com]
  deny: [denied.example.org]
  safe_search: true
)";

// What the fake upstream answers for every A query (the engines' safe hosts included).
constexpr const char* kUpstreamAddress = "192.0.2.7";

class FakeUpstream : public FakeDnsServer {
 public:
  FakeUpstream()
      : FakeDnsServer([](const std::string& req, const dns::Query& q) {
          if (q.qtype != dns::kTypeA) return dns::BuildResponse(req, q, dns::kNoError);
          return AddressAnswer(req, q, std::string("\xc0\x00\x02\x07", 4));
        }) {}
};

using DnsClient = DnsUdpClient;
using Answer = DnsAnswer;

std::string Dig(uint16_t port, const std::string& name) {
  std::string cmd = "dig @127.0.0.1 -p " + std::to_string(port) + " +short +tries=1 +time=3 " +
                    name + " A 2>&1";
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, f)) out += buf;
    pclose(f);
  }
  return out;
}

// A real agent with the class-control and filter plugins, its resolver on 127.0.0.1:0.
class FilterAgent {
 public:
  static std::unique_ptr<FilterAgent> Start(const TestServer& server, const std::string& state,
                                            const std::string& token, const std::string& upstream,
                                            const Clock* clock) {
    std::unique_ptr<FilterAgent> t(new FilterAgent());
    TestAgentOptions options;
    options.seed = 7;
    options.clock = clock;
    options.add_features = [&](agent::Agent& a) {
      auto teacher = std::make_shared<agent::TeacherState>();
      a.AddFeature(std::make_unique<agent::ClassControlFeature>(teacher));
      agent::FilterPluginOptions fo;
      fo.listen = "127.0.0.1:0";
      fo.dir = state + "/filter";
      fo.upstreams = {upstream};
      fo.resolver.upstream_timeout_ms = 500;
      auto plugin = std::make_unique<agent::FilterPlugin>(teacher, fo);
      t->filter_ = plugin.get();
      a.AddFeature(std::move(plugin));
    };
    auto agent = TestAgent::Start(server, state, token, std::move(options));
    EXPECT_TRUE(agent.ok()) << agent.status().message();
    if (!agent.ok()) return nullptr;
    t->agent_ = std::move(agent).value();
    return t;
  }
  agent::FilterPlugin& filter() { return *filter_; }
  agent::Agent& agent() { return agent_->agent(); }

 private:
  FilterAgent() = default;
  std::unique_ptr<TestAgent> agent_;
  agent::FilterPlugin* filter_ = nullptr;
};

class FilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path(), &clock_);
    server_->CreateGroup(kClass);
    admin_creds_ = server_->data_dir() + "/admin.credentials";
    auto channel = OperatorChannel(admin_creds_, server_->port());
    filter_ = v1::FilterService::NewStub(channel);
    policy_ = v1::PolicyService::NewStub(channel);
  }

  CommandResult Cli(std::vector<std::string> args, const std::string& creds = "") {
    args.insert(args.end(), {"--credentials", creds.empty() ? admin_creds_ : creds, "--server",
                             server_->address()});
    return RunBinary("preau", args);
  }

  void ApplyPolicy(const std::string& yaml) {
    v1::ApplyPolicyRequest req;
    req.set_group(kClass);
    req.set_source(yaml);
    req.set_file("cm2-web.yaml");
    v1::ApplyPolicyResponse resp;
    grpc::ClientContext ctx;
    auto st = policy_->Apply(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  // A copy of the UT1 extract with gambling changed: kCasino2 delisted, one name added.
  std::string ChangedUt1() {
    std::string root = dir_ / "ut1-v2";
    fs::copy(kUt1, root, fs::copy_options::recursive);
    std::string path = root + "/gambling/domains";
    auto text = ReadFile(path);
    EXPECT_TRUE(text.ok());
    std::string out;
    size_t pos = 0;
    while (pos < text->size()) {
      size_t end = text->find('\n', pos);
      if (end == std::string::npos) end = text->size();
      std::string line = text->substr(pos, end - pos);
      if (line != kCasino2) out += line + "\n";
      pos = end + 1;
    }
    out += "brand-new-casino.example\n";
    EXPECT_TRUE(WriteFileAtomic(path, out).ok());
    return root;
  }

  // The server's filter publisher (to see what each device last said it holds).
  server::FilterPublisher* Publisher() {
    for (auto* f : server_->server().core().features) {
      if (auto* d = dynamic_cast<server::FilterDomain*>(f)) return &d->publisher();
    }
    return nullptr;
  }

  // The files in the server's artifact store.
  std::set<std::string> Artifacts() {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(server_->data_dir() + "/artifacts")) {
      if (e.is_regular_file()) out.insert(e.path().filename().string());
    }
    return out;
  }

  v1::ListFiltersResponse List() {
    v1::ListFiltersResponse resp;
    grpc::ClientContext ctx;
    auto st = filter_->List(&ctx, v1::ListFiltersRequest(), &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }

  std::string CreateTeacher(const std::string& name) {
    return server_->CreateOperator(dir_.path(), name, v1::ROLE_TEACHER, {kClass});
  }

  TempDir dir_;
  ManualClock clock_{kStart};
  std::unique_ptr<TestServer> server_;
  std::string admin_creds_;
  std::unique_ptr<v1::FilterService::Stub> filter_;
  std::unique_ptr<v1::PolicyService::Stub> policy_;
  FakeUpstream upstream_;
};

TEST_F(FilterTest, ImportReportsWhatEachCategoryLoadedAndSkipped) {
  auto r = Cli({"filter", "import", kUt1, "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The same counts as the reader gives on the same folder, category by category.
  auto local = filter::ReadUt1(kUt1);
  ASSERT_TRUE(local.ok());
  for (const auto& cat : local->categories) {
    std::string needle = "\"name\": \"" + cat.name + "\"";
    size_t at = r.out.find(needle);
    ASSERT_NE(at, std::string::npos) << cat.name << " missing in\n" << r.out.substr(0, 2000);
    std::string obj = r.out.substr(at, r.out.find('}', at) - at);
    EXPECT_NE(obj.find("\"domains\": " + std::to_string(cat.domains.size()) + ","),
              std::string::npos) << obj;
    EXPECT_NE(obj.find("\"domain_lines\": " + std::to_string(cat.domain_lines) + ","),
              std::string::npos) << obj;
    EXPECT_NE(obj.find("\"skipped\": " + std::to_string(cat.skipped.size()) + ","),
              std::string::npos) << obj;
    EXPECT_EQ(cat.domains.size() + cat.skipped.size() - [&] {
      size_t url_skips = 0;
      for (const auto& s : cat.skipped) url_skips += s.file == "urls";
      return url_skips;
    }(), cat.domain_lines);
  }

  // The table names the categories and quotes the reasons for skipped lines.
  r = Cli({"filter", "import", kUt1});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("gambling"), std::string::npos);
  EXPECT_NE(r.out.find("Imported version 2:"), std::string::npos) << r.out;

  r = Cli({"filter", "list", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"version\": 2"), std::string::npos) << r.out.substr(0, 1000);
  EXPECT_NE(r.out.find("\"version\": 1"), std::string::npos);
  r = Cli({"filter", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Categories of version 2"), std::string::npos) << r.out;

  // Audited; a teacher may not import.
  v1::ListAuditRequest areq;
  v1::ListAuditResponse aresp;
  grpc::ClientContext actx;
  ASSERT_TRUE(server_->admin().ListAudit(&actx, areq, &aresp).ok());
  int imports = 0;
  for (const auto& e : aresp.entries()) imports += e.action() == "filter.import";
  EXPECT_EQ(imports, 2);  // the two imports so far
  r = Cli({"filter", "import", kUt1}, CreateTeacher("mme.martin"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("permission denied"), std::string::npos) << r.err;

  // Stray lines are reported with their number and reason (the extract has none).
  std::string mini = dir_ / "mini";
  fs::create_directories(mini + "/casinos");
  ASSERT_TRUE(WriteFileAtomic(mini + "/casinos/domains",
                              "casino.example\n# a comment\nnot a domain\ncasino.example\n")
                  .ok());
  ASSERT_TRUE(WriteFileAtomic(mini + "/casinos/usage", "black\n").ok());
  r = Cli({"filter", "import", mini, "--force"});  // every UT1 category but one goes
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("casinos: 3 lines skipped"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 4: duplicate of line 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Imported version 3: 1 domains"), std::string::npos) << r.out;

  // Bad input says what is wrong.
  r = Cli({"filter", "import", dir_.path()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no category folder"), std::string::npos) << r.err;
}

TEST_F(FilterTest, AgentResolverEnforcesThePolicyAndFollowsReimportsAndTeachers) {
  auto r = Cli({"filter", "import", kUt1});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ApplyPolicy(kWebPolicy);

  // `filter test` from the CLI names the rule, with the class's profile.
  r = Cli({"filter", "test", kCasino, "--group", kClass});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("BLOCKED"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("category gambling"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cm2-web"), std::string::npos) << r.out;
  r = Cli({"filter", "test", "good.000-online-casino.com", "--group", kClass});
  EXPECT_NE(r.out.find("allowed by the allow list"), std::string::npos) << r.out;
  r = Cli({"filter", "test", "https://astrolabio.net/casino/roulette", "--group", kClass});
  EXPECT_NE(r.out.find("URL rule astrolabio.net/casino/"), std::string::npos) << r.out;
  r = Cli({"filter", "test", kGame, "--group", kClass, "-o", "json"});
  EXPECT_NE(r.out.find("\"blocked\": false"), std::string::npos) << r.out;

  auto agent = FilterAgent::Start(*server_, dir_ / "tablet", server_->CreateToken(kClass),
                                  upstream_.address(), &clock_);
  ASSERT_TRUE(agent);
  auto& f = agent->filter();
  ASSERT_TRUE(WaitUntil([&] { return f.version() != 0; }, 20s)) << f.last_error();
  uint64_t first_version = f.version();
  EXPECT_EQ(f.deltas_applied(), 0u);  // the first snapshot comes whole
  DnsClient client(f.port());

  EXPECT_TRUE(client.Ask(kCasino).Blocked());                    // listed
  EXPECT_TRUE(client.Ask(std::string("www.") + kCasino).Blocked());  // a subdomain
  // allow beats block
  EXPECT_TRUE(client.Ask("good.000-online-casino.com").AnsweredWith(kUpstreamAddress));
  EXPECT_TRUE(client.Ask("denied.example.org").Blocked());       // the policy's deny list
  // games: not in this profile
  EXPECT_TRUE(client.Ask(kGame).AnsweredWith(kUpstreamAddress));
  EXPECT_TRUE(client.Ask("lumni.fr").AnsweredWith(kUpstreamAddress));
  Answer google = client.Ask("www.google.fr");                   // safe search
  ASSERT_FALSE(google.cnames.empty());
  EXPECT_EQ(google.cnames[0], "forcesafesearch.google.com");
  // The same from dig.
  EXPECT_EQ(Dig(f.port(), kCasino), "0.0.0.0\n");
  EXPECT_EQ(Dig(f.port(), std::string("ads.") + kCasino), "0.0.0.0\n");
  EXPECT_EQ(Dig(f.port(), "lumni.fr"), "192.0.2.7\n");
  EXPECT_NE(Dig(f.port(), "www.youtube.com").find("restrict.youtube.com."), std::string::npos);
  EXPECT_EQ(f.BlockedCounts()["gambling"], 4u);
  EXPECT_EQ(f.BlockedCounts()["deny list"], 1u);
  // URL rules for what the agent opens.
  EXPECT_TRUE(f.DecideUrl("https://astrolabio.net/casino/x").blocked);
  EXPECT_FALSE(f.DecideUrl("https://astrolabio.net/maths").blocked);

  // A re-import reaches the agent as a delta while it answers without a miss.
  std::atomic<bool> stop{false};
  std::atomic<int> asked{0}, unanswered{0};
  std::thread load([&] {
    DnsClient c(f.port());
    while (!stop) {
      Answer a = c.Ask(asked % 2 ? kCasino : "lumni.fr");
      asked++;
      if (!a.received || a.rcode != 0) unanswered++;
    }
  });
  r = Cli({"filter", "import", ChangedUt1()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  bool updated = WaitUntil([&] { return f.version() != first_version; }, 20s);
  WaitUntil([&] { return asked > 200; }, 5s);
  stop = true;
  load.join();
  ASSERT_TRUE(updated) << f.last_error();
  EXPECT_EQ(f.deltas_applied(), 1u);
  EXPECT_EQ(unanswered, 0) << "of " << asked;
  EXPECT_GT(asked, 10);
  EXPECT_TRUE(client.Ask("brand-new-casino.example").Blocked());
  EXPECT_TRUE(client.Ask(kCasino2).AnsweredWith(kUpstreamAddress));
  EXPECT_TRUE(client.Ask(kCasino).Blocked());
  EXPECT_TRUE(fs::exists(dir_ / "tablet/filter/snapshot.pfs"));

  // A teacher allows the blocked site for 45 minutes: it resolves until then.
  std::string teacher = CreateTeacher("mme.martin");
  // Open never takes the class to a blocked page: the device refuses and says why.
  const std::string casino_url = std::string("https://") + kCasino + "/poker";
  r = Cli({"class", "open", kClass, "--url", casino_url}, teacher);
  EXPECT_NE((r.out + r.err).find("web filter"), std::string::npos) << r.out << r.err;
  r = Cli({"class", "allow", kClass, "--site", kCasino, "--for", "45m"}, teacher);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_TRUE(WaitUntil([&] { return client.Ask(kCasino).AnsweredWith(kUpstreamAddress); }, 10s));
  // Allowed for the class, the page opens.
  r = Cli({"class", "open", kClass, "--url", casino_url}, teacher);
  EXPECT_EQ((r.out + r.err).find("web filter"), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find("1/1"), std::string::npos) << r.out;
  EXPECT_TRUE(client.Ask(std::string("www.") + kCasino).AnsweredWith(kUpstreamAddress));
  EXPECT_TRUE(client.Ask("brand-new-casino.example").Blocked());  // only that site
  clock_.Advance(46 * 60 * 1000);
  EXPECT_TRUE(WaitUntil([&] { return client.Ask(kCasino).Blocked(); }, 10s));

  // A new policy for the class (games blocked too) reaches the connected agent.
  std::string with_games = kWebPolicy;
  with_games.replace(with_games.find("[gambling, doh]"), 15, "[gambling, doh, games]");
  ApplyPolicy(with_games);
  EXPECT_TRUE(WaitUntil([&] { return client.Ask(kGame).Blocked(); }, 20s));
  EXPECT_TRUE(client.Ask(kCasino).Blocked());
}

TEST_F(FilterTest, AgentKeepsFilteringFromItsSavedSnapshotWithoutTheServer) {
  ASSERT_EQ(Cli({"filter", "import", kUt1}).exit_code, 0);
  ApplyPolicy(kWebPolicy);
  std::string token = server_->CreateToken(kClass);
  uint64_t version = 0;
  {
    auto agent = FilterAgent::Start(*server_, dir_ / "tablet", token, upstream_.address(), &clock_);
    ASSERT_TRUE(agent);
    ASSERT_TRUE(WaitUntil([&] { return agent->filter().version() != 0; }, 20s));
    version = agent->filter().version();
  }
  server_->Stop();
  auto agent = FilterAgent::Start(*server_, dir_ / "tablet", "", upstream_.address(), &clock_);
  ASSERT_TRUE(agent);
  // Loaded from disk before the resolver serves: no wait for the server.
  ASSERT_TRUE(WaitUntil([&] { return agent->filter().port() != 0; }, 10s));
  EXPECT_EQ(agent->filter().version(), version);
  DnsClient client(agent->filter().port());
  EXPECT_TRUE(client.Ask(kCasino).Blocked());
  EXPECT_TRUE(client.Ask("lumni.fr").AnsweredWith(kUpstreamAddress));
}

TEST_F(FilterTest, ThreeImportsPurgeTheFirstAndDevicesStillGetTheirSnapshot) {
  ASSERT_EQ(Cli({"filter", "import", kUt1}).exit_code, 0);
  ApplyPolicy(kWebPolicy);
  std::string token = server_->CreateToken(kClass);
  auto tablet = FilterAgent::Start(*server_, dir_ / "tablet", token, upstream_.address(), &clock_);
  ASSERT_TRUE(tablet);
  auto& f = tablet->filter();
  ASSERT_TRUE(WaitUntil([&] { return f.version() != 0; }, 20s)) << f.last_error();
  const std::set<std::string> first = Artifacts();  // import 1's full set and snapshot
  ASSERT_EQ(first.size(), 2u);

  server::FilterPublisher* publisher = Publisher();
  ASSERT_NE(publisher, nullptr);
  const std::string id = tablet->agent().status().device_id;
  std::string changed = ChangedUt1();
  uint64_t held = f.version();
  for (const std::string& folder : {changed, std::string(kUt1)}) {
    // The server has heard what the tablet holds (or it would keep that as a delta base).
    ASSERT_TRUE(WaitUntil([&] { return publisher->HeldBy(id) == held; }));
    auto r = Cli({"filter", "import", folder});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(WaitUntil([&] { return f.version() != held; }, 20s)) << f.last_error();
    held = f.version();
  }
  EXPECT_EQ(f.deltas_applied(), 2u);

  // The first import's snapshot is gone from disk; its history stays, and so does its full
  // set, as the last three imports' do (`filter rollback`).
  std::set<std::string> now = Artifacts();
  v1::ListFiltersResponse list = List();
  ASSERT_EQ(list.versions_size(), 3);
  for (const auto& sha : first) {
    EXPECT_EQ(now.count(sha), sha == list.versions(2).sha256() ? 1u : 0u) << sha;
  }
  EXPECT_EQ(list.versions(0).version(), 3u);
  EXPECT_EQ(list.versions(2).version(), 1u);
  EXPECT_EQ(list.snapshots(), 2u);  // one profile, imports 2 and 3
  EXPECT_TRUE(now.count(list.versions(0).sha256()));
  EXPECT_TRUE(now.count(list.versions(1).sha256()));  // not current, kept for rollback

  // The current version works: the tablet filters with it, a new tablet gets it whole,
  // `filter test` answers from it.
  DnsClient client(f.port());
  EXPECT_TRUE(client.Ask(kCasino).Blocked());
  EXPECT_TRUE(client.Ask(kCasino2).Blocked());  // back in the list with import 3
  EXPECT_TRUE(client.Ask("lumni.fr").AnsweredWith(kUpstreamAddress));
  auto fresh = FilterAgent::Start(*server_, dir_ / "fresh", token, upstream_.address(), &clock_);
  ASSERT_TRUE(fresh);
  ASSERT_TRUE(WaitUntil([&] { return fresh->filter().version() == held; }, 20s))
      << fresh->filter().last_error();
  EXPECT_EQ(fresh->filter().deltas_applied(), 0u);
  EXPECT_TRUE(DnsClient(fresh->filter().port()).Ask(kCasino).Blocked());
  auto r = Cli({"filter", "test", kCasino, "--group", kClass});
  EXPECT_NE(r.out.find("BLOCKED"), std::string::npos) << r.out << r.err;
}

TEST_F(FilterTest, ASnapshotADeviceStillHoldsStaysItsDeltaBase) {
  ASSERT_EQ(Cli({"filter", "import", kUt1}).exit_code, 0);
  ApplyPolicy(kWebPolicy);
  server::FilterPublisher* publisher = Publisher();
  ASSERT_NE(publisher, nullptr);
  std::string token = server_->CreateToken(kClass);
  auto online = FilterAgent::Start(*server_, dir_ / "online", token, upstream_.address(), &clock_);
  auto away = FilterAgent::Start(*server_, dir_ / "away", token, upstream_.address(), &clock_);
  ASSERT_TRUE(online && away);
  ASSERT_TRUE(WaitUntil([&] { return online->filter().version() != 0; }, 20s));
  ASSERT_TRUE(WaitUntil([&] { return away->filter().version() != 0; }, 20s));
  const uint64_t s1 = away->filter().version();
  const std::string online_id = online->agent().status().device_id;
  const std::string away_id = away->agent().status().device_id;
  ASSERT_TRUE(WaitUntil([&] { return publisher->HeldBy(away_id) == s1; }));
  const std::set<std::string> first = Artifacts();
  ASSERT_EQ(first.size(), 2u);
  const std::string full1 = List().versions(0).sha256();
  std::string snapshot1;
  for (const auto& sha : first) {
    if (sha != full1) snapshot1 = sha;
  }
  away.reset();  // offline, holding snapshot s1
  // The server restarts meanwhile: what the away tablet holds is read back from the store.
  server_->Restart();
  publisher = Publisher();
  ASSERT_NE(publisher, nullptr);
  EXPECT_EQ(publisher->HeldBy(away_id), s1);
  ASSERT_TRUE(WaitUntil([&] { return publisher->HeldBy(online_id) != 0; }, 20s));

  // Each import: the online tablet follows, and the server hears what it holds.
  auto import = [&](const std::string& folder) {
    uint64_t before = online->filter().version();
    auto r = Cli({"filter", "import", folder});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(WaitUntil([&] { return online->filter().version() != before; }, 20s));
    uint64_t now = online->filter().version();
    ASSERT_TRUE(WaitUntil([&] { return publisher->HeldBy(online_id) == now; }));
  };
  std::string changed = ChangedUt1();
  import(changed);
  EXPECT_TRUE(Artifacts().count(full1));  // no longer current, kept for `filter rollback`
  import(kUt1);
  // Import 1 is two versions old, but the away tablet's last word was s1: kept.
  EXPECT_TRUE(Artifacts().count(snapshot1));

  // Back online, the away tablet gets the current snapshot as a delta from s1.
  away = FilterAgent::Start(*server_, dir_ / "away", "", upstream_.address(), &clock_);
  ASSERT_TRUE(away);
  ASSERT_TRUE(WaitUntil([&] { return away->filter().version() == online->filter().version(); },
                        20s)) << away->filter().last_error();
  EXPECT_EQ(away->filter().deltas_applied(), 1u);
  ASSERT_TRUE(WaitUntil([&] { return publisher->HeldBy(away_id) == away->filter().version(); }));

  // Nobody holds s1 any more: the next import removes it.
  import(changed);
  EXPECT_FALSE(Artifacts().count(snapshot1));
  ASSERT_TRUE(WaitUntil([&] { return away->filter().version() == online->filter().version(); },
                        20s));
  EXPECT_TRUE(DnsClient(away->filter().port()).Ask("brand-new-casino.example").Blocked());
}

TEST_F(FilterTest, ASecondImportWhileOneRunsIsRefused) {
  server::FilterPublisher* publisher = Publisher();
  ASSERT_NE(publisher, nullptr);
  grpc::ClientContext ctx;
  v1::ImportFilterResponse resp;
  auto first = filter_->Import(&ctx, &resp);
  v1::ImportFilterRequest start;
  start.mutable_start()->set_source("a slow upload");
  ASSERT_TRUE(first->Write(start));
  ASSERT_TRUE(WaitUntil([&] { return publisher->ImportRunning(); }));

  grpc::ClientContext ctx2;
  v1::ImportFilterResponse resp2;
  auto second = filter_->Import(&ctx2, &resp2);
  second->WritesDone();
  grpc::Status refused = second->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("an import is already running"), std::string::npos)
      << refused.error_message();
  auto r = Cli({"filter", "import", kUt1});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("an import is already running"), std::string::npos) << r.err;

  // The first import goes on to the end; then the next one is taken.
  v1::ImportFilterRequest chunk;
  chunk.mutable_chunk()->set_category("casinos");
  chunk.mutable_chunk()->set_file("domains");
  chunk.mutable_chunk()->set_data("casino.example\nnot a domain\n");
  chunk.mutable_chunk()->set_last(true);
  ASSERT_TRUE(first->Write(chunk));
  ASSERT_TRUE(first->WritesDone());
  grpc::Status st = first->Finish();
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.version().version(), 1u);
  EXPECT_EQ(resp.version().domains(), 1u);
  EXPECT_EQ(resp.version().skipped(), 1u);
  EXPECT_FALSE(publisher->ImportRunning());
  r = Cli({"filter", "import", kUt1});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Imported version 2:"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace preau::testing
