// bench_usage_ingest: usage ingest from many simulated agents, measured on the real server,
// on its SQLite store and on a PostgreSQL store in the same run.
//
// What it does, for each store (--store sqlite|postgresql|both; both by default):
// 1. Starts the real `preau-server` binary on a fresh data folder (its own process, so
//    its CPU is its own: utime + stime from /proc/PID/stat). On PostgreSQL: a real
//    PostgreSQL 15 cluster started as the tests start theirs (tests/support/
//    postgres_cluster.h: initdb + postgres as an unprivileged user on a free loopback
//    port), but durable (fsync, synchronous_commit, full_page_writes on), and
//    `preau-server init --store postgresql://...` on a new database of it.
// 2. Enrols --devices identities through the real Enroll RPC (a key and CSR each; not
//    timed).
// 3. Opens one mTLS Connect stream per identity -- its own channel and TLS session, as a
//    tablet would -- and waits for every hello's ack (not timed).
// 4. Timed: every device sends --reports UsageBatch messages (one day each: screen-on
//    minutes, five apps, three blocked categories) pipelined on its stream, as an agent
//    flushing its outbox after a few days offline does; the phase ends when the server has
//    acked every one. An ack is sent only after the batch's transaction is durable
//    (SQLite: WAL, synchronous=FULL; PostgreSQL: the commit flushed to its WAL), so
//    acks/s is durable reports/s.
// It prints durable reports/s, the server's CPU per report and its CPU use (on PostgreSQL
// also the database's: the postmaster and every process it started), and with both
// stores the ratio PostgreSQL / SQLite.
//
// This client is lighter than full agents (no outbox, no plugins) so that 10,000 streams
// fit beside the server on one machine; the server does exactly what it does for agents.
//
//   bench_usage_ingest [--devices 10000] [--reports 3] [--enroll-threads 8]
//                      [--store sqlite|postgresql|both]
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <libpq-fe.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "agent/core/enroller.h"
#include "common/credentials.h"
#include "common/files.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/device.grpc.pb.h"
#include "tests/support/postgres_cluster.h"
#include "tools/bench/proc_stats.h"
#include "tools/sim/fleet.h"


namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Identity {
  std::string key_pem, cert_pem;
};

// Counts acks across every stream, and wakes the main thread when a target is reached.
struct Tally {
  std::mutex mu;
  std::condition_variable cv;
  int64_t hello_acks = 0;
  int64_t report_acks = 0;
  int64_t failed = 0;
  void Add(int64_t* what) {
    std::lock_guard<std::mutex> lock(mu);
    ++*what;
    cv.notify_all();
  }
};

// One device's stream: hello first, then its reports when told to, counting acks.
class DeviceStream final
    : public grpc::ClientBidiReactor<preau::v1::AgentMessage, preau::v1::ServerMessage> {
 public:
  DeviceStream(preau::v1::DeviceService::Stub* stub, Tally& tally, int index)
      : tally_(tally), index_(index) {
    stub->async()->Connect(&ctx_, this);
    preau::v1::AgentMessage hello;
    hello.set_id("hello");
    hello.mutable_hello()->set_protocol(preau::v1::PROTOCOL_VERSION_1);
    Queue(hello);
    StartRead(&in_);
    StartCall();
  }
  void SendReports(int reports) {
    for (int r = 0; r < reports; ++r) {
      preau::v1::AgentMessage m;
      char day[16];
      std::snprintf(day, sizeof day, "2025-01-%02d", 1 + r % 28);
      m.set_id("usage-" + std::to_string(index_) + "-" + std::to_string(r));
      auto* d = m.mutable_usage()->add_days();
      d->set_day(day);
      d->set_screen_on_minutes(120 + r);
      const char* apps[] = {"org.geogebra.android", "org.mozilla.firefox", "fr.lumni.android",
                            "com.index_education.pronote", "org.videolan.vlc"};
      for (int a = 0; a < 5; ++a) {
        auto* app = d->add_apps();
        app->set_app(apps[a]);
        app->set_foreground_minutes(10 + a * 7);
      }
      for (const char* c : {"adult", "games", "social_networks"}) {
        auto* b = d->add_blocked();
        b->set_category(c);
        b->set_count(2);
      }
      Queue(m);
    }
  }
  void Cancel() { ctx_.TryCancel(); }
  void WaitDone() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    out_.pop_front();
    writing_ = false;
    if (ok && !out_.empty()) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (in_.has_ack()) tally_.Add(in_.ack().id() == "hello" ? &tally_.hello_acks : &tally_.report_acks);
    StartRead(&in_);
  }
  void OnDone(const grpc::Status& s) override {
    if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
      tally_.Add(&tally_.failed);
      std::fprintf(stderr, "stream %d ended: %s\n", index_, s.error_message().c_str());
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

 private:
  void Queue(const preau::v1::AgentMessage& m) {
    std::lock_guard<std::mutex> lock(mu_);
    out_.push_back(m);
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  }
  Tally& tally_;
  int index_;
  grpc::ClientContext ctx_;
  preau::v1::ServerMessage in_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<preau::v1::AgentMessage> out_;
  bool writing_ = false;
  bool done_ = false;
};

int Fail(const std::string& what) {
  std::fprintf(stderr, "bench_usage_ingest: %s\n", what.c_str());
  return 1;
}

struct Options {
  int devices = 10000, reports = 3, enroll_threads = 8;
};

// What one store gave.
struct Figures {
  double reports_per_s = 0;
  double server_us_per_report = 0, server_core_percent = 0;
  double db_us_per_report = 0, db_core_percent = 0;  // PostgreSQL's processes; 0 on SQLite
};

// The preau-server child: stopped (SIGTERM, then waited for) however the run ends.
struct ServerProcess {
  pid_t pid = -1;
  ~ServerProcess() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
  }
};

// utime + stime (and, with `children`, the reaped children's cutime + cstime) from
// /proc/PID/stat, in clock ticks, and its parent's pid; false if the process is gone.
bool ReadStat(pid_t pid, bool children, double* ticks, pid_t* ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  auto close = all.rfind(')');
  if (close == std::string::npos || close + 2 > all.size()) return false;
  std::istringstream rest(all.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;) f.push_back(x);
  if (f.size() < 15) return false;
  // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
  *ppid = std::atoi(f[1].c_str());
  *ticks = std::stod(f[11]) + std::stod(f[12]);
  if (children) *ticks += std::stod(f[13]) + std::stod(f[14]);
  return true;
}

// CPU seconds used so far by a PostgreSQL cluster: its postmaster (with the children it
// already reaped) and every process it runs now (backends, WAL writer, checkpointer, ...).
double ClusterCpuSeconds(pid_t postmaster) {
  double total = 0, ticks = 0;
  pid_t ppid = 0;
  if (ReadStat(postmaster, true, &ticks, &ppid)) total += ticks;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    pid_t pid = std::atoi(e.path().filename().c_str());
    if (pid <= 0 || pid == postmaster) continue;
    if (ReadStat(pid, false, &ticks, &ppid) && ppid == postmaster) total += ticks;
  }
  return total / sysconf(_SC_CLK_TCK);
}

// The postmaster's pid of the cluster at `url` (first line of its postmaster.pid); prints
// the settings that make its commits durable, as the running cluster reports them.
preau::Result<pid_t> PostmasterPid(const std::string& url) {
  std::unique_ptr<PGconn, void (*)(PGconn*)> conn(PQconnectdb(url.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) return preau::Unavailable(PQerrorMessage(conn.get()));
  std::unique_ptr<PGresult, void (*)(PGresult*)> res(
      PQexec(conn.get(),
             "SELECT current_setting('data_directory'), current_setting('fsync'), "
             "current_setting('synchronous_commit'), current_setting('full_page_writes'), "
             "current_setting('wal_sync_method'), version()"),
      PQclear);
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK || PQntuples(res.get()) != 1) {
    return preau::Internal("reading the cluster's settings: " +
                           std::string(PQresultErrorMessage(res.get())));
  }
  std::printf("  %s\n  fsync=%s synchronous_commit=%s full_page_writes=%s wal_sync_method=%s\n",
              PQgetvalue(res.get(), 0, 5), PQgetvalue(res.get(), 0, 1), PQgetvalue(res.get(), 0, 2),
              PQgetvalue(res.get(), 0, 3), PQgetvalue(res.get(), 0, 4));
  auto text = preau::ReadFile(std::string(PQgetvalue(res.get(), 0, 0)) + "/postmaster.pid");
  if (!text.ok()) return text.status();
  pid_t pid = std::atoi(text->c_str());
  if (pid <= 0) return preau::Internal("no pid in postmaster.pid");
  return pid;
}

// One whole measurement on a fresh server: `store_url` empty for SQLite in the data
// folder, else the PostgreSQL database given to `init --store`; `db_cpu` (may be empty)
// reads the database's CPU seconds so far.
preau::Result<Figures> Measure(const Options& o, const std::string& store_url,
                               const std::function<double()>& db_cpu) {
  const int devices = o.devices, reports = o.reports;
  std::string dir = std::filesystem::temp_directory_path() /
                    ("preau-bench-usage-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::string bin = PREAU_BENCH_BINARY_DIR;
  std::string data = dir + "/server";
  std::filesystem::create_directories(dir);
  std::vector<std::string> init_args = {bin + "/preau-server", "init", "--data", data};
  if (!store_url.empty()) init_args.insert(init_args.end(), {"--store", store_url});
  pid_t init = preau::bench::Spawn(init_args);
  int st = 0;
  waitpid(init, &st, 0);
  if (st != 0) return preau::Internal("preau-server init failed");
  std::string port_file = dir + "/port";
  ServerProcess server;
  server.pid = preau::bench::Spawn({bin + "/preau-server", "run", "--data", data, "--listen",
                                    "127.0.0.1:0", "--port-file", port_file});
  auto deadline = Clock::now() + 30s;
  std::string port;
  while (Clock::now() < deadline) {
    auto p = preau::ReadFile(port_file);
    if (p.ok() && !p->empty()) {
      port = p->substr(0, p->find('\n'));
      break;
    }
    std::this_thread::sleep_for(50ms);  // polling for the server's port file
  }
  if (port.empty()) return preau::Unavailable("server did not start");
  std::string address = "127.0.0.1:" + port;

  auto creds = preau::LoadCredentials(data + "/admin.credentials");
  if (!creds.ok()) return creds.status();
  auto admin = preau::v1::AdminService::NewStub(grpc::CreateChannel(
      address, preau::MtlsCredentials(creds->ca_pem, creds->cert_pem, creds->key_pem)));
  {
    grpc::ClientContext ctx;
    preau::v1::CreateGroupRequest req;
    req.set_path("ville/college-bench");
    preau::v1::Group g;
    if (auto s = admin->CreateGroup(&ctx, req, &g); !s.ok()) {
      return preau::Internal("create group: " + s.error_message());
    }
  }
  std::vector<std::string> tokens;
  for (int left = devices; left > 0; left -= 10000) {
    grpc::ClientContext ctx;
    preau::v1::CreateTokenRequest req;
    req.set_group("ville/college-bench");
    req.set_uses(static_cast<uint32_t>(std::min(left, 10000)));
    req.set_ttl_seconds(24 * 3600);
    preau::v1::CreateTokenResponse resp;
    if (auto s = admin->CreateToken(&ctx, req, &resp); !s.ok()) {
      return preau::Internal("create token: " + s.error_message());
    }
    tokens.push_back(resp.token());
  }

  // Enrolment (not timed).
  auto t_enroll = Clock::now();
  std::vector<Identity> ids(devices);
  std::atomic<int> next{0}, enroll_failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < o.enroll_threads; ++t) {
    workers.emplace_back([&] {
      // As an agent enrols (agent/core/enroller.h): its own key and CSR, and the server's
      // retry-later answers honoured when it admits devices at its own pace.
      for (int i = next++; i < devices; i = next++) {
        preau::agent::EnrollRequestOptions req;
        req.server = address;
        req.ca_pem = creds->ca_pem;
        req.token = tokens[i / 10000];
        req.name = "bench-" + std::to_string(i);
        auto id = preau::agent::Enroll(req);
        if (!id.ok()) {
          if (enroll_failures++ == 0) std::fprintf(stderr, "enrolment: %s\n", id.status().message().c_str());
          continue;
        }
        ids[i] = {id->private_key_pem, id->certificate_pem};
      }
    });
  }
  for (auto& w : workers) w.join();
  if (enroll_failures > 0) {
    return preau::Unavailable(std::to_string(enroll_failures.load()) + " enrolments failed");
  }
  double enroll_s = std::chrono::duration<double>(Clock::now() - t_enroll).count();
  std::printf("enrolled %d devices in %.1f s\n", devices, enroll_s);

  // One channel, TLS session and stream per device (not timed).
  auto t_connect = Clock::now();
  Tally tally;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<preau::v1::DeviceService::Stub>> stubs;
  std::vector<std::unique_ptr<DeviceStream>> streams;
  // Every stream ends (and is waited for) before the server is stopped.
  struct EndStreams {
    std::vector<std::unique_ptr<DeviceStream>>& streams;
    ~EndStreams() {
      for (auto& s : streams) s->Cancel();
      for (auto& s : streams) s->WaitDone();
    }
  } end_streams{streams};
  for (int i = 0; i < devices; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(grpc::CreateCustomChannel(
        address, preau::MtlsCredentials(creds->ca_pem, ids[i].cert_pem, ids[i].key_pem), args));
    stubs.push_back(preau::v1::DeviceService::NewStub(channels.back()));
    streams.push_back(std::make_unique<DeviceStream>(stubs.back().get(), tally, i));
    if (i % 500 == 499) {
      // Pace the handshakes so the server is not asked for thousands at once.
      std::unique_lock<std::mutex> lock(tally.mu);
      tally.cv.wait_for(lock, 60s, [&] { return tally.hello_acks + tally.failed >= i + 1 - 200; });
    }
  }
  {
    std::unique_lock<std::mutex> lock(tally.mu);
    if (!tally.cv.wait_for(lock, 300s, [&] { return tally.hello_acks + tally.failed >= devices; })) {
      return preau::Unavailable("only " + std::to_string(tally.hello_acks) + " streams connected");
    }
    if (tally.failed > 0) return preau::Unavailable(std::to_string(tally.failed) + " streams failed");
  }
  std::printf("connected %d streams in %.1f s\n", devices,
              std::chrono::duration<double>(Clock::now() - t_connect).count());

  // Timed: every device sends its reports; wait for every durable ack.
  int64_t total = static_cast<int64_t>(devices) * reports;
  double cpu0 = preau::bench::CpuSeconds(server.pid);
  double db0 = db_cpu ? db_cpu() : 0;
  auto t0 = Clock::now();
  for (auto& s : streams) s->SendReports(reports);
  {
    std::unique_lock<std::mutex> lock(tally.mu);
    if (!tally.cv.wait_for(lock, 600s, [&] { return tally.report_acks >= total; })) {
      return preau::Unavailable("only " + std::to_string(tally.report_acks) + " of " +
                                std::to_string(total) + " reports acked");
    }
  }
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = preau::bench::CpuSeconds(server.pid) - cpu0;
  double db = db_cpu ? db_cpu() - db0 : 0;
  Figures f;
  f.reports_per_s = total / wall;
  f.server_us_per_report = 1e6 * cpu / total;
  f.server_core_percent = 100 * cpu / wall;
  f.db_us_per_report = 1e6 * db / total;
  f.db_core_percent = 100 * db / wall;
  std::printf("usage ingest: %d devices x %d reports = %lld durable reports in %.2f s\n",
              devices, reports, static_cast<long long>(total), wall);
  std::printf("  %.0f reports/s; server CPU %.1f us/report (%.0f %% of one core)\n",
              f.reports_per_s, f.server_us_per_report, f.server_core_percent);
  if (db_cpu) {
    std::printf("  PostgreSQL CPU %.1f us/report (%.0f %% of one core)\n", f.db_us_per_report,
                f.db_core_percent);
  }
  std::fflush(stdout);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string store = "both";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (flag == "--devices") o.devices = v;
    else if (flag == "--reports") o.reports = v;
    else if (flag == "--enroll-threads") o.enroll_threads = v;
    else if (flag == "--store") store = argv[i + 1];
    else return Fail("unknown flag " + flag +
                     " (--devices N --reports N --enroll-threads N --store sqlite|postgresql|both)");
  }
  if (argc % 2 == 0) return Fail(std::string("flag ") + argv[argc - 1] + " has no value");
  if (store != "sqlite" && store != "postgresql" && store != "both") {
    return Fail("--store must be sqlite, postgresql or both, not \"" + store + "\"");
  }
  if (o.devices <= 0 || o.reports <= 0 || o.enroll_threads <= 0) {
    return Fail("--devices, --reports and --enroll-threads must be positive");
  }
  preau::sim::RaiseFileLimit();  // a socket per device, here and in the server we spawn

  Figures sqlite, postgres;
  if (store != "postgresql") {
    std::printf("== SQLite (WAL, synchronous=FULL, in the data folder)\n");
    auto f = Measure(o, "", {});
    if (!f.ok()) return Fail("SQLite: " + f.status().message());
    sqlite = *f;
  }
  if (store != "sqlite") {
    std::printf("== PostgreSQL 15 (fsync, synchronous_commit, full_page_writes on; loopback)\n");
    std::fflush(stdout);
    auto cluster = preau::testing::PostgresCluster::StartDurable();
    if (!cluster.ok()) return Fail("PostgreSQL: " + cluster.status().message());
    auto url = (*cluster)->CreateDatabase();
    if (!url.ok()) return Fail("PostgreSQL: " + url.status().message());
    auto postmaster = PostmasterPid(*url);
    if (!postmaster.ok()) return Fail("PostgreSQL: " + postmaster.status().message());
    pid_t pm = *postmaster;
    auto f = Measure(o, *url, [pm] { return ClusterCpuSeconds(pm); });
    if (!f.ok()) return Fail("PostgreSQL: " + f.status().message());
    postgres = *f;
  }
  if (store == "both") {
    std::printf("durable usage reports/s, %d devices x %d reports: SQLite %.0f, PostgreSQL %.0f; "
                "ratio PostgreSQL/SQLite %.2f\n",
                o.devices, o.reports, sqlite.reports_per_s, postgres.reports_per_s,
                postgres.reports_per_s / sqlite.reports_per_s);
    std::printf("CPU per report (server + database): SQLite %.1f us, PostgreSQL %.1f us "
                "(%.1f + %.1f); ratio %.2f\n",
                sqlite.server_us_per_report, postgres.server_us_per_report + postgres.db_us_per_report,
                postgres.server_us_per_report, postgres.db_us_per_report,
                (postgres.server_us_per_report + postgres.db_us_per_report) /
                    sqlite.server_us_per_report);
  }
  return 0;
}
