// The web filter in a real device's DNS path, on the real `linux` platform: each test
// makes two network namespaces of its own — the device (D) and the world (W), joined by a
// veth pair — and gives D a private /etc/resolv.conf (/etc/netns/D/resolv.conf, which
// `ip netns exec` bind-mounts over /etc/resolv.conf for every process it starts there).
// In W: a fake upstream resolver (10.53.0.1:53, the one D's resolv.conf names), a fake
// outside resolver (10.53.0.9:53, with a DNS-over-TLS port 853) and a DoH endpoint
// (10.53.0.10:443). The real preau-agent binary runs in D (started with `ip netns exec`),
// enrolled with the real server of this process through a relay on D's loopback, and
// real nftables, `getent hosts` and `dig` show what a program on the device gets.
//
// Needs root (network namespaces, nftables). The project's machine has no
// systemd-resolved, so `system_resolver = auto` takes the resolv.conf way there (see
// kConfig); the drop-in way is covered on files in tests/unit/filter_system_test.cc, never
// against a live resolved.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "agent/filter/dns_message.h"
#include "agent/platform/system_resolver.h"
#include "common/files.h"
#include "preau/v1/policy.grpc.pb.h"
#include "tests/support/dns_peers.h"
#include "tests/support/harness.h"

extern char** environ;

namespace preau::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace dns = agent::dns;

constexpr const char* kAgentAddress = "127.80.65.53";
constexpr const char* kUpstream = "10.53.0.1";
constexpr const char* kOutside = "10.53.0.9";
constexpr const char* kDohEndpoint = "10.53.0.10";
constexpr const char* kDohName = "0ms.dev";  // in doh/domains; the world resolves it to kDohEndpoint
// (the test never asks for it: the agent learns it from the snapshot)
const std::string kOriginal =
    "# the namespace's own resolver\nsearch ecole.example\nnameserver 10.53.0.1\n"
    "options timeout:1 attempts:1";  // no final newline: restored exactly so

std::string Sh(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* f = popen((cmd + " 2>&1").c_str(), "r");
  if (!f) return out;
  char buf[512];
  while (fgets(buf, sizeof buf, f)) out += buf;
  int st = pclose(f);
  if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// Runs `fn` on a thread that entered network namespace `ns`: sockets it creates live there.
template <typename F>
void InNetns(const std::string& ns, F fn) {
  std::thread t([&] {
    int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << ns;
    ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0) << ns;
    ::close(fd);
    fn();
  });
  t.join();
}

sockaddr_in Addr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

int BoundSocket(int type, const std::string& ip, uint16_t port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = Addr(ip, port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  if (type == SOCK_STREAM) ::listen(fd, 16);
  return fd;
}

// A TCP listener that counts the connections it accepts (DoT on 853, DoH on 443).
class CountingListener {
 public:
  explicit CountingListener(int fd) : fd_(fd), thread_([this] { Run(); }) {}
  ~CountingListener() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int accepted() const { return accepted_; }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c >= 0) {
        ++accepted_;
        ::close(c);
      }
    }
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Relays TCP connections from a listener on D's loopback to the test server on this
// process's 127.0.0.1, so the agent reaches the server at 127.0.0.1 (its certificate's
// name) from inside its namespace.
class Relay {
 public:
  Relay(int listen_fd, int server_port) : fd_(listen_fd), server_port_(server_port) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~Relay() {
    stop_ = true;
    thread_.join();
    for (auto& t : pumps_) t.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      int in = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (in < 0) continue;
      int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a = Addr("127.0.0.1", static_cast<uint16_t>(server_port_));
      if (::connect(out, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(in);
        ::close(out);
        continue;
      }
      pumps_.emplace_back([this, in, out] { Pump(in, out); });
    }
  }
  void Pump(int a, int b) {
    char buf[16384];
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (!stop_) {
      if (poll(p, 2, 20) <= 0) continue;
      bool done = false;
      for (int i = 0; i < 2; ++i) {
        if (!p[i].revents) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0 || ::write(p[1 - i].fd, buf, static_cast<size_t>(n)) != n) done = true;
      }
      if (done) break;
    }
    ::close(a);
    ::close(b);
  }
  int fd_;
  int server_port_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> pumps_;
};

// The JSON object of `policy status` for version `n` ("" if none yet).
std::string VersionEntry(const std::string& status, int n) {
  size_t at = status.find("\"version\": " + std::to_string(n) + ",");
  if (at == std::string::npos) return "";
  size_t begin = status.rfind('{', at), end = status.find('}', at);
  return status.substr(begin, end - begin);
}

class FilterNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, nftables)";
    static int counter = 0;
    std::string id = std::to_string(::getpid()) + "-" + std::to_string(counter++);
    dev_ = "preau-d-" + id;
    world_ = "preau-w-" + id;
    for (const std::string& cmd : {
             "ip netns add " + dev_, "ip netns add " + world_,
             "ip -n " + dev_ + " link set lo up", "ip -n " + world_ + " link set lo up",
             "ip -n " + dev_ + " link add veth0 type veth peer name veth1 netns " + world_,
             "ip -n " + dev_ + " addr add 10.53.0.2/24 dev veth0",
             "ip -n " + dev_ + " link set veth0 up",
             "ip -n " + world_ + " addr add 10.53.0.1/24 dev veth1",
             "ip -n " + world_ + " addr add 10.53.0.9/24 dev veth1",
             "ip -n " + world_ + " addr add 10.53.0.10/24 dev veth1",
             "ip -n " + world_ + " link set veth1 up"}) {
      int rc = 0;
      std::string out = Sh(cmd, &rc);
      ASSERT_EQ(rc, 0) << cmd << ": " << out;
    }
    etc_ = "/etc/netns/" + dev_;
    fs::create_directories(etc_);
    ASSERT_TRUE(WriteFileAtomic(etc_ + "/resolv.conf", kOriginal).ok());

    // The world: upstream, outside resolver, DoT and DoH ports.
    int up = -1, out = -1, dot = -1, doh = -1, web = -1, relay = -1;
    InNetns(world_, [&] {
      up = BoundSocket(SOCK_DGRAM, kUpstream, 53);
      out = BoundSocket(SOCK_DGRAM, kOutside, 53);
      dot = BoundSocket(SOCK_STREAM, kOutside, 853);
      doh = BoundSocket(SOCK_STREAM, kDohEndpoint, 443);
      web = BoundSocket(SOCK_STREAM, kOutside, 443);
    });
    InNetns(dev_, [&] { relay = BoundSocket(SOCK_STREAM, "127.0.0.1", 0); });
    ASSERT_TRUE(up >= 0 && out >= 0 && dot >= 0 && doh >= 0 && web >= 0 && relay >= 0);
    upstream_ = std::make_unique<FakeDnsServer>(up, [this](const std::string& req,
                                                           const dns::Query& q) {
      if (garbage_) return std::string("\x13\x37garbage, not DNS");
      if (q.qtype != dns::kTypeA) return dns::BuildResponse(req, q, dns::kNoError);
      if (q.name == kDohName) {
        ++doh_name_queries_;
        return AddressAnswer(req, q, std::string("\x0a\x35\x00\x0a", 4));  // 10.53.0.10
      }
      return AddressAnswer(req, q, std::string("\xc0\x00\x02\x07", 4));  // 192.0.2.7
    });
    outside_ = std::make_unique<FakeDnsServer>(out, [](const std::string& req,
                                                       const dns::Query& q) {
      return AddressAnswer(req, q, std::string("\xc6\x33\x64\x09", 4));  // 198.51.100.9
    });
    dot_ = std::make_unique<CountingListener>(dot);
    doh_ = std::make_unique<CountingListener>(doh);
    web_ = std::make_unique<CountingListener>(web);

    server_ = std::make_unique<TestServer>(dir_.path());
    server_->CreateGroup(kClass);
    relay_ = std::make_unique<Relay>(relay, server_->port());
    creds_ = server_->data_dir() + "/admin.credentials";
    ASSERT_TRUE(WriteFileAtomic(dir_ / "ca.pem", server_->ca_pem()).ok());
    auto r = Cli({"filter", "import", kUt1});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    state_ = dir_ / "state";
  }

  void TearDown() override {
    if (dev_.empty()) return;
    KillAgent(SIGKILL);
    WaitGuardGone();
    Sh("ip netns del " + dev_);
    Sh("ip netns del " + world_);
    fs::remove_all(etc_);
  }

  CommandResult Cli(std::vector<std::string> args) {
    args.insert(args.end(), {"--credentials", creds_, "--server", server_->address()});
    return RunBinary("preau", args);
  }

  void Apply(const std::string& yaml) {
    ASSERT_TRUE(WriteFileAtomic(dir_ / "web.yaml", yaml).ok());
    auto r = Cli({"policy", "apply", dir_ / "web.yaml", "--group", kClass});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ++version_;
  }

  std::string Status() { return Cli({"policy", "status", "web", "-o", "json"}).out; }
  // The device reported the latest version applied, every rule (web_filter included).
  bool Applied() {
    std::string v = VersionEntry(Status(), version_);
    return v.find("\"applied\": 1,") != std::string::npos &&
           v.find("\"failed\": 0,") != std::string::npos;
  }
  // The latest version's entry says `text` (a failure's reason).
  bool LatestSays(const std::string& text) {
    return VersionEntry(Status(), version_).find(text) != std::string::npos;
  }

  // Writes agent.conf and starts the real agent in D; false if it could not be spawned.
  bool StartAgent(const std::string& config_text) {
    EXPECT_TRUE(WriteFileAtomic(dir_ / "agent.conf", config_text).ok());
    if (token_.empty()) token_ = server_->CreateToken(kClass, 1);
    std::vector<std::string> args = {
        "ip", "netns", "exec", dev_, std::string(PREAU_BINARY_DIR) + "/preau-agent",
        "--state", state_, "--server", "127.0.0.1:" + std::to_string(relay_->port()),
        "--ca", dir_ / "ca.pem", "--enroll", token_, "--config", dir_ / "agent.conf"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = dir_ / "agent.log";
    posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawnp(&agent_pid_, "ip", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    return agent_pid_ > 0;
  }

  // `ip netns exec` execs the agent: this is the agent's own pid.
  void KillAgent(int sig) {
    if (agent_pid_ <= 0) return;
    ::kill(agent_pid_, sig);
    int st = 0;
    ::waitpid(agent_pid_, &st, 0);
    agent_pid_ = -1;
  }

  // The guard ends once it has applied the fail mode.
  bool WaitGuardGone() {
    return WaitUntil([&] {
      for (const auto& e : fs::directory_iterator("/proc")) {
        auto cmd = ReadFile(e.path().string() + "/cmdline");
        if (cmd.ok() && cmd->find("--filter-guard") != std::string::npos &&
            cmd->find(state_) != std::string::npos) {
          return false;
        }
      }
      return true;
    }, 15s);
  }

  std::string InDevice(const std::string& cmd, int* rc = nullptr) {
    return Sh("ip netns exec " + dev_ + " " + cmd, rc);
  }
  std::string ResolvConf() {
    auto text = ReadFile(etc_ + "/resolv.conf");
    return text.ok() ? *text : "";
  }
  bool TableLoaded() {
    int rc = 0;
    InDevice("nft list table inet preau_filter", &rc);
    return rc == 0;
  }
  std::string AgentLog() {
    auto text = ReadFile(dir_ / "agent.log");
    return text.ok() ? *text : "";
  }

  // Connects from D to ip:port over TCP; the errno (0: connected).
  int ConnectFromDevice(const std::string& ip, uint16_t port) {
    int err = -1;
    InNetns(dev_, [&] {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a = Addr(ip, port);
      err = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ? 0 : errno;
      ::close(fd);
    });
    return err;
  }

  TempDir dir_;
  std::string dev_, world_, etc_, state_, creds_, token_;
  std::atomic<bool> garbage_{false};
  std::unique_ptr<FakeDnsServer> upstream_, outside_;
  std::unique_ptr<CountingListener> dot_, doh_, web_;
  std::atomic<int> doh_name_queries_{0};  // kDohName asked upstream (only the agent can)
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Relay> relay_;
  pid_t agent_pid_ = -1;
  int version_ = 0;
};

// `auto` takes the resolv.conf way here, as this machine has no systemd-resolved (the
// test below checks that it did). Where resolved runs, `auto` would take the drop-in way,
// which acts on the host's resolved, shared with every namespace: the tests then name the
// resolv.conf way, which the namespace's private resolv.conf makes safe.
const bool kHostHasResolved = fs::exists("/run/systemd/resolve");
const std::string kConfig = std::string(
    "dns_listen = 127.80.65.53:53\n"
    "firewall = on\n"
    "self_test_resolver = 10.53.0.9\n") +
    (kHostHasResolved ? "system_resolver = resolv-conf\n" : "system_resolver = auto\n");

std::string WebPolicy(const std::string& extra) {
  return "name: web\ntimezone: Europe/Paris\nweb_filter:\n  categories: [gambling, doh]\n" + extra;
}


TEST_F(FilterNetnsTest, InThePathBlocksWhatIsListedAndCannotBeWalkedAround) {
  RecordProperty("way", kHostHasResolved ? "resolv-conf (named: the host runs resolved)"
                                         : "auto, which took resolv-conf (no resolved here)");
  Apply(WebPolicy(""));
  ASSERT_TRUE(StartAgent(kConfig));
  ASSERT_TRUE(WaitUntil([&] { return Applied(); }, 30s)) << Status() << AgentLog();
  // resolv.conf names the agent alone and keeps the namespace's search line.
  std::string conf = ResolvConf();
  EXPECT_EQ(agent::NameserversOf(conf), std::vector<std::string>{kAgentAddress}) << conf;
  EXPECT_NE(conf.find("search ecole.example\n"), std::string::npos) << conf;
  EXPECT_TRUE(TableLoaded());

  // Through the system's resolver: a listed name gets the block answer, others the real
  // one (the fake upstream's, forwarded by the agent). The rule says the agent is in the
  // path; its snapshot may still be on its way (fail closed answers SERVFAIL until then).
  ASSERT_TRUE(WaitUntil([&] {
    return InDevice(std::string("dig +short +tries=1 +time=3 ") + kCasino) == "0.0.0.0\n";
  }, 30s)) << AgentLog();
  int rc = 0;
  std::string blocked = InDevice(std::string("getent ahostsv4 www.") + kCasino, &rc);
  EXPECT_NE(blocked.find("0.0.0.0"), std::string::npos) << blocked;
  std::string fine = InDevice("getent ahostsv4 lumni.fr", &rc);
  EXPECT_EQ(rc, 0) << fine;
  EXPECT_NE(fine.find("192.0.2.7"), std::string::npos) << fine;
  EXPECT_EQ(InDevice(std::string("dig +short +tries=1 +time=3 ") + kCasino), "0.0.0.0\n");
  EXPECT_EQ(InDevice("dig +short +tries=1 +time=3 lumni.fr"), "192.0.2.7\n");
  int upstream_queries = upstream_->queries();
  EXPECT_GT(upstream_queries, 0);

  // Around it: another resolver on 53 (UDP and TCP) and DoT on 853 are refused, and the
  // outside world never sees a packet.
  std::string direct = InDevice(std::string("dig +tries=1 +time=2 @") + kOutside + " lumni.fr");
  EXPECT_EQ(direct.find("198.51.100.9"), std::string::npos) << direct;
  EXPECT_NE(direct.find("connection refused"), std::string::npos) << direct;
  EXPECT_EQ(ConnectFromDevice(kOutside, 53), ECONNREFUSED);
  EXPECT_EQ(ConnectFromDevice(kOutside, 853), ECONNREFUSED);
  EXPECT_EQ(outside_->queries(), 0);
  EXPECT_EQ(dot_->accepted(), 0);
  // The upstream itself is not reachable for programs either, only for the agent.
  std::string to_upstream = InDevice(std::string("dig +tries=1 +time=2 @") + kUpstream + " x.org");
  EXPECT_NE(to_upstream.find("connection refused"), std::string::npos) << to_upstream;

  // DoH: the address a `doh` name resolves to is refused on 443 although no program ever
  // asked for that name: the snapshot carries the doh category's plain names and the agent
  // resolves them upstream itself (from its marked socket: the upstream saw kDohName).
  // HTTPS elsewhere is not the firewall's business.
  ASSERT_TRUE(WaitUntil([&] { return ConnectFromDevice(kDohEndpoint, 443) == ECONNREFUSED; }, 40s))
      << AgentLog();
  // (A listener is there: ECONNREFUSED can only be the firewall's reset.)
  EXPECT_NE(InDevice("nft list set inet preau_filter doh4").find(kDohEndpoint), std::string::npos);
  EXPECT_GT(doh_name_queries_.load(), 0);
  // A program asking for it gets the block answer, as for any listed name.
  EXPECT_EQ(InDevice(std::string("dig +short +tries=1 +time=3 ") + kDohName), "0.0.0.0\n");
  EXPECT_EQ(ConnectFromDevice(kOutside, 443), 0);
  EXPECT_TRUE(WaitUntil([&] { return web_->accepted() == 1; }));

  // The policy switches the filter off: resolv.conf comes back byte for byte, the table goes.
  Apply(WebPolicy("  enabled: false\n"));
  ASSERT_TRUE(WaitUntil([&] { return ResolvConf() == kOriginal && !TableLoaded(); }, 30s))
      << ResolvConf() << AgentLog();
  EXPECT_NE(InDevice("dig +short +tries=1 +time=3 lumni.fr").find("192.0.2.7"), std::string::npos);

  // On again, fail closed (the default), then the agent is killed: the firewall stays and
  // the system's resolver answers nothing.
  Apply(WebPolicy("  safe_search: true\n"));
  ASSERT_TRUE(WaitUntil([&] { return Applied() && TableLoaded(); }, 30s)) << Status();
  KillAgent(SIGKILL);
  ASSERT_TRUE(WaitGuardGone());
  EXPECT_TRUE(TableLoaded());
  EXPECT_EQ(agent::NameserversOf(ResolvConf()), std::vector<std::string>{kAgentAddress});
  InDevice("getent ahostsv4 lumni.fr", &rc);
  EXPECT_NE(rc, 0);
  direct = InDevice(std::string("dig +tries=1 +time=2 @") + kOutside + " lumni.fr");
  EXPECT_NE(direct.find("connection refused"), std::string::npos) << direct;
  EXPECT_EQ(outside_->queries(), 0);

  // Uninstall puts the machine back as it was.
  auto un = Sh("ip netns exec " + dev_ + " " + PREAU_BINARY_DIR + "/preau-agent --uninstall --state " +
               state_ + " --config " + (dir_ / "agent.conf"), &rc);
  EXPECT_EQ(rc, 0) << un;
  EXPECT_EQ(ResolvConf(), kOriginal);
  EXPECT_FALSE(TableLoaded());
}

TEST_F(FilterNetnsTest, FailOpenKilledAgentLeavesTheOriginalResolverWorking) {
  Apply(WebPolicy("  fail_open: true\n"));
  ASSERT_TRUE(StartAgent(kConfig));
  ASSERT_TRUE(WaitUntil([&] { return Applied() && TableLoaded(); }, 30s))
      << Status() << AgentLog();
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(state_ + "/filter/system/fail-open"); }, 10s));
  KillAgent(SIGKILL);
  ASSERT_TRUE(WaitUntil([&] { return ResolvConf() == kOriginal && !TableLoaded(); }, 15s))
      << ResolvConf() << AgentLog();
  int rc = 0;
  std::string fine = InDevice("getent ahostsv4 lumni.fr", &rc);
  EXPECT_EQ(rc, 0) << fine;
  EXPECT_NE(fine.find("192.0.2.7"), std::string::npos) << fine;

  // Restarted, the agent goes back in the path; retired, it puts the system back.
  ASSERT_TRUE(StartAgent(kConfig));
  ASSERT_TRUE(WaitUntil([&] {
    return agent::NameserversOf(ResolvConf()) == std::vector<std::string>{kAgentAddress} &&
           TableLoaded();
  }, 30s)) << ResolvConf() << AgentLog();
  auto devices = server_->Devices(kClass);
  ASSERT_EQ(devices.size(), 1u);
  auto r = Cli({"devices", "retire", devices[0].id()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitUntil([&] { return ResolvConf() == kOriginal && !TableLoaded(); }, 30s))
      << ResolvConf() << AgentLog();
}

TEST_F(FilterNetnsTest, AnotherResolverInFrontIsReportedAsFailedThenRepaired) {
  Apply(WebPolicy(""));
  ASSERT_TRUE(StartAgent(kConfig + "repair_after_seconds = 8\n"));
  ASSERT_TRUE(WaitUntil([&] { return Applied(); }, 30s)) << Status() << AgentLog();
  // Someone points the device at another resolver; the next policy version's self-test
  // sees that its name never reached the agent.
  // In place, as an editor or a DHCP client does: the agent's bind mount sees the same file.
  std::ofstream(etc_ + "/resolv.conf", std::ios::trunc) << "nameserver 10.53.0.9\n";
  Apply(WebPolicy("  safe_search: false\n"));
  ASSERT_TRUE(WaitUntil([&] { return LatestSays("web_filter: another resolver is in the path"); },
                        30s)) << Status() << AgentLog();
  EXPECT_TRUE(LatestSays("/etc/resolv.conf names 10.53.0.9")) << Status();
  // Reported first; after repair_after_seconds the agent puts itself back.
  ASSERT_TRUE(WaitUntil([&] {
    return agent::NameserversOf(ResolvConf()) == std::vector<std::string>{kAgentAddress} &&
           Applied();
  }, 40s)) << ResolvConf() << Status() << AgentLog();
  EXPECT_NE(AgentLog().find("back in the DNS path after: another resolver is in the path"),
            std::string::npos) << AgentLog();

  // A firewall reload drops the table: reported as such, then put back too.
  int rc = 0;
  InDevice("nft delete table inet preau_filter", &rc);
  ASSERT_EQ(rc, 0);
  Apply(WebPolicy("  safe_search: true\n"));
  ASSERT_TRUE(WaitUntil([&] {
    return LatestSays("web_filter: firewall missing: the nftables table inet preau_filter is not loaded");
  }, 30s)) << Status() << AgentLog();
  ASSERT_TRUE(WaitUntil([&] { return TableLoaded() && Applied(); }, 40s)) << Status() << AgentLog();
}

TEST_F(FilterNetnsTest, BadInputsAreClearErrorsAndTheSystemStaysAsItWas) {
  // A config file with an unknown key, or a bad address: the agent refuses to start.
  for (const std::string& bad : {std::string("dns_listen = 127.80.65.53:53\nfirewal = on\n"),
                                 std::string("dns_listen = 127.80.65.530\n")}) {
    ASSERT_TRUE(StartAgent(bad));
    int st = 0;
    ASSERT_EQ(::waitpid(agent_pid_, &st, 0), agent_pid_);
    agent_pid_ = -1;
    EXPECT_EQ(WEXITSTATUS(st), 1);
    EXPECT_EQ(ResolvConf(), kOriginal);
    EXPECT_FALSE(TableLoaded());
  }
  std::string log = AgentLog();
  EXPECT_NE(log.find("agent.conf:2: unknown key 'firewal'"), std::string::npos) << log;
  EXPECT_NE(log.find("agent.conf:1: dns_listen: address '127.80.65.530': '127.80.65.530' is "
                     "not an IP address"), std::string::npos) << log;

  // A resolv.conf that is a symlink to somewhere unexpected: refused, reported, untouched.
  fs::create_directories(dir_ / "etc");
  ASSERT_TRUE(WriteFileAtomic(dir_ / "etc/other.conf", "nameserver 10.53.0.1\n").ok());
  fs::create_symlink(dir_ / "etc/other.conf", dir_ / "etc/resolv.conf");
  Apply(WebPolicy(""));
  ASSERT_TRUE(StartAgent(kConfig + "resolv_conf = " + (dir_ / "etc/resolv.conf") + "\n"));
  ASSERT_TRUE(WaitUntil([&] {
    return LatestSays("web_filter: not in the DNS path: " + (dir_ / "etc/resolv.conf") +
                      " is a symlink to '" + (dir_ / "etc/other.conf") + "'");
  }, 30s)) << Status() << AgentLog();
  EXPECT_TRUE(fs::is_symlink(dir_ / "etc/resolv.conf"));
  EXPECT_EQ(*ReadFile(dir_ / "etc/other.conf"), "nameserver 10.53.0.1\n");
  EXPECT_FALSE(TableLoaded());
  EXPECT_EQ(ResolvConf(), kOriginal);
  KillAgent(SIGTERM);

  // A resolver that cannot listen (an address this device does not have): the rule says
  // why, and the system is not pointed at a resolver that is not there.
  ASSERT_TRUE(StartAgent("dns_listen = 10.99.99.99:53\n"));
  ASSERT_TRUE(WaitUntil([&] {
    return LatestSays("web_filter: resolver down: DNS resolver: cannot bind UDP 10.99.99.99:53");
  }, 30s)) << Status() << AgentLog();
  EXPECT_EQ(ResolvConf(), kOriginal);
  EXPECT_FALSE(TableLoaded());
  KillAgent(SIGTERM);

  // An upstream that answers garbage: the agent drops it and answers SERVFAIL (fail
  // closed), keeps serving, and still blocks listed names.
  ASSERT_TRUE(StartAgent(kConfig));
  ASSERT_TRUE(WaitUntil([&] { return Applied(); }, 30s)) << Status() << AgentLog();
  garbage_ = true;
  std::string answer = InDevice("dig +tries=1 +time=5 garbage-upstream.example");
  EXPECT_NE(answer.find("status: SERVFAIL"), std::string::npos) << answer;
  std::string blocked = InDevice(std::string("dig +tries=1 +time=3 ") + kCasino);
  EXPECT_NE(blocked.find("IN\tA\t0.0.0.0"), std::string::npos) << answer << blocked << AgentLog();
  EXPECT_EQ(::kill(agent_pid_, 0), 0);  // still running
}

}  // namespace
}  // namespace preau::testing
