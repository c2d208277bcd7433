// bench_policy_rollout: from `policy apply` to every simulated agent having reported
// compliance, with a real server (in-process, SQLite on disk, mTLS) and a Fleet of agents
// (in-memory state) in the same process.
//
//   bench_policy_rollout [--devices 1000] [--rounds 3] [--chunk 100]
//
// Each round applies a new version of a policy to the group of every device, then waits
// until the server has stored an "accepted" compliance report for that version from each
// of them. Printed: enrolment time, then per round the Apply call's own time and the time
// to full compliance, and the median. docs/PERFORMANCE.md records the result.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "common/credentials.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/policy.grpc.pb.h"
#include "server/server.h"
#include "tools/sim/fleet.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kGroup = "ville/college-camus";

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Exits at once: tearing down a fleet in the middle of a failure is not what is measured.
int Fail(const std::string& what) {
  std::fprintf(stderr, "bench_policy_rollout: %s\n", what.c_str());
  std::fflush(nullptr);
  std::_Exit(1);
}

std::shared_ptr<grpc::Channel> AdminChannel(const std::string& credentials, int port) {
  auto creds = preau::LoadCredentials(credentials);
  if (!creds.ok()) return nullptr;
  return grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(port),
      preau::MtlsCredentials(creds->ca_pem, creds->cert_pem, creds->key_pem));
}

// Accepted reports stored for bundle `version`.
int64_t Accepted(preau::server::Server& server, uint64_t version) {
  auto n = server.core().store->Locked([&](preau::server::SqlDb& db) -> preau::Result<int64_t> {
    PREAU_ASSIGN_OR_RETURN(auto s, db.Prepare("SELECT COUNT(*) FROM policy_compliance "
                                              "WHERE version=? AND accepted=1"));
    s.Bind(1, static_cast<int64_t>(version));
    PREAU_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? s.Int(0) : 0;
  });
  return n.ok() ? *n : -1;
}

std::string PolicyYaml(int round) {
  // A new idle timeout each round: a new version for every device.
  return "name: college-tablettes\n"
         "timezone: Europe/Paris\n"
         "wifi:\n"
         "  mode: always_on\n"
         "  idle_off_minutes: " + std::to_string(10 + round) + "\n"
         "schedule:\n"
         "  curfew:\n"
         "    enabled: true\n"
         "    start: \"21:00\"\n"
         "    end: \"07:00\"\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  size_t devices = 1000;
  int rounds = 3;
  size_t chunk = 100;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--devices") devices = std::strtoul(argv[i + 1], nullptr, 10);
    else if (flag == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (flag == "--chunk") chunk = std::max<size_t>(1, std::strtoul(argv[i + 1], nullptr, 10));
    else return Fail("unknown flag " + flag + " (--devices N, --rounds N, --chunk N)");
  }
  char tmpl[] = "/tmp/preau-bench-policy-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { std::filesystem::remove_all(dir); }
  } cleanup{dir};

  preau::server::InitOptions init;
  init.data_dir = dir + "/server";
  if (auto st = preau::server::InitDataDir(init); !st.ok()) return Fail(st.message());
  preau::server::RunOptions run;
  run.data_dir = init.data_dir;
  auto server = preau::server::Server::Start(run);
  if (!server.ok()) return Fail(server.status().message());
  int port = (*server)->port();
  auto channel = AdminChannel(init.data_dir + "/admin.credentials", port);
  if (!channel) return Fail("cannot read the admin credentials");
  auto admin = preau::v1::AdminService::NewStub(channel);
  auto policy = preau::v1::PolicyService::NewStub(channel);
  {
    grpc::ClientContext ctx;
    preau::v1::CreateGroupRequest req;
    req.set_path(kGroup);
    preau::v1::Group g;
    if (auto st = admin->CreateGroup(&ctx, req, &g); !st.ok()) return Fail(st.error_message());
  }
  std::string token;
  {
    grpc::ClientContext ctx;
    preau::v1::CreateTokenRequest req;
    req.set_group(kGroup);
    req.set_uses(static_cast<uint32_t>(devices));
    preau::v1::CreateTokenResponse resp;
    if (auto st = admin->CreateToken(&ctx, req, &resp); !st.ok()) return Fail(st.error_message());
    token = resp.token();
  }

  // Several fleets of `chunk` devices, started one after the other: a thousand TLS
  // connections opened in the same instant overflow the listen backlog, and the retries
  // would be measured instead of the rollout.
  std::vector<std::unique_ptr<preau::sim::Fleet>> fleets;
  auto connected = [&] {
    size_t n = 0;
    for (const auto& f : fleets) n += f->Connected();
    return n;
  };
  auto t0 = Clock::now();
  double enroll_s = 0;
  for (size_t first = 0; first < devices; first += chunk) {
    preau::sim::FleetOptions fo;
    fo.server = "127.0.0.1:" + std::to_string(port);
    fo.ca_pem = (*server)->core().keys.ca_cert_pem;
    fo.token = token;
    fo.count = std::min(chunk, devices - first);
    fo.first_seed = first + 1;
    fo.threads = 1;
    fo.agent.heartbeat = std::chrono::seconds(60);
    fo.agent.backoff_min = std::chrono::milliseconds(200);
    fo.agent.backoff_max = std::chrono::seconds(2);
    auto fleet = preau::sim::Fleet::Start(fo);
    if (!fleet.ok()) return Fail(fleet.status().message());
    enroll_s += (*fleet)->enroll_seconds();
    fleets.push_back(std::move(fleet).value());
    while (connected() < first + fo.count) {
      if (Seconds(t0) > 300) return Fail("the fleet did not connect within 300 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::printf("fleet: %zu simulated agents (%zu event-loop threads) enrolled in %.1f s, all "
              "connected after %.1f s\n",
              devices, fleets.size(), enroll_s, Seconds(t0));

  std::vector<double> totals;
  for (int round = 0; round < rounds; ++round) {
    preau::v1::ApplyPolicyRequest req;
    req.set_group(kGroup);
    req.set_file("college.yaml");
    req.set_source(PolicyYaml(round));
    preau::v1::ApplyPolicyResponse resp;
    auto start = Clock::now();
    grpc::ClientContext ctx;
    if (auto st = policy->Apply(&ctx, req, &resp); !st.ok()) return Fail(st.error_message());
    double apply_s = Seconds(start);
    while (Accepted(**server, resp.revision()) < static_cast<int64_t>(devices)) {
      if (Seconds(start) > 60) {
        return Fail("only " + std::to_string(Accepted(**server, resp.revision())) +
                    " devices reported within 60 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    double total = Seconds(start);
    totals.push_back(total);
    std::printf("round %d: apply call %.3f s (resolve, sign %u bundles, push), every agent "
                "reported compliance after %.3f s\n",
                round + 1, apply_s, resp.sent() + resp.queued(), total);
  }
  std::sort(totals.begin(), totals.end());
  std::printf("policy rollout to %zu agents: median %.3f s from apply to full compliance "
              "(target < 2 s)\n",
              devices, totals[totals.size() / 2]);
  for (auto& f : fleets) f->Stop();
  (*server)->Shutdown();
  return 0;
}
