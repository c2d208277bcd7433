// The filtering resolver over real loopback sockets: our own UDP/TCP client and `dig`
// against it, with a small fake upstream DNS server on loopback (there is no internet).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include <utility>
#include <boost/asio.hpp>

#include "agent/filter/dns_message.h"
#include "agent/filter/dns_resolver.h"
#include "agent/filter/doh_addresses.h"
#include "common/filter/snapshot.h"
#include "tests/support/dns_peers.h"

namespace preau::agent {
namespace {

using namespace std::chrono_literals;

std::string Ip4(int a, int b, int c, int d) {
  return std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                     static_cast<char>(d)};
}

using testing::DnsAnswer;
using testing::Loopback;
using Answer = DnsAnswer;
using UdpClient = testing::DnsUdpClient;

// A tiny authoritative-for-everything DNS server: A records derived from the name, fixed
// addresses for the safe-search hosts, NXDOMAIN for names under "nx.". Can go silent.
class FakeUpstream : public testing::FakeDnsServer {
 public:
  FakeUpstream() : FakeDnsServer(Respond) {}
  static bool IsSafeHost(const std::string& name) {
    return name == "forcesafesearch.google.com" || name == "restrict.youtube.com" ||
           name == "strict.bing.com" || name == "safe.duckduckgo.com";
  }
  static std::string AddressFor(const std::string& name) {
    if (name == "forcesafesearch.google.com") return Ip4(216, 239, 38, 120);
    if (name == "restrict.youtube.com") return Ip4(216, 239, 38, 119);
    if (name == "strict.bing.com") return Ip4(204, 79, 197, 220);
    if (name == "safe.duckduckgo.com") return Ip4(52, 149, 246, 39);
    return Ip4(192, 0, 2, static_cast<int>(std::hash<std::string>()(name) % 250) + 1);
  }

 private:
  static std::string Respond(const std::string& req, const dns::Query& q) {
    if (q.name.rfind("nx.", 0) == 0) return dns::BuildResponse(req, q, dns::kNxDomain);
    if (q.qtype == dns::kTypeA && IsSafeHost(q.name)) {
      return testing::AddressAnswer(req, q, AddressFor(q.name));
    }
    if (q.qtype == dns::kTypeA) {
      uint32_t ttl = q.name.rfind("short.", 0) == 0 ? 1 : 300;
      return dns::BuildCnameAnswer(req, q, "edge." + q.name, ttl,
                                   {{"edge." + q.name, dns::kTypeA, ttl, AddressFor(q.name)}});
    }
    return dns::BuildResponse(req, q, dns::kNoError);
  }
};

Answer AskTcp(uint16_t port, const std::string& name, int queries = 1) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = Loopback(port);
  Answer last;
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return last;
  }
  for (int i = 0; i < queries; ++i) {  // several queries on one connection
    std::string q = dns::BuildQuery(static_cast<uint16_t>(500 + i), name, dns::kTypeA, false);
    std::string framed = {static_cast<char>(q.size() >> 8), static_cast<char>(q.size())};
    framed += q;
    send(fd, framed.data(), framed.size(), 0);
    uint8_t len[2];
    if (recv(fd, len, 2, MSG_WAITALL) != 2) break;
    std::string body((len[0] << 8) | len[1], '\0');
    if (recv(fd, body.data(), body.size(), MSG_WAITALL) != static_cast<ssize_t>(body.size())) break;
    last = testing::DecodeDnsAnswer(body);
    if (last.id != 500 + i) last.received = false;
  }
  close(fd);
  return last;
}

std::string Dig(uint16_t port, const std::string& args) {
  std::string cmd = "dig @127.0.0.1 -p " + std::to_string(port) +
                    " +time=3 +tries=1 " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  if (p) pclose(p);
  return out;
}

std::shared_ptr<const filter::Snapshot> MakeSnapshot(std::vector<std::string> blocked_domains,
                                                      uint64_t version = 1,
                                                      std::vector<std::string> allow = {}) {
  filter::SnapshotContents c;
  c.version = version;
  c.categories = {{"gambling", false}, {"doh", false}, {"games", false}};
  c.profile.blocked_categories = {"gambling", "doh"};
  c.profile.allow = std::move(allow);
  c.profile.deny = {"denied.example"};
  for (const auto& d : blocked_domains) c.entries.push_back({filter::HashDomain(d), 0});
  c.entries.push_back({filter::HashDomain("dns.google"), 1});
  c.entries.push_back({filter::HashDomain("play.example"), 2});  // category not blocked
  Result<std::string> bytes = filter::BuildSnapshot(std::move(c));
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  Result<std::shared_ptr<const filter::Snapshot>> s = filter::Snapshot::Parse(*bytes);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return *s;
}

class ResolverTest : public ::testing::Test {
 protected:
  void StartResolver(DnsResolverOptions o = {}) {
    o.listen_address = "127.0.0.1";
    o.listen_port = 0;
    if (o.upstreams.empty()) o.upstreams = {upstream_.address()};
    if (o.upstream_timeout_ms == 1500) o.upstream_timeout_ms = 300;
    resolver_ = std::make_unique<DnsResolver>(io_, o);
    Status st = resolver_->Start();
    ASSERT_TRUE(st.ok()) << st.message();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (resolver_) resolver_->Stop();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return resolver_->port(); }

  FakeUpstream upstream_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::unique_ptr<DnsResolver> resolver_;
  std::thread thread_;
};

TEST_F(ResolverTest, BlocksListedDomainsAndSubdomainsForwardsTheRest) {
  StartResolver();
  resolver_->UpdateSnapshot(MakeSnapshot({"casino.example"}));
  UdpClient c(port());
  Answer blocked = c.Ask("casino.example");
  ASSERT_TRUE(blocked.received);
  EXPECT_EQ(blocked.rcode, dns::kNoError);
  ASSERT_EQ(blocked.addresses.size(), 1u);
  EXPECT_EQ(blocked.addresses[0], Ip4(0, 0, 0, 0));
  Answer sub = c.Ask("www.Deep.CASINO.example", dns::kTypeAaaa);
  ASSERT_EQ(sub.addresses.size(), 1u);
  EXPECT_EQ(sub.addresses[0], std::string(16, '\0'));
  EXPECT_EQ(upstream_.queries(), 0);  // blocked names never leave the device

  Answer allowed = c.Ask("www.wikipedia.org");
  ASSERT_TRUE(allowed.received);
  EXPECT_EQ(allowed.rcode, dns::kNoError);
  ASSERT_EQ(allowed.addresses.size(), 1u);
  EXPECT_EQ(allowed.addresses[0], FakeUpstream::AddressFor("www.wikipedia.org"));
  EXPECT_EQ(upstream_.queries(), 1);
  // A second ask is answered from the cache.
  Answer again = c.Ask("WWW.wikipedia.org");
  EXPECT_EQ(again.addresses, allowed.addresses);
  EXPECT_EQ(upstream_.queries(), 1);
  EXPECT_EQ(resolver_->Stats().cache_hits, 1u);
  // Upstream NXDOMAIN is passed on.
  EXPECT_EQ(c.Ask("nx.nowhere.example").rcode, dns::kNxDomain);
  // The deny list blocks, a category outside the profile does not.
  EXPECT_EQ(c.Ask("a.denied.example").addresses.at(0), Ip4(0, 0, 0, 0));
  EXPECT_EQ(c.Ask("play.example").addresses.at(0), FakeUpstream::AddressFor("play.example"));
  // DoH endpoints of the doh category are blocked; Firefox's canary says "filtered".
  EXPECT_EQ(c.Ask("dns.google").addresses.at(0), Ip4(0, 0, 0, 0));
  EXPECT_EQ(c.Ask("use-application-dns.net").rcode, dns::kNxDomain);

  std::map<std::string, uint64_t> counts = resolver_->BlockedCounts();
  EXPECT_EQ(counts["gambling"], 2u);
  EXPECT_EQ(counts["deny list"], 1u);
  EXPECT_EQ(counts["doh"], 1u);
  EXPECT_EQ(counts.count("games"), 0u);
  // The doh name asked for is kept for the firewall (agent/filter/doh_addresses.h).
  EXPECT_EQ(resolver_->DohNamesSeen(), std::vector<std::string>{"dns.google"});
}

TEST(DohAddressesTest, OnlyNamesOfTheDohCategoryAreResolvedThroughTheUpstream) {
  FakeUpstream upstream;
  auto snap = MakeSnapshot({"casino.example"});
  // dns.google is in the snapshot's doh category; the casino is gambling; 8.8.8.8 and
  // dns.quad9.net are not in this snapshot at all.
  std::vector<std::string> got = ResolveDohAddresses(
      {"dns.google", "casino.example", "8.8.8.8", "dns.quad9.net"}, *snap, upstream.address(), 0);
  char text[INET_ADDRSTRLEN];
  std::string want = FakeUpstream::AddressFor("dns.google");
  inet_ntop(AF_INET, want.data(), text, sizeof text);
  EXPECT_EQ(got, std::vector<std::string>{text});
  EXPECT_EQ(upstream.queries(), 2);  // A and AAAA for dns.google only
}

// The snapshot's listed doh names (thousands on the real lists) are all asked, a bounded
// number at a time on one socket, and every answer is matched to its question.
TEST(DohAddressesTest, ManyListedNamesAreAllResolvedWithFewQuestionsInFlight) {
  FakeUpstream upstream;
  filter::SnapshotContents c;
  c.categories = {{"doh", false}};
  c.profile.blocked_categories = {"doh"};
  std::set<std::string> want;
  for (int i = 0; i < 600; ++i) {
    std::string name = "doh" + std::to_string(i) + ".example";
    c.entries.push_back({filter::HashDomain(name), 0});
    c.names.emplace_back(0, name);
    char text[INET_ADDRSTRLEN];
    std::string a = FakeUpstream::AddressFor(name);
    want.insert(inet_ntop(AF_INET, a.data(), text, sizeof text));
  }
  Result<std::string> bytes = filter::BuildSnapshot(std::move(c));
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto snap = filter::Snapshot::Parse(*bytes);
  ASSERT_TRUE(snap.ok()) << snap.status().message();
  std::vector<std::string> names = (*snap)->NamesIn("doh");
  ASSERT_EQ(names.size(), 600u);
  std::vector<std::string> got =
      ResolveDohAddresses(names, **snap, upstream.address(), 0, 2000, 8);
  EXPECT_EQ(got, std::vector<std::string>(want.begin(), want.end()));
  EXPECT_EQ(upstream.queries(), 1200);  // A and AAAA, each once
  // Cancelled before it starts: nothing is asked.
  std::atomic<bool> cancel{true};
  EXPECT_TRUE(ResolveDohAddresses(names, **snap, upstream.address(), 0, 2000, 8, &cancel).empty());
  EXPECT_EQ(upstream.queries(), 1200);
}

TEST_F(ResolverTest, AllowListAndTeacherOverrideBeatTheBlock) {
  ManualClock clock(1'000'000);
  DnsResolverOptions o;
  o.clock = &clock;
  StartResolver(o);
  resolver_->UpdateSnapshot(MakeSnapshot({"casino.example"}, 1, {"ok.casino.example"}));
  UdpClient c(port());
  EXPECT_EQ(c.Ask("www.ok.casino.example").addresses.at(0),
            FakeUpstream::AddressFor("www.ok.casino.example"));
  EXPECT_EQ(c.Ask("other.casino.example").addresses.at(0), Ip4(0, 0, 0, 0));

  ASSERT_TRUE(resolver_->SetAllowOverrides({{"casino.example", 1'060'000}}).ok());
  EXPECT_EQ(c.Ask("other.casino.example").addresses.at(0),
            FakeUpstream::AddressFor("other.casino.example"));
  clock.Advance(60'000);  // the teacher's allow has expired
  EXPECT_EQ(c.Ask("x.casino.example").addresses.at(0), Ip4(0, 0, 0, 0));
  EXPECT_FALSE(resolver_->SetAllowOverrides({{"not a domain", 1}}).ok());
}

TEST_F(ResolverTest, ProfileOverrideChangesWhatIsBlocked) {
  StartResolver();
  resolver_->UpdateSnapshot(MakeSnapshot({"casino.example"}));
  UdpClient c(port());
  EXPECT_EQ(c.Ask("play.example").addresses.at(0), FakeUpstream::AddressFor("play.example"));
  filter::FilterProfile p;
  p.blocked_categories = {"games"};
  ASSERT_TRUE(resolver_->SetProfile(p).ok());
  EXPECT_EQ(c.Ask("www.play.example").addresses.at(0), Ip4(0, 0, 0, 0));
  EXPECT_EQ(c.Ask("casino.example").addresses.at(0), FakeUpstream::AddressFor("casino.example"));
  p.blocked_categories = {"unknown"};
  Status st = resolver_->SetProfile(p);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown"), std::string::npos);
  ASSERT_TRUE(resolver_->SetProfile(std::nullopt).ok());
  EXPECT_EQ(c.Ask("casino.example").addresses.at(0), Ip4(0, 0, 0, 0));
}

TEST_F(ResolverTest, SafeSearchRewritesToTheEnginesSafeHosts) {
  StartResolver();
  resolver_->UpdateSnapshot(MakeSnapshot({}));
  UdpClient c(port());
  struct Case {
    const char* name;
    const char* target;
  } cases[] = {
      {"www.google.fr", "forcesafesearch.google.com"},
      {"www.google.co.uk", "forcesafesearch.google.com"},
      {"www.youtube.com", "restrict.youtube.com"},
      {"m.youtube.com", "restrict.youtube.com"},
      {"youtubei.googleapis.com", "restrict.youtube.com"},
      {"www.youtube-nocookie.com", "restrict.youtube.com"},
      {"www.bing.com", "strict.bing.com"},
      {"duckduckgo.com", "safe.duckduckgo.com"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    Answer a = c.Ask(k.name);
    ASSERT_TRUE(a.received);
    ASSERT_FALSE(a.cnames.empty());
    EXPECT_EQ(a.cnames[0], k.target);
    ASSERT_FALSE(a.addresses.empty());
    EXPECT_EQ(a.addresses[0], FakeUpstream::AddressFor(k.target));
  }
  EXPECT_TRUE(c.Ask("mail.google.com").cnames.size() == 1);  // the fake's own edge CNAME
  EXPECT_EQ(c.Ask("mail.google.com").cnames[0], "edge.mail.google.com");
  EXPECT_EQ(resolver_->Stats().safe_search, 8u);
}

TEST_F(ResolverTest, DigSeesBlockAllowSubdomainAndSafeSearch) {
  StartResolver();
  resolver_->UpdateSnapshot(MakeSnapshot({"casino.example"}, 1, {"ok.casino.example"}));
  EXPECT_EQ(Dig(port(), "+short casino.example A"), "0.0.0.0\n");
  EXPECT_EQ(Dig(port(), "+short www.casino.example AAAA"), "::\n");
  EXPECT_EQ(Dig(port(), "+short ok.casino.example A"), "edge.ok.casino.example.\n" +
                                                           std::string("192.0.2.") +
                                                           std::to_string(static_cast<unsigned char>(
                                                               FakeUpstream::AddressFor(
                                                                   "ok.casino.example")[3])) +
                                                           "\n");
  std::string yt = Dig(port(), "+short www.youtube.com A");
  EXPECT_EQ(yt, "restrict.youtube.com.\n216.239.38.119\n");
  std::string full = Dig(port(), "casino.example A");
  EXPECT_NE(full.find("status: NOERROR"), std::string::npos) << full;
  EXPECT_EQ(Dig(port(), "+tcp +short a.casino.example A"), "0.0.0.0\n");
  std::string tcp_yt = Dig(port(), "+tcp +short www.bing.com A");
  EXPECT_EQ(tcp_yt, "strict.bing.com.\n204.79.197.220\n");
  std::string chaos = Dig(port(), "version.bind CH TXT");
  EXPECT_NE(chaos.find("FORMERR"), std::string::npos) << chaos;
}

TEST_F(ResolverTest, TcpQueriesIncludingSeveralOnOneConnection) {
  StartResolver();
  resolver_->UpdateSnapshot(MakeSnapshot({"casino.example"}));
  Answer b = AskTcp(port(), "casino.example", 3);
  ASSERT_TRUE(b.received);
  EXPECT_EQ(b.addresses.at(0), Ip4(0, 0, 0, 0));
  Answer f = AskTcp(port(), "www.example.org", 2);
  ASSERT_TRUE(f.received);
  EXPECT_EQ(f.addresses.at(0), FakeUpstream::AddressFor("www.example.org"));
}

TEST_F(ResolverTest, MalformedPacketsGetFormErrOrAreDroppedAndServiceContinues) {
  StartResolver();
  resolver_->UpdateSnapshot(MakeSnapshot({"casino.example"}));
  UdpClient c(port());
  auto header = [](int qd) {
    return std::string{0x22, 0x22, 0x01, 0x00, 0, static_cast<char>(qd), 0, 0, 0, 0, 0, 0};
  };
  struct Case {
    std::string name;
    std::string packet;
    bool expect_formerr;  // else dropped
  } cases[] = {
      {"shorter than a header", std::string("\x22\x22\x01", 3), false},
      {"truncated question", header(1) + std::string("\x05" "abc", 4), true},
      {"compression loop", header(1) + std::string("\xc0\x0c\x00\x01\x00\x01", 6), true},
      {"oversized datagram", header(1) + std::string(6000, 'a'), true},
      {"wrong class", dns::BuildQuery(0x2222, "version.bind", 16, false).substr(0, 25) +
                          std::string("\x00\x10\x00\x03", 4), true},
      {"label too long", header(1) + std::string(1, 64) + std::string(64, 'x') +
                             std::string("\x00\x00\x01\x00\x01", 5), true},
      {"a response", std::string("\x22\x22\x81\x80", 4) + header(1).substr(4), false},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    std::optional<std::string> r = c.Exchange(k.packet, k.expect_formerr ? 3000 : 300);
    if (k.expect_formerr) {
      ASSERT_TRUE(r.has_value());
      dns::Header h;
      ASSERT_TRUE(dns::ReadHeader(*r, h));
      EXPECT_EQ(h.rcode(), dns::kFormErr);
      EXPECT_EQ(h.id, 0x2222);
    } else {
      EXPECT_FALSE(r.has_value());
    }
    // And the resolver still answers.
    EXPECT_EQ(c.Ask("casino.example").addresses.at(0), Ip4(0, 0, 0, 0));
  }
  EXPECT_GE(resolver_->Stats().malformed, 7u);
}

TEST_F(ResolverTest, SnapshotSwapUnderLoadDropsNoQuery) {
  StartResolver();
  auto blocking = MakeSnapshot({"swap.example"}, 1);
  auto open = MakeSnapshot({"other.example"}, 2);
  resolver_->UpdateSnapshot(blocking);
  constexpr int kClients = 4, kQueries = 500;
  std::atomic<int> answered{0}, blocked{0}, resolved{0}, lost{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      UdpClient c(port());
      for (int i = 0; i < kQueries; ++i) {
        Answer a = c.Ask("h" + std::to_string(i % 50) + ".swap.example");
        if (!a.received || a.addresses.empty()) {
          ++lost;
          continue;
        }
        ++answered;
        (a.addresses[0] == Ip4(0, 0, 0, 0) ? blocked : resolved)++;
      }
    });
  }
  std::thread swapper([&] {
    for (int i = 0; !done; ++i) resolver_->UpdateSnapshot(i % 2 ? blocking : open);
  });
  for (auto& t : clients) t.join();
  done = true;
  swapper.join();
  EXPECT_EQ(lost.load(), 0);
  EXPECT_EQ(answered.load(), kClients * kQueries);
  EXPECT_GT(blocked.load(), 0);
  EXPECT_GT(resolved.load(), 0);
  // Counts of swapped-out snapshots are kept.
  EXPECT_EQ(resolver_->BlockedCounts()["gambling"], static_cast<uint64_t>(blocked.load()));
}

TEST_F(ResolverTest, UpstreamDownFailsClosedWithServfail) {
  DnsResolverOptions o;
  o.upstream_timeout_ms = 100;
  o.upstream_attempts = 2;
  StartResolver(o);
  resolver_->UpdateSnapshot(MakeSnapshot({}));
  upstream_.SetSilent(true);
  UdpClient c(port());
  auto t0 = std::chrono::steady_clock::now();
  Answer a = c.Ask("www.example.net");
  ASSERT_TRUE(a.received);
  EXPECT_EQ(a.rcode, dns::kServFail);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);  // two attempts waited for
  EXPECT_EQ(upstream_.queries(), 2);
  EXPECT_EQ(resolver_->Stats().upstream_failures, 1u);
}

TEST_F(ResolverTest, UpstreamDownFailsOpenFromStaleCache) {
  ManualClock clock(5'000'000);
  DnsResolverOptions o;
  o.upstream_timeout_ms = 100;
  o.upstream_attempts = 1;
  o.fail_mode = FailMode::kOpen;
  o.clock = &clock;
  StartResolver(o);
  resolver_->UpdateSnapshot(MakeSnapshot({}));
  UdpClient c(port());
  Answer fresh = c.Ask("short.example.net");  // TTL 1 s
  ASSERT_EQ(fresh.addresses.size(), 1u);
  upstream_.SetSilent(true);
  clock.Advance(5'000);  // expired
  Answer stale = c.Ask("short.example.net");
  ASSERT_TRUE(stale.received);
  EXPECT_EQ(stale.rcode, dns::kNoError);
  EXPECT_EQ(stale.addresses, fresh.addresses);
  EXPECT_EQ(c.Ask("never.seen.example").rcode, dns::kServFail);
}

TEST_F(ResolverTest, NoSnapshotYetFailsClosed) {
  StartResolver();
  UdpClient c(port());
  EXPECT_EQ(c.Ask("www.example.org").rcode, dns::kServFail);
  EXPECT_EQ(upstream_.queries(), 0);
}

TEST(SafeSearchTarget, OnlyTheEnginesNames) {
  EXPECT_EQ(SafeSearchTarget("www.google.com"), "forcesafesearch.google.com");
  EXPECT_EQ(SafeSearchTarget("www.google.com.evil.example"), "");
  EXPECT_EQ(SafeSearchTarget("mail.google.com"), "");
  EXPECT_EQ(SafeSearchTarget("www.duckduckgo.com"), "safe.duckduckgo.com");
  EXPECT_EQ(SafeSearchTarget("youtube.googleapis.com"), "restrict.youtube.com");
  EXPECT_EQ(SafeSearchTarget("example.com"), "");
}

}  // namespace
}  // namespace preau::agent
