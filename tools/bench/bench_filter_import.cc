// Filter import benchmark: the whole UT1 publication (5.8 million domains) through the real
// import path, and the first device snapshot cut from it.
//
//   bench_filter_import [domains=5800000] [keep] [compare]
//
// Writes a synthetic UT1 folder of `domains` names over 63 categories in the published
// proportions (adult about 79 %), with `urls` files, `usage`, `global_usage`, CRLF in one
// category and a few stray lines (comments, blanks, non-domains, duplicates) in each.
// A real server (SQLite file, mTLS) runs in a child process, so that its peak resident
// memory (VmHWM) is its own; the `preau` CLI imports the folder as an operator would.
// Then a real agent with the filter plugin enrols into a class whose policy blocks four
// categories (adult among them), and the time to its first snapshot is measured (the
// server cuts the profile's snapshot from the 5.8 M full set, the agent downloads and
// loads it). A second import of the same folder gives the agent a delta and purges
// import 1's files. `keep` leaves the folders in /tmp; `compare` also measures, in a child
// process, the peak memory of the former import path (ReadUt1's strings, then
// BuildSnapshot) on the same folder.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <grpcpp/grpcpp.h>

#include "agent/control/teacher_state.h"
#include "agent/core/agent.h"
#include "agent/filter/filter_plugin.h"
#include "agent/platform/platform.h"
#include "common/credentials.h"
#include "common/files.h"
#include "common/filter/snapshot.h"
#include "common/filter/ut1_reader.h"
#include "common/grpc_credentials.h"
#include "preau/v1/admin.grpc.pb.h"
#include "preau/v1/filter.grpc.pb.h"
#include "preau/v1/policy.grpc.pb.h"
#include "server/server.h"
#include "tools/bench/child_server.h"
#include "tools/bench/proc_stats.h"

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_filter_import: %s\n", what.c_str());
  std::exit(1);
}

// The published categories and roughly their share of the 5.8 million entries (adult
// alone is 4.6 million; the long tail is small).
struct CategoryShare {
  const char* name;
  double share;
};
constexpr CategoryShare kCategories[] = {
    {"adult", 0.793},        {"phishing", 0.045},         {"malware", 0.035},
    {"publicite", 0.020},    {"redirector", 0.012},       {"mixed_adult", 0.010},
    {"gambling", 0.008},     {"shopping", 0.007},         {"press", 0.006},
    {"dating", 0.005},       {"games", 0.005},            {"warez", 0.004},
    {"audio-video", 0.004},  {"agressif", 0.003},         {"drogue", 0.003},
    {"blog", 0.003},         {"forums", 0.003},           {"sports", 0.003},
    {"financial", 0.002},    {"jobsearch", 0.002},        {"hacking", 0.002},
    {"marketingware", 0.002}, {"webmail", 0.002},         {"filehosting", 0.002},
    {"vpn", 0.0015},         {"shortener", 0.0012},       {"radio", 0.001},
    {"celebrity", 0.001},    {"cooking", 0.001},          {"bank", 0.001},
    {"sect", 0.0008},        {"chat", 0.0008},            {"social_networks", 0.0006},
    {"doh", 0.0005},         {"cryptojacking", 0.0005},   {"ddos", 0.0004},
    {"bitcoin", 0.0004},     {"lingerie", 0.0004},        {"astrology", 0.0003},
    {"manga", 0.0003},       {"mobile-phone", 0.0003},    {"remote-control", 0.0003},
    {"stalkerware", 0.0002}, {"translation", 0.0002},     {"update", 0.0002},
    {"webhosting", 0.0002},  {"fakenews", 0.0002},        {"dangerous_material", 0.0002},
    {"tricheur", 0.0002},    {"strict_redirector", 0.0002}, {"strong_redirector", 0.0002},
    {"associations_religieuses", 0.0001}, {"child", 0.0001}, {"cleaning", 0.0001},
    {"dialer", 0.0001},      {"educational_games", 0.0001}, {"examen_pix", 0.0001},
    {"liste_blanche", 0.0001}, {"liste_bu", 0.0001},      {"reaffected", 0.0001},
    {"sexual_education", 0.0001}, {"special", 0.0001},    {"arjel", 0.0001},
};

// A small, fast, deterministic generator (splitmix64).
struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
};

// A plausible domain: one or two labels of 4 to 16 letters, digits and '-', a common TLD,
// sometimes a "www." or other subdomain (UT1 lists many).
std::string RandomDomain(Rng& rng) {
  static const char* kTlds[] = {"com", "net", "org", "fr", "de", "ru", "info", "xyz", "io",
                                "co.uk", "com.br", "top", "site", "online", "eu", "biz"};
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string d;
  size_t sub = rng.Below(10);
  if (sub < 2) d = "www.";
  else if (sub == 2) d = "m.";
  size_t labels = 1 + (rng.Below(5) == 0);
  for (size_t l = 0; l < labels; ++l) {
    size_t n = 4 + rng.Below(13);
    uint64_t bits = rng.Next();
    for (size_t i = 0; i < n; ++i) {
      if (i % 10 == 9) bits = rng.Next();
      d += kChars[(bits >> (6 * (i % 10))) % 36];
    }
    if (n > 6 && rng.Below(8) == 0) d[n / 2 + d.size() - n] = '-';
    d += '.';
  }
  d += kTlds[rng.Below(sizeof kTlds / sizeof kTlds[0])];
  return d;
}

struct Generated {
  size_t lines = 0, bad = 0, urls = 0;
};

Generated WriteUt1(const std::string& root, size_t total) {
  Generated g;
  Rng rng{42};
  fs::create_directories(root);
  std::ofstream global(root + "/global_usage");
  for (const auto& c : kCategories) {
    std::string dir = root + "/" + c.name;
    fs::create_directories(dir);
    bool white = std::string(c.name) == "liste_blanche" || std::string(c.name) == "liste_bu";
    std::ofstream(dir + "/usage") << (white ? "white\n" : "black\n");
    global << "NAME: " << c.name << "\nDEFAULT_TYPE: " << (white ? "white" : "black")
           << "\nNAME EN: " << c.name << "\nDESC FR: Catégorie " << c.name << "\n\n";
    size_t n = std::max<size_t>(20, static_cast<size_t>(total * c.share));
    const char* eol = std::string(c.name) == "games" ? "\r\n" : "\n";
    std::string buf;
    buf.reserve(1 << 20);
    std::ofstream out(dir + "/domains", std::ios::binary);
    std::string previous;
    for (size_t i = 0; i < n; ++i) {
      std::string d = RandomDomain(rng);
      if (i % 250000 == 7) d = "." + d;  // a leading dot now and then: accepted
      buf += d;
      buf += eol;
      if (i == n / 2) previous = d;
      if (buf.size() > (1 << 20) - 256) {
        out << buf;
        buf.clear();
      }
    }
    // Stray lines as the published files have them: each is reported, none loaded.
    buf += std::string("# generated") + eol + eol + "not a domain" + eol + "localhost" + eol +
           previous + eol;
    g.bad += 5;
    g.lines += n + 5;
    out << buf;
    if (rng.Below(2) == 0 || std::string(c.name) == "adult") {
      std::ofstream urls(dir + "/urls", std::ios::binary);
      size_t nu = std::max<size_t>(5, n / 200);
      for (size_t i = 0; i < nu; ++i) {
        urls << RandomDomain(rng) << "/" << rng.Below(100000) << "/index.html\n";
      }
      g.urls += nu;
    }
  }
  return g;
}

struct Command {
  int exit_code = -1;
  std::string out;
};

Command Run(const std::string& cmd) {
  Command r;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return r;
  char buf[4096];
  while (fgets(buf, sizeof buf, f)) r.out += buf;
  int st = pclose(f);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string Line(const std::string& text, const std::string& starting) {
  size_t at = text.find(starting);
  if (at == std::string::npos) return "(not found)";
  return text.substr(at, text.find('\n', at) - at);
}

// A real agent with the filter plugin, on its own event loop.
class Tablet {
 public:
  Tablet(const std::string& state, const std::string& server, const std::string& ca,
         const std::string& token) {
    preau::agent::AgentOptions o;
    o.state_dir = state;
    o.server = server;
    o.ca_pem = ca;
    o.enroll_token = token;
    o.backoff_min = std::chrono::milliseconds(50);
    o.backoff_max = std::chrono::milliseconds(500);
    auto a = preau::agent::Agent::Create(io_, o, preau::agent::MakeSimPlatform(1));
    if (!a.ok()) Die("agent: " + a.status().message());
    agent_ = std::move(a).value();
    work_ = std::make_unique<Work>(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
    preau::agent::FilterPluginOptions fo;
    fo.listen = "127.0.0.1:0";
    fo.dir = state + "/filter";
    fo.upstreams = {"127.0.0.1:9"};
    auto plugin = std::make_unique<preau::agent::FilterPlugin>(
        std::make_shared<preau::agent::TeacherState>(), fo);
    filter_ = plugin.get();
    agent_->AddFeature(std::move(plugin));
    agent_->Start();
  }
  ~Tablet() {
    agent_->Stop();
    agent_.reset();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  preau::agent::FilterPlugin& filter() { return *filter_; }

  // Waits until the filter holds a version other than `not`; returns the seconds waited.
  double WaitForVersionOtherThan(uint64_t not_version, SteadyClock::time_point since) {
    while (filter_->version() == not_version) {
      if (SteadyClock::now() - since > std::chrono::minutes(10)) {
        Die("the tablet got no snapshot: " + filter_->last_error());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return Seconds(SteadyClock::now() - since);
  }

 private:
  using Work = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  boost::asio::io_context io_;
  std::unique_ptr<Work> work_;
  std::thread thread_;
  std::unique_ptr<preau::agent::Agent> agent_;
  preau::agent::FilterPlugin* filter_ = nullptr;
};

// The snapshot version in a snapshot file's header (0 if absent or not a snapshot). The
// agent writes the file atomically, so a header read is never torn.
uint64_t FileSnapshotVersion(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[24] = {};
  if (!in.read(head, sizeof head) || std::string(head, 8) != "PREAUFLT") return 0;
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(head[16 + i]);
  return v;
}

void WaitFileVersion(const std::string& path, uint64_t version) {
  auto start = SteadyClock::now();
  while (FileSnapshotVersion(path) != version) {
    if (SteadyClock::now() - start > std::chrono::minutes(10)) Die(path + ": version never came");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The former server path, in a child: every domain as a string, then the full set.
void CompareWithStrings(const std::string& ut1) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) Die("fork failed");
  if (pid == 0) {
    auto a = SteadyClock::now();
    auto data = preau::filter::ReadUt1(ut1);
    if (!data.ok()) Die(data.status().message());
    preau::filter::SnapshotOptions all;
    all.only_blocked_categories = false;
    auto bytes = preau::filter::BuildSnapshot(*data, preau::filter::FilterProfile{}, 1, all);
    if (!bytes.ok()) Die(bytes.status().message());
    auto parsed = preau::filter::Snapshot::Parse(*bytes);
    std::printf("former path (ReadUt1 strings + BuildSnapshot + Parse, one process): "
                "%.2f s, peak %.1f MB\n",
                Seconds(SteadyClock::now() - a), preau::bench::StatusKb(getpid(), "VmHWM") / 1024.0);
    std::fflush(stdout);
    _exit(parsed.ok() ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
}

}  // namespace

int main(int argc, char** argv) {
  size_t total = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 5'800'000;
  bool keep = false, compare = false;
  for (int i = 2; i < argc; ++i) {
    keep |= std::string(argv[i]) == "keep";
    compare |= std::string(argv[i]) == "compare";
  }
  if (total < 1000) Die("usage: bench_filter_import [domains>=1000] [keep] [compare]");

  char tmpl[] = "/tmp/bench-filter-import-XXXXXX";
  if (!mkdtemp(tmpl)) Die("mkdtemp failed");
  const std::string root = tmpl;
  const std::string ut1 = root + "/ut1", data = root + "/server";

  auto t0 = SteadyClock::now();
  Generated g = WriteUt1(ut1, total);
  uintmax_t folder_bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(ut1)) {
    if (e.is_regular_file()) folder_bytes += e.file_size();
  }
  std::printf("synthetic UT1 folder: %zu categories, %zu domain lines (%zu stray), %zu url "
              "lines, %.1f MB, written in %.1f s\n",
              std::size(kCategories), g.lines, g.bad, g.urls, folder_bytes / 1e6,
              Seconds(SteadyClock::now() - t0));

  if (compare) CompareWithStrings(ut1);

  preau::server::InitOptions init;
  init.data_dir = data;
  if (auto st = preau::server::InitDataDir(init); !st.ok()) Die(st.message());
  // The server runs in a child process, forked before gRPC starts, so that its VmHWM is
  // the server's alone (not the generator's, the agent's or gRPC client's).
  auto server = std::make_unique<preau::bench::ChildServer>(data);
  const pid_t child = server->pid();
  const int port = server->port();
  const std::string address = "127.0.0.1:" + std::to_string(port);

  auto creds = preau::LoadCredentials(data + "/admin.credentials");
  if (!creds.ok()) Die(creds.status().message());
  auto channel = grpc::CreateChannel(
      address, preau::MtlsCredentials(creds->ca_pem, creds->cert_pem, creds->key_pem));
  auto admin = preau::v1::AdminService::NewStub(channel);
  auto filter = preau::v1::FilterService::NewStub(channel);
  auto policy = preau::v1::PolicyService::NewStub(channel);

  double rss_idle = preau::bench::StatusKb(child, "VmRSS");
  preau::bench::ResetPeak(child);
  const std::string cli = std::string(PREAU_BENCH_BINARY_DIR) + "/preau";
  const std::string import_cmd = cli + " filter import " + ut1 + " --credentials " + data +
                                 "/admin.credentials --server " + address;
  auto a = SteadyClock::now();
  Command imported = Run(import_cmd);
  double import_s = Seconds(SteadyClock::now() - a);
  if (imported.exit_code != 0) Die("import failed:\n" + imported.out.substr(0, 4000));
  double hwm_import = preau::bench::StatusKb(child, "VmHWM");
  double rss_after = preau::bench::StatusKb(child, "VmRSS");

  preau::v1::ListFiltersResponse list;
  {
    grpc::ClientContext ctx;
    auto st = filter->List(&ctx, preau::v1::ListFiltersRequest(), &list);
    if (!st.ok() || list.versions_size() == 0) Die("list: " + st.error_message());
  }
  const preau::v1::FilterVersion& v = list.versions(0);
  std::printf("import through `preau filter import` (CLI streams, server reads and compiles):\n");
  std::printf("  %s\n", Line(imported.out, "Imported version").c_str());
  std::printf("  wall time                 %8.2f s  (%.0f domains/s)\n", import_s,
              v.domains() / import_s);
  std::printf("  server VmRSS idle         %8.1f MB\n", rss_idle / 1024.0);
  std::printf("  server peak (VmHWM)       %8.1f MB  (%.1f bytes/domain above idle)\n",
              hwm_import / 1024.0, (hwm_import - rss_idle) * 1024.0 / v.domains());
  std::printf("  server VmRSS after        %8.1f MB\n", rss_after / 1024.0);
  std::printf("  full set on disk          %8.1f MB  (%.2f bytes/domain, %llu domains, "
              "%llu urls, %llu lines skipped, %d categories)\n",
              v.size() / 1e6, static_cast<double>(v.size()) / v.domains(),
              static_cast<unsigned long long>(v.domains()),
              static_cast<unsigned long long>(v.urls()),
              static_cast<unsigned long long>(v.skipped()), v.categories_size());

  // One class blocks four categories, adult among them; one tablet enrols into it.
  const std::string kClass = "ville/jules-ferry/cm2-a";
  {
    grpc::ClientContext ctx;
    preau::v1::CreateGroupRequest req;
    req.set_path(kClass);
    preau::v1::Group group;
    if (auto st = admin->CreateGroup(&ctx, req, &group); !st.ok()) Die(st.error_message());
  }
  {
    grpc::ClientContext ctx;
    preau::v1::ApplyPolicyRequest req;
    req.set_group(kClass);
    req.set_file("web.yaml");
    req.set_source("name: web\ntimezone: Europe/Paris\nweb_filter:\n"
                   "  categories: [adult, gambling, malware, phishing]\n");
    preau::v1::ApplyPolicyResponse resp;
    if (auto st = policy->Apply(&ctx, req, &resp); !st.ok()) Die(st.error_message());
  }
  std::string token;
  {
    grpc::ClientContext ctx;
    preau::v1::CreateTokenRequest req;
    req.set_group(kClass);
    req.set_uses(10);
    preau::v1::CreateTokenResponse resp;
    if (auto st = admin->CreateToken(&ctx, req, &resp); !st.ok()) Die(st.error_message());
    token = resp.token();
  }
  preau::bench::ResetPeak(child);
  a = SteadyClock::now();
  auto tablet = std::make_unique<Tablet>(root + "/tablet", address, creds->ca_pem, token);
  double first_s = tablet->WaitForVersionOtherThan(0, a);
  double hwm_profile = preau::bench::StatusKb(child, "VmHWM");
  const std::string snap_path = root + "/tablet/filter/snapshot.pfs";
  uintmax_t snap_bytes = fs::file_size(snap_path);
  size_t snap_entries = 0;
  {
    auto snap = preau::filter::Snapshot::LoadFile(snap_path);
    if (!snap.ok()) Die(snap.status().message());
    snap_entries = (*snap)->entry_count();
  }
  std::printf("first device snapshot (profile: adult, gambling, malware, phishing):\n");
  std::printf("  agent start to snapshot loaded  %6.2f s  (enrol, hello, server cuts the "
              "profile's snapshot, download, verify, load)\n", first_s);
  std::printf("  snapshot size              %8.1f MB  (%zu entries, %.2f bytes/entry)\n",
              snap_bytes / 1e6, snap_entries, static_cast<double>(snap_bytes) / snap_entries);
  std::printf("  server peak meanwhile      %8.1f MB\n", hwm_profile / 1024.0);

  // The real preau-agent binary, in its own process, enrolled in the same class: its own
  // peak (VmHWM) is what the systemd unit's MemoryMax must hold (docs/PERFORMANCE.md).
  const std::string agent_dir = root + "/agent-proc";
  const std::string agent_snap = agent_dir + "/filter/snapshot.pfs";
  if (!preau::WriteFileAtomic(root + "/ca.pem", creds->ca_pem).ok()) Die("writing ca.pem");
  pid_t agent = preau::bench::Spawn(
      {std::string(PREAU_BENCH_BINARY_DIR) + "/preau-agent", "--state", agent_dir, "--server",
       address, "--ca", root + "/ca.pem", "--enroll", token, "--platform", "sim",
       "--dns-listen", "127.0.0.1:0"},
      root + "/agent-proc.log");
  if (agent <= 0) Die("cannot start preau-agent");
  WaitFileVersion(agent_snap, tablet->filter().version());
  std::printf("  preau-agent process, snapshot loaded: VmRSS %.1f MB, peak so far (VmHWM) %.1f MB\n",
              preau::bench::StatusKb(agent, "VmRSS") / 1024.0,
              preau::bench::StatusKb(agent, "VmHWM") / 1024.0);
  preau::bench::ResetPeak(agent);
  double agent_rss_before = preau::bench::StatusKb(agent, "VmRSS");

  // The same folder again: a new version, a delta for the tablet, import 1's files purged.
  // This process is the tablet's (plus the CLI runs it forks): its peak growth while the
  // delta is applied is what an update costs a device on top of the snapshot it holds.
  preau::bench::ResetPeak(child);
  preau::bench::ResetPeak(getpid());
  double tablet_rss_before = preau::bench::StatusKb(getpid(), "VmRSS");
  uint64_t held = tablet->filter().version();
  a = SteadyClock::now();
  imported = Run(import_cmd);
  double reimport_s = Seconds(SteadyClock::now() - a);
  if (imported.exit_code != 0) Die("re-import failed:\n" + imported.out.substr(0, 4000));
  double delta_s = tablet->WaitForVersionOtherThan(held, a);
  std::printf("re-import of the same folder: %.2f s, server peak %.1f MB; the tablet has the "
              "new version (as a delta: %s) %.2f s after the import started\n",
              reimport_s, preau::bench::StatusKb(child, "VmHWM") / 1024.0,
              tablet->filter().deltas_applied() == 1 ? "yes" : "no", delta_s);
  std::printf("  tablet side: peak growth while applying the delta %.1f MB over %.1f MB "
              "resident (the new snapshot is built in place beside the old)\n",
              (preau::bench::StatusKb(getpid(), "VmHWM") - tablet_rss_before) / 1024.0,
              tablet_rss_before / 1024.0);
  WaitFileVersion(agent_snap, tablet->filter().version());
  std::printf("  preau-agent process: peak (VmHWM) while applying the delta %.1f MB, from %.1f MB "
              "resident before it\n",
              preau::bench::StatusKb(agent, "VmHWM") / 1024.0, agent_rss_before / 1024.0);
  ::kill(agent, SIGTERM);
  ::waitpid(agent, nullptr, 0);
  uintmax_t artifacts = 0;
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(data + "/artifacts")) {
    if (e.is_regular_file()) {
      artifacts += e.file_size();
      ++files;
    }
  }
  std::printf("  artifact store after the re-import: %zu files, %.1f MB\n", files, artifacts / 1e6);

  tablet.reset();
  server.reset();  // shuts the server down and waits for it
  if (!keep) {
    std::error_code ec;
    fs::remove_all(root, ec);
  } else {
    std::printf("kept %s\n", root.c_str());
  }
  return 0;
}
