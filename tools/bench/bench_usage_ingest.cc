// bench_usage_ingest: usage ingest from many simulated agents, measured on the real server.
//
// What it does:
// 1. Starts the real `preau-server` binary on a fresh data folder (its own process, so
//    its CPU is its own: utime + stime from /proc/PID/stat).
// 2. Enrols --devices identities through the real Enroll RPC (a key and CSR each; not
//    timed).
// 3. Opens one mTLS Connect stream per identity — its own channel and TLS session, as a
//    tablet would — and waits for every hello's ack (not timed).
// 4. Timed: every device sends --reports UsageBatch messages (one day each: screen-on
//    minutes, five apps, three blocked categories) pipelined on its stream, as an agent
//    flushing its outbox after a few days offline does; the phase ends when the server has
//    acked every one. An ack is sent only after the batch's transaction is durable
//    (SQLite WAL, synchronous=FULL), so acks/s is durable reports/s.
// It prints durable reports/s, the server's CPU per report, and its CPU use.
//
// This client is lighter than full agents (no outbox, no plugins) so that 10,000 streams
// fit beside the server on one machine; the server does exactly what it does for agents.
//
//   bench_usage_ingest [--devices 10000] [--reports 3] [--enroll-threads 8]
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
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "common/credentials.h"
#include "common/files.h"
#include "common/grpc_credentials.h"
#include "common/pki.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/device.grpc.pb.h"
#include "tools/sim/fleet.h"
#include "tools/bench/proc_stats.h"


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

}  // namespace

int main(int argc, char** argv) {
  int devices = 10000, reports = 3, enroll_threads = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (flag == "--devices") devices = v;
    else if (flag == "--reports") reports = v;
    else if (flag == "--enroll-threads") enroll_threads = v;
    else return Fail("unknown flag " + flag + " (--devices N --reports N --enroll-threads N)");
  }
  preau::sim::RaiseFileLimit();  // a socket per device, here and in the server we spawn
  std::string dir = std::filesystem::temp_directory_path() /
                    ("preau-bench-usage-" + std::to_string(getpid()));
  std::string bin = PREAU_BENCH_BINARY_DIR;
  std::string data = dir + "/server";
  std::filesystem::create_directories(dir);
  pid_t init = preau::bench::Spawn({bin + "/preau-server", "init", "--data", data});
  int st = 0;
  waitpid(init, &st, 0);
  if (st != 0) return Fail("preau-server init failed");
  std::string port_file = dir + "/port";
  pid_t server = preau::bench::Spawn({bin + "/preau-server", "run", "--data", data, "--listen",
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
  if (port.empty()) return Fail("server did not start");
  std::string address = "127.0.0.1:" + port;

  auto creds = preau::LoadCredentials(data + "/admin.credentials");
  if (!creds.ok()) return Fail(creds.status().message());
  auto admin = preau::v1::AdminService::NewStub(grpc::CreateChannel(
      address, preau::MtlsCredentials(creds->ca_pem, creds->cert_pem, creds->key_pem)));
  {
    grpc::ClientContext ctx;
    preau::v1::CreateGroupRequest req;
    req.set_path("ville/college-bench");
    preau::v1::Group g;
    if (!admin->CreateGroup(&ctx, req, &g).ok()) return Fail("create group");
  }
  std::vector<std::string> tokens;
  for (int left = devices; left > 0; left -= 10000) {
    grpc::ClientContext ctx;
    preau::v1::CreateTokenRequest req;
    req.set_group("ville/college-bench");
    req.set_uses(static_cast<uint32_t>(std::min(left, 10000)));
    req.set_ttl_seconds(24 * 3600);
    preau::v1::CreateTokenResponse resp;
    if (!admin->CreateToken(&ctx, req, &resp).ok()) return Fail("create token");
    tokens.push_back(resp.token());
  }

  // Enrolment (not timed).
  auto t_enroll = Clock::now();
  std::vector<Identity> ids(devices);
  std::atomic<int> next{0}, enroll_failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < enroll_threads; ++t) {
    workers.emplace_back([&] {
      auto stub = preau::v1::DeviceService::NewStub(
          grpc::CreateChannel(address, preau::MtlsCredentials(creds->ca_pem)));
      for (int i = next++; i < devices; i = next++) {
        auto key = preau::pki::GenerateKey();
        auto csr = preau::pki::CreateCsr(key->private_key_pem, "bench");
        preau::v1::EnrollRequest req;
        req.set_token(tokens[i / 10000]);
        req.set_csr_pem(*csr);
        req.set_requested_name("bench-" + std::to_string(i));
        preau::v1::EnrollResponse resp;
        grpc::ClientContext ctx;
        if (!stub->Enroll(&ctx, req, &resp).ok()) {
          ++enroll_failures;
          continue;
        }
        ids[i] = {key->private_key_pem, resp.certificate_pem()};
      }
    });
  }
  for (auto& w : workers) w.join();
  if (enroll_failures > 0) return Fail(std::to_string(enroll_failures.load()) + " enrolments failed");
  double enroll_s = std::chrono::duration<double>(Clock::now() - t_enroll).count();
  std::printf("enrolled %d devices in %.1f s\n", devices, enroll_s);

  // One channel, TLS session and stream per device (not timed).
  auto t_connect = Clock::now();
  Tally tally;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<preau::v1::DeviceService::Stub>> stubs;
  std::vector<std::unique_ptr<DeviceStream>> streams;
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
      return Fail("only " + std::to_string(tally.hello_acks) + " streams connected");
    }
    if (tally.failed > 0) return Fail(std::to_string(tally.failed) + " streams failed");
  }
  std::printf("connected %d streams in %.1f s\n", devices,
              std::chrono::duration<double>(Clock::now() - t_connect).count());

  // Timed: every device sends its reports; wait for every durable ack.
  int64_t total = static_cast<int64_t>(devices) * reports;
  double cpu0 = preau::bench::CpuSeconds(server);
  auto t0 = Clock::now();
  for (auto& s : streams) s->SendReports(reports);
  {
    std::unique_lock<std::mutex> lock(tally.mu);
    if (!tally.cv.wait_for(lock, 600s, [&] { return tally.report_acks >= total; })) {
      return Fail("only " + std::to_string(tally.report_acks) + " of " + std::to_string(total) +
                  " reports acked");
    }
  }
  double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = preau::bench::CpuSeconds(server) - cpu0;
  std::printf("usage ingest: %d devices x %d reports = %lld durable reports in %.2f s\n",
              devices, reports, static_cast<long long>(total), wall);
  std::printf("  %.0f reports/s; server CPU %.1f us/report (%.0f %% of one core)\n",
              total / wall, 1e6 * cpu / total, 100 * cpu / wall);

  for (auto& s : streams) s->Cancel();
  for (auto& s : streams) s->WaitDone();
  kill(server, SIGTERM);
  waitpid(server, &st, 0);
  std::filesystem::remove_all(dir);
  return 0;
}
