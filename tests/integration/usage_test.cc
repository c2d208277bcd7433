// Usage and reports, end to end: real server, real agents over mTLS, the real CLI binary.
// A batch sent twice is stored once; an agent offline for a week with a full outbox
// delivers what it kept and says what it dropped; retention deletes exactly what is past
// it; a device's export holds all of its data and nothing of another's; CSV and JSON
// reports agree; stock-taking import names the line at fault.
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "agent/collect/session_usage.h"
#include "agent/collect/usage_collector.h"
#include "common/files.h"
#include "preau/v1/device.grpc.pb.h"
#include "server/reports/civil_date.h"
#include "server/reports/reports.h"
#include "tests/support/harness.h"

namespace preau::testing {
namespace {

using namespace std::chrono_literals;
constexpr int64_t kDayMs = 86'400'000;
constexpr const char* kClass = "ville/jules-ferry/cm2-a";
constexpr const char* kOtherSchool = "ville/pasteur/ce1";

// Today at 12:00 local time: a whole number of days later is still midday, so local
// dates move by exactly one per day advanced.
int64_t LocalNoonToday() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  tm.tm_hour = 12;
  tm.tm_min = tm.tm_sec = 0;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm)) * 1000;
}

server::ReportsDomain& Reports(TestServer& s) {
  auto* d = server::FindReportsDomain(s.server().core());
  EXPECT_NE(d, nullptr);
  return *d;
}

std::vector<std::string> DaysOf(TestServer& s, const std::string& device_id) {
  auto days = Reports(s).usage.Days("", device_id);
  EXPECT_TRUE(days.ok()) << days.status().message();
  std::vector<std::string> out;
  for (const auto& d : *days) out.push_back(d.day);
  return out;
}

int64_t DroppedOf(TestServer& s, const std::string& device_id) {
  auto dropped = Reports(s).usage.Dropped();
  EXPECT_TRUE(dropped.ok());
  auto it = dropped->find(device_id);
  return it == dropped->end() ? -1 : it->second;
}

// An agent built by hand, to choose its outbox bound, its clock and its collector.
class ManualAgent {
 public:
  ManualAgent(const TestServer& server, const std::string& dir, const std::string& token,
              const Clock* clock, size_t outbox_max, uint64_t seed) {
    TestAgentOptions options;
    options.seed = seed;
    options.clock = clock;
    options.tune = [&](agent::AgentOptions& o) { o.outbox_max = outbox_max; };
    options.add_features = [&](agent::Agent& a) {
      agent::UsageCollectorOptions uo;
      uo.check_interval = 20ms;
      uo.backfill_days = 0;
      auto c = std::make_unique<agent::UsageCollector>(uo);
      collector_ = c.get();
      a.AddFeature(std::move(c));
    };
    auto agent = TestAgent::Start(server, dir, token, std::move(options));
    EXPECT_TRUE(agent.ok()) << agent.status().message();
    agent_ = std::move(agent).value();
  }
  agent::Agent& agent() { return agent_->agent(); }
  agent::UsageCollector& collector() { return *collector_; }

 private:
  std::unique_ptr<TestAgent> agent_;
  agent::UsageCollector* collector_ = nullptr;
};

class UsageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestServer>(dir_.path(), &clock_);
    server_->CreateGroup(kClass);
    server_->CreateGroup(kOtherSchool);
  }
  std::string Creds() const { return server_->data_dir() + "/admin.credentials"; }
  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.end(), {"--credentials", Creds(), "--server", server_->address()});
    return RunBinary("preau", args);
  }
  std::unique_ptr<TestAgent> StartAgent(const std::string& name, const std::string& group,
                                        uint64_t seed) {
    auto a = TestAgent::Start(*server_, dir_ / name, server_->CreateToken(group), seed, &clock_);
    EXPECT_TRUE(a.ok()) << a.status().message();
    if (!a.ok()) return nullptr;
    EXPECT_TRUE((*a)->WaitConnected());
    return std::move(a).value();
  }

  ManualClock clock_{LocalNoonToday()};
  TempDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(UsageTest, ABatchSentTwiceIsStoredOnce) {
  // Enrol a real agent for an identity, then speak for it on a stream of our own.
  std::string device_id;
  {
    auto a = StartAgent("tablet", kClass, 3);
    ASSERT_TRUE(a);
    device_id = a->agent().device_id();
  }
  auto channel = DeviceChannel(dir_ / "tablet", server_->address());
  ASSERT_TRUE(channel);
  auto stub = v1::DeviceService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  auto stream = stub->Connect(&ctx);

  std::string day = server::CivilDate::FromUnixMs(clock_.NowUnixMs()).MinusDays(40).ToString();
  v1::AgentMessage first;
  first.set_id("usage-twice");
  auto* d = first.mutable_usage()->add_days();
  d->set_day(day);
  d->set_screen_on_minutes(95);
  auto* app = d->add_apps();
  app->set_app("org.geogebra.android");
  app->set_foreground_minutes(40);
  // The resend differs in content, as a buggy or hostile agent's might: the id decides.
  v1::AgentMessage again = first;
  again.mutable_usage()->mutable_days(0)->set_screen_on_minutes(600);
  ASSERT_TRUE(stream->Write(first));
  ASSERT_TRUE(stream->Write(again));
  int acks = 0;
  v1::ServerMessage in;
  while (acks < 2 && stream->Read(&in)) {
    if (in.has_ack() && in.ack().id() == "usage-twice") ++acks;
  }
  EXPECT_EQ(acks, 2) << "both copies are acked, so the agent forgets them";
  stream->WritesDone();
  ctx.TryCancel();

  auto batches = Reports(*server_).usage.BatchIds(device_id);
  ASSERT_TRUE(batches.ok());
  EXPECT_EQ(std::count_if(batches->begin(), batches->end(),
                          [](const auto& b) { return b.first == "usage-twice"; }),
            1);
  auto days = Reports(*server_).usage.Days(day, device_id);
  ASSERT_TRUE(days.ok());
  ASSERT_FALSE(days->empty());
  EXPECT_EQ((*days)[0].day, day);
  EXPECT_EQ((*days)[0].screen_on_minutes, 95u) << "the second copy was not stored";
}

TEST_F(UsageTest, AWeekOfflineWithAFullOutboxDeliversWhatItKeptAndSaysWhatItDropped) {
  constexpr size_t kBound = 5;
  ManualAgent a(*server_, dir_ / "home-tablet", server_->CreateToken(kClass), &clock_, kBound, 11);
  const std::string device_id = a.agent().device_id();
  ASSERT_TRUE(WaitUntil([&] { return a.agent().status().connected; }));
  std::string day0 = agent::LocalDay(clock_.NowUnixMs());
  clock_.Advance(kDayMs);
  ASSERT_TRUE(WaitUntil([&] { return a.collector().LastReportedDay() == day0; }));
  ASSERT_TRUE(WaitUntil([&] { return DaysOf(*server_, device_id) == std::vector<std::string>{day0}; }));
  ASSERT_TRUE(WaitUntil([&] { return a.agent().status().outbox_pending == 0; }));

  // A week at home without network: one report a day into an outbox that holds five.
  server_->Stop();
  ASSERT_TRUE(WaitUntil([&] { return !a.agent().status().connected; }));
  std::vector<std::string> week;
  for (int i = 0; i < 7; ++i) {
    week.push_back(agent::LocalDay(clock_.NowUnixMs()));
    clock_.Advance(kDayMs);
    ASSERT_TRUE(WaitUntil([&] { return a.collector().LastReportedDay() == week.back(); }))
        << "day " << week.back() << " was never queued";
  }
  EXPECT_EQ(a.agent().status().outbox_pending, static_cast<int64_t>(kBound));

  server_->Restart();
  ASSERT_TRUE(WaitUntil([&] { return a.agent().status().connected; }, 20s));
  // Everything still queued arrives, then the agent says how many it dropped.
  ASSERT_TRUE(WaitUntil([&] { return a.agent().status().outbox_pending == 0; }, 20s));
  ASSERT_TRUE(WaitUntil([&] {
    auto days = DaysOf(*server_, device_id);
    int64_t dropped = DroppedOf(*server_, device_id);
    return dropped > 0 && static_cast<int64_t>(days.size()) - 1 + dropped == 7;
  }, 20s)) << "server holds " << DaysOf(*server_, device_id).size() << " days, dropped "
           << DroppedOf(*server_, device_id);
  auto days = DaysOf(*server_, device_id);
  int64_t dropped = DroppedOf(*server_, device_id);
  // Dropped: the oldest days past the bound, and nothing else; at least 7 - 5 of them.
  // (On reconnect the core queues a fresh inventory into the same bounded outbox, which
  // may push out one more report: the count says so.)
  EXPECT_GE(dropped, 2);
  EXPECT_LE(dropped, 3);
  std::vector<std::string> expected = {day0};
  expected.insert(expected.end(), week.begin() + dropped, week.end());
  EXPECT_EQ(days, expected);
}

TEST_F(UsageTest, RetentionDeletesExactlyWhatIsPastIt) {
  auto kept = StartAgent("kept", kClass, 5);
  auto retired = StartAgent("retired", kClass, 6);
  ASSERT_TRUE(kept && retired);
  std::string kept_id = kept->agent().device_id(), retired_id = retired->agent().device_id();
  auto& reports = Reports(*server_);

  // Usage on both sides of the 13-month line (13 calendar months before today).
  server::CivilDate today = server::CivilDate::FromUnixMs(clock_.NowUnixMs());
  server::CivilDate line = today.MinusMonths(13);
  std::vector<std::string> days;
  for (int i = -3; i <= 3; ++i) days.push_back(line.MinusDays(-i).ToString());
  days.push_back(today.MinusDays(1).ToString());
  std::vector<v1::UsageBatch> batches(2);
  for (const auto& day : days) {
    for (auto& b : batches) {
      auto* d = b.add_days();
      d->set_day(day);
      d->set_screen_on_minutes(30);
    }
  }
  ASSERT_TRUE(reports.usage.StoreBatches({{kept_id, "seed-kept", &batches[0]},
                                          {retired_id, "seed-retired", &batches[1]}},
                                         /*cutoff_day=*/"", clock_.NowUnixMs())
                  .ok());
  auto before = DaysOf(*server_, kept_id);

  auto outcome = reports.retention.RunRetention(clock_.NowUnixMs());
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  std::vector<std::string> expected;
  for (const auto& d : before) {
    if (d >= line.ToString()) expected.push_back(d);
  }
  EXPECT_EQ(DaysOf(*server_, kept_id), expected);
  EXPECT_EQ(std::count(expected.begin(), expected.end(), line.ToString()), 1)
      << "the first day of the 13 months is kept";
  EXPECT_EQ(std::count(expected.begin(), expected.end(), line.MinusDays(1).ToString()), 0);

  // One day later, exactly one more day is past the line.
  clock_.Advance(kDayMs);
  ASSERT_TRUE(reports.retention.RunRetention(clock_.NowUnixMs()).ok());
  expected.erase(std::remove(expected.begin(), expected.end(), line.ToString()), expected.end());
  EXPECT_EQ(DaysOf(*server_, kept_id), expected);

  // A retired device keeps its usage for the retention after retirement (30 days), then
  // loses all of it; the other device keeps its own.
  retired.reset();
  v1::RetireDeviceRequest req;
  req.set_id(retired_id);
  v1::Device out;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server_->admin().RetireDevice(&ctx, req, &out).ok());
  int64_t retired_at = clock_.NowUnixMs();
  ASSERT_TRUE(reports.retention.RunRetention(retired_at + 29 * kDayMs).ok());
  EXPECT_FALSE(DaysOf(*server_, retired_id).empty());
  auto purge = reports.retention.RunRetention(retired_at + 30 * kDayMs);
  ASSERT_TRUE(purge.ok());
  EXPECT_EQ(purge->retired_devices_purged, 1);
  EXPECT_TRUE(DaysOf(*server_, retired_id).empty());
  auto ids = reports.usage.BatchIds(retired_id);
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->empty());
  EXPECT_FALSE(DaysOf(*server_, kept_id).empty());
}

TEST_F(UsageTest, ExportHoldsAllOfOneDeviceAndNothingOfAnother) {
  auto a = StartAgent("a", kClass, 21);
  auto b = StartAgent("b", kOtherSchool, 22);
  ASSERT_TRUE(a && b);
  std::string a_id = a->agent().device_id(), b_id = b->agent().device_id();
  // The collector backfills a week on first start.
  ASSERT_TRUE(WaitUntil([&] { return DaysOf(*server_, a_id).size() == 7; }));
  ASSERT_TRUE(WaitUntil([&] { return DaysOf(*server_, b_id).size() == 7; }));
  auto devices = server_->Devices();
  std::map<std::string, v1::Device> by_id;
  for (const auto& d : devices) by_id[d.id()] = d;
  ASSERT_TRUE(by_id.count(a_id) && by_id.count(b_id));
  // Something in the audit log and in stock-taking about each.
  ASSERT_EQ(Cli({"devices", "move", a_id, "--group", kOtherSchool}).exit_code, 0);
  ASSERT_EQ(Cli({"devices", "move", b_id, "--group", kClass}).exit_code, 0);
  std::string csv = dir_ / "stock.csv";
  ASSERT_TRUE(WriteFileAtomic(csv, "serial;model;state;purchased\n" +
                                       by_id[a_id].inventory().serial() + ";X;en service;2019-09-01\n" +
                                       by_id[b_id].inventory().serial() + ";Y;réemployable;2020-09-01\n")
                  .ok());
  ASSERT_EQ(Cli({"devices", "import", csv}).exit_code, 0);

  auto r = Cli({"devices", "export", a_id});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  google::protobuf::Struct doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &doc).ok()) << r.out;
  for (const char* section : {"device", "inventory", "usage", "stock_taking", "policy",
                              "class_commands", "audit"}) {
    EXPECT_TRUE(doc.fields().count(section)) << "export lacks " << section;
  }
  EXPECT_EQ(doc.fields().at("device").struct_value().fields().at("id").string_value(), a_id);
  const auto& usage = doc.fields().at("usage").struct_value();
  EXPECT_EQ(usage.fields().at("days").list_value().values_size(), 7);
  for (const auto& day : DaysOf(*server_, a_id)) {
    EXPECT_NE(r.out.find("\"" + day + "\""), std::string::npos) << day;
  }
  auto batch_ids = Reports(*server_).usage.BatchIds(a_id);
  ASSERT_TRUE(batch_ids.ok() && !batch_ids->empty());
  for (const auto& [id, at] : *batch_ids) EXPECT_NE(r.out.find(id), std::string::npos);
  EXPECT_NE(r.out.find("device.move"), std::string::npos);
  EXPECT_NE(r.out.find("2019-09-01"), std::string::npos);
  EXPECT_NE(r.out.find(by_id[a_id].inventory().serial()), std::string::npos);
  // Nothing of the other device: not its id, serial, name or purchase date.
  EXPECT_EQ(r.out.find(b_id), std::string::npos);
  EXPECT_EQ(r.out.find(by_id[b_id].inventory().serial()), std::string::npos);
  EXPECT_EQ(r.out.find(by_id[b_id].inventory().hostname()), std::string::npos);
  EXPECT_EQ(r.out.find("2020-09-01"), std::string::npos);

  EXPECT_EQ(Cli({"devices", "export", "d-nosuchdevice"}).exit_code, 1);
}

// CSV parsing for the comparison below (RFC 4180, as a spreadsheet reads it).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (c == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

TEST_F(UsageTest, CsvAndJsonReportsAgree) {
  auto a = StartAgent("a", kClass, 31);
  auto b = StartAgent("b", kClass, 32);
  auto c = StartAgent("c", kOtherSchool, 33);
  ASSERT_TRUE(a && b && c);
  for (auto* t : {a.get(), b.get(), c.get()}) {
    std::string id = t->agent().device_id();
    ASSERT_TRUE(WaitUntil([&] { return DaysOf(*server_, id).size() == 7; }));
  }
  // Stock-taking rows, one of them named like a spreadsheet formula.
  std::string csv = dir_ / "stock.csv";
  ASSERT_TRUE(WriteFileAtomic(csv,
                              "serial,model,state,name,group,battery_health,disk_total_gb,disk_free_gb\n"
                              "OLD-1,Acer TravelMate,to retire,\"=HYPERLINK(\"\"http://x\"\")\","
                              "ville/jules-ferry/cm2-a,55,64,3\n"
                              "OLD-2,\"Lenovo, ThinkPad\",reusable,Salle 12,,90,128,100\n")
                  .ok());
  auto imp = Cli({"devices", "import", csv});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_NE(imp.out.find("2 added"), std::string::npos) << imp.out;

  for (const char* kind : {"inventory", "usage", "compliance"}) {
    auto rc = Cli({"report", kind, "-o", "csv"});
    auto rj = Cli({"report", kind, "-o", "json"});
    ASSERT_EQ(rc.exit_code, 0) << rc.err;
    ASSERT_EQ(rj.exit_code, 0) << rj.err;
    auto rows = ParseCsv(rc.out);
    google::protobuf::ListValue list;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(rj.out, &list).ok())
        << rj.out;
    ASSERT_FALSE(rows.empty());
    const auto& header = rows[0];
    ASSERT_EQ(rows.size() - 1, static_cast<size_t>(list.values_size())) << kind;
    EXPECT_EQ(rows.size() - 1, std::string(kind) == "inventory" ? 5u : 3u) << kind;
    for (int r = 0; r < list.values_size(); ++r) {
      const auto& obj = list.values(r).struct_value();
      const auto& row = rows[r + 1];
      ASSERT_EQ(row.size(), header.size());
      ASSERT_EQ(static_cast<size_t>(obj.fields_size()), header.size());
      for (size_t i = 0; i < header.size(); ++i) {
        ASSERT_TRUE(obj.fields().count(header[i])) << header[i];
        const auto& v = obj.fields().at(header[i]);
        std::string want;
        switch (v.kind_case()) {
          case google::protobuf::Value::kNullValue: want = ""; break;
          case google::protobuf::Value::kBoolValue: want = v.bool_value() ? "true" : "false"; break;
          case google::protobuf::Value::kNumberValue:
            want = std::to_string(static_cast<int64_t>(v.number_value()));
            break;
          case google::protobuf::Value::kStringValue: {
            want = v.string_value();
            if (!want.empty() && std::string("=+-@").find(want[0]) != std::string::npos) {
              want = "'" + want;  // the CSV's formula guard
            }
            break;
          }
          default: FAIL() << "unexpected JSON value for " << header[i];
        }
        EXPECT_EQ(row[i], want) << kind << " row " << r << " column " << header[i];
      }
    }
  }
  auto inv = Cli({"report", "inventory", "-o", "csv"});
  EXPECT_NE(inv.out.find("\"'=HYPERLINK(\"\"http://x\"\")\""), std::string::npos) << inv.out;
  EXPECT_NE(inv.out.find("\"Lenovo, ThinkPad\""), std::string::npos);
  // The stock device marked to retire and with a worn battery is due for renewal.
  EXPECT_NE(inv.out.find("batterie à 55 %"), std::string::npos) << inv.out;

  // Scoped to one school: the other school's devices are not in it.
  auto school = Cli({"report", "usage", "--group", "ville/pasteur", "-o", "json"});
  ASSERT_EQ(school.exit_code, 0) << school.err;
  EXPECT_NE(school.out.find(c->agent().device_id()), std::string::npos);
  EXPECT_EQ(school.out.find(a->agent().device_id()), std::string::npos);
}

TEST_F(UsageTest, StockImportNamesTheLineAtFault) {
  std::string csv = dir_ / "parc.csv";
  ASSERT_TRUE(WriteFileAtomic(csv, "serial;modele;etat\nA1;Tab;en service\nA2;Tab;cassé\n").ok());
  auto r = Cli({"devices", "import", csv});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("parc.csv:3: column 'state': 'cassé'"), std::string::npos) << r.err;
  ASSERT_TRUE(WriteFileAtomic(csv, "serial,model\nA1,Tab\n").ok());
  r = Cli({"devices", "import", csv});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing required column 'state'"), std::string::npos) << r.err;
  // Nothing half-imported.
  auto inv = Cli({"report", "inventory", "-o", "csv"});
  EXPECT_EQ(inv.out.find("A1"), std::string::npos);
}

TEST_F(UsageTest, RetentionIsConfigurableAndAudited) {
  auto r = Cli({"report", "retention", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"usage_months\": 13"), std::string::npos) << r.out;
  r = Cli({"report", "retention", "--months", "6"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("6 months"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("30 days"), std::string::npos) << r.out;
  r = Cli({"report", "retention", "--months", "0"});
  EXPECT_EQ(r.exit_code, 2);
  auto audit = Cli({"audit", "list", "-o", "csv"});
  EXPECT_NE(audit.out.find("usage.retention"), std::string::npos) << audit.out;
}

}  // namespace
}  // namespace preau::testing

namespace preau::testing {
namespace {

// Issue 17, item 3: a device clock set forward once (to 2029, say) must not silence its
// usage until then. The server refuses usage dated after its own date, saying why; the
// agent drops what was refused, and once its clock is set back it reports again.
TEST_F(UsageTest, AClockSetForwardIsRefusedAndReportingResumesOnceItIsSetBack) {
  ManualClock device_clock(LocalNoonToday());
  ManualAgent a(*server_, dir_ / "clock-tablet", server_->CreateToken(kClass), &device_clock,
                100, 21);
  const std::string device_id = a.agent().device_id();
  ASSERT_TRUE(WaitUntil([&] { return a.agent().status().connected; }));
  const std::string server_today = server::CivilDate::FromUnixMs(clock_.NowUnixMs()).ToString();

  device_clock.Advance(3 * 365 * kDayMs);
  const std::string future_yesterday = agent::AddDays(agent::LocalDay(device_clock.NowUnixMs()), -1);
  ASSERT_TRUE(WaitUntil([&] { return a.collector().LastReportedDay() == future_yesterday; }));
  ASSERT_TRUE(WaitUntil([&] { return !a.agent().status().last_refusal.empty(); }, 20s))
      << "the server never said it refused the batch";
  EXPECT_NE(a.agent().status().last_refusal.find("dated after the server's date"),
            std::string::npos)
      << a.agent().status().last_refusal;
  // Refused for good: it leaves the outbox instead of blocking it.
  ASSERT_TRUE(WaitUntil([&] { return a.agent().status().outbox_pending == 0; }));
  for (const auto& day : DaysOf(*server_, device_id)) {
    EXPECT_LE(day, server_today) << "usage dated in the future was stored";
  }

  // The clock is set right again; the next day ends and is reported.
  device_clock.Set(LocalNoonToday());
  const std::string today = agent::LocalDay(device_clock.NowUnixMs());
  ASSERT_TRUE(WaitUntil([&] { return a.collector().LastReportedDay() < today; }))
      << "the agent still waits for " << a.collector().LastReportedDay();
  device_clock.Advance(kDayMs);
  clock_.Advance(kDayMs);
  ASSERT_TRUE(WaitUntil([&] { return a.collector().LastReportedDay() == today; }));
  ASSERT_TRUE(WaitUntil([&] {
    auto days = DaysOf(*server_, device_id);
    return std::find(days.begin(), days.end(), today) != days.end();
  }, 20s)) << "the day after the clock was set back never reached the server";
}

// Issue 17, item 3: a connection that fails while the device's clock lies outside its
// certificates' validity says that the clock is the likely cause.
TEST_F(UsageTest, AFailedConnectionWithAWrongClockSaysSo) {
  ManualClock device_clock(clock_.NowUnixMs());
  ManualAgent a(*server_, dir_ / "late-tablet", server_->CreateToken(kClass), &device_clock,
                100, 22);
  ASSERT_TRUE(WaitUntil([&] { return a.agent().status().connected; }));
  device_clock.Advance(3000 * kDayMs);  // past the 825 days of its certificate
  server_->Stop();
  ASSERT_TRUE(WaitUntil([&] {
    return a.agent().status().last_error.message().find("clock") != std::string::npos;
  }, 20s)) << a.agent().status().last_error.message();
  std::string why = a.agent().status().last_error.message();
  EXPECT_NE(why.find("after this device's certificate ended"), std::string::npos) << why;
}

}  // namespace
}  // namespace preau::testing

// Usage from a desktop session is counted on the day it happened: what the session
// reported over a period across midnight is shared between the period's days, in
// proportion to their part of it, and adds up to what was reported.
namespace preau::agent {
namespace {

constexpr int64_t kMinute = 60'000;

class SessionUsageSplitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("TZ", "Europe/Paris", 1);
    tzset();
  }
  static int64_t Local(int y, int mo, int d, int h, int mi) {
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_isdst = -1;
    return static_cast<int64_t>(std::mktime(&tm)) * 1000;
  }
};

TEST_F(SessionUsageSplitTest, APeriodAcrossMidnightIsSharedBetweenItsDays) {
  Platform::SessionUsage u;
  u.screen_on_ms = 10 * kMinute;
  u.app_ms["XLogo"] = 5 * kMinute;
  u.app_ms["Chromium"] = 1;
  auto split = SplitByLocalDay(u, Local(2026, 3, 9, 23, 56), Local(2026, 3, 10, 0, 6));
  ASSERT_EQ(split.size(), 2u);
  EXPECT_EQ(split["2026-03-09"].screen_on_ms, 4 * kMinute);
  EXPECT_EQ(split["2026-03-10"].screen_on_ms, 6 * kMinute);
  EXPECT_EQ(split["2026-03-09"].app_ms["XLogo"], 2 * kMinute);
  EXPECT_EQ(split["2026-03-10"].app_ms["XLogo"], 3 * kMinute);
  // Nothing is lost to rounding: the millisecond that cannot be shared is the last day's.
  EXPECT_EQ(split["2026-03-09"].app_ms.count("Chromium"), 0u);
  EXPECT_EQ(split["2026-03-10"].app_ms["Chromium"], 1);
}

TEST_F(SessionUsageSplitTest, APeriodWithinADayStaysOnIt) {
  Platform::SessionUsage u;
  u.screen_on_ms = 7 * kMinute;
  u.app_ms["XLogo"] = 7 * kMinute;
  auto split = SplitByLocalDay(u, Local(2026, 3, 9, 10, 0), Local(2026, 3, 9, 10, 10));
  ASSERT_EQ(split.size(), 1u);
  EXPECT_EQ(split["2026-03-09"].screen_on_ms, 7 * kMinute);
  EXPECT_EQ(split["2026-03-09"].app_ms["XLogo"], 7 * kMinute);
  // An empty period (a clock that stood still): all of it on its day.
  split = SplitByLocalDay(u, Local(2026, 3, 9, 10, 0), Local(2026, 3, 9, 10, 0));
  EXPECT_EQ(split["2026-03-09"].screen_on_ms, 7 * kMinute);
}

TEST_F(SessionUsageSplitTest, ALongPeriodCoversEveryDayItSpansAndSummerTime) {
  // 23:00 on the 28th to 01:00 on the 30th of March 2026: 1 h, then the 23 hours of the
  // day clocks go forward, then 1 h: 25 hours in all.
  int64_t from = Local(2026, 3, 28, 23, 0), to = Local(2026, 3, 30, 1, 0);
  ASSERT_EQ(to - from, 25 * 60 * kMinute);
  EXPECT_EQ(NextLocalMidnight(Local(2026, 3, 29, 0, 0)), Local(2026, 3, 30, 0, 0));
  EXPECT_EQ(Local(2026, 3, 30, 0, 0) - Local(2026, 3, 29, 0, 0), 23 * 60 * kMinute);
  Platform::SessionUsage u;
  u.screen_on_ms = 25 * 60 * kMinute;
  auto split = SplitByLocalDay(u, from, to);
  ASSERT_EQ(split.size(), 3u);
  EXPECT_EQ(split["2026-03-28"].screen_on_ms, 60 * kMinute);
  EXPECT_EQ(split["2026-03-29"].screen_on_ms, 23 * 60 * kMinute);
  EXPECT_EQ(split["2026-03-30"].screen_on_ms, 60 * kMinute);
}

}  // namespace
}  // namespace preau::agent
