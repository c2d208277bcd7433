// The agent's config file and the pieces that put the web filter in the system's DNS path,
// on real files in a temporary folder: strict parsing of agent.conf, the resolv.conf and
// systemd-resolved ways with their records (restored byte for byte, also by a second
// object as after a crash), a symlinked resolv.conf refused and left alone, and the nft
// script of the firewall table. The same pieces on a real network namespace with nftables
// are in tests/integration/filter_netns_test.cc.
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/config/agent_config.h"
#include "agent/filter/system_path.h"
#include "agent/filter/web_filter_rule.h"
#include "agent/platform/linux_firewall.h"
#include "agent/platform/system_resolver.h"
#include "common/files.h"

namespace preau::agent {
namespace {

namespace fs = std::filesystem;

class Dir {
 public:
  Dir() {
    path_ = fs::temp_directory_path() / ("preau-fs-test-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~Dir() { fs::remove_all(path_); }
  std::string operator/(const std::string& n) const { return (path_ / n).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

TEST(AgentConfigTest, ParsesEveryKeyAndKeepsDefaults) {
  auto c = ParseAgentConfig(
      "# a comment\n"
      "dns_listen = 127.80.65.53:53\n"
      "system_resolver = resolv-conf   # trailing comment\n"
      "resolv_conf = /etc/resolv.conf\n"
      "firewall = off\n"
      "upstreams = 192.0.2.1, [2001:db8::1]:5353\n"
      "self_test_resolver = 192.0.2.9\n",
      "agent.conf");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->system_resolver, "resolv-conf");
  EXPECT_FALSE(c->firewall);
  EXPECT_EQ(c->upstreams, (std::vector<std::string>{"192.0.2.1", "[2001:db8::1]:5353"}));
  EXPECT_EQ(c->self_test_resolver, "192.0.2.9");
  auto empty = ParseAgentConfig("", "agent.conf");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->dns_listen, kDefaultDnsListen);
  EXPECT_TRUE(empty->firewall);
}

TEST(AgentConfigTest, RefusesUnknownKeysAndBadValuesNamingTheLine) {
  struct Case {
    std::string text, want;
  } cases[] = {
      {"dns_listen = 127.0.0.1\nfilter = on\n", "agent.conf:2: unknown key 'filter'"},
      {"dns_listen = localhost:53\n", "agent.conf:1: dns_listen: address 'localhost:53': 'localhost' is not an IP address"},
      {"dns_listen = 127.0.0.1:99999\n", "agent.conf:1: dns_listen: address '127.0.0.1:99999': the port must be 0 to 65535"},
      {"upstreams = 192.0.2.1, 300.1.1.1\n", "agent.conf:1: upstreams: address '300.1.1.1': '300.1.1.1' is not an IP address"},
      {"system_resolver = dnsmasq\n", "agent.conf:1: system_resolver: 'dnsmasq' is not one of"},
      {"firewall = yes\n", "agent.conf:1: firewall: 'yes' is not on or off"},
      {"resolv_conf = etc/resolv.conf\n", "agent.conf:1: resolv_conf: 'etc/resolv.conf' is not an absolute path"},
      {"firewall = on\nfirewall = off\n", "agent.conf:2: firewall: set twice"},
      {"repair_after_seconds = 0\n", "agent.conf:1: repair_after_seconds: '0' is not a number of seconds from 1 to 86400"},
      {"just words\n", "agent.conf:1: expected 'key = value'"},
  };
  for (const auto& c : cases) {
    auto r = ParseAgentConfig(c.text, "agent.conf");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().message().rfind(c.want, 0), 0u) << r.status().message();
  }
}

TEST(AgentConfigTest, MissingFileIsDefaultsOnlyWhenNotNamed) {
  Dir d;
  auto absent = LoadAgentConfig(d / "agent.conf", /*must_exist=*/false);
  ASSERT_TRUE(absent.ok());
  EXPECT_EQ(absent->dns_listen, kDefaultDnsListen);
  EXPECT_FALSE(LoadAgentConfig(d / "agent.conf", /*must_exist=*/true).ok());
}

SystemResolverOptions ResolvConfWay(const Dir& d) {
  SystemResolverOptions o;
  o.way = SystemResolverOptions::Way::kAuto;
  o.resolv_conf = d / "resolv.conf";
  o.resolved_runtime = d / "no-resolved-here";
  o.record_dir = d / "record";
  return o;
}

TEST(SystemResolverTest, ResolvConfPointedThenRestoredByteForByte) {
  Dir d;
  const std::string original =
      "# from DHCP\nsearch ecole.example\nnameserver 192.0.2.53\nnameserver 192.0.2.54\n"
      "options timeout:2";  // no final newline: must come back exactly so
  ASSERT_TRUE(WriteFileAtomic(d / "resolv.conf", original, 0640).ok());
  SystemResolver sys(ResolvConfWay(d));
  ASSERT_TRUE(sys.Point("127.80.65.53").ok());
  ASSERT_TRUE(sys.Point("127.80.65.53").ok());  // idempotent: the record keeps the original
  std::string pointed = *ReadFile(d / "resolv.conf");
  EXPECT_EQ(NameserversOf(pointed), std::vector<std::string>{"127.80.65.53"});
  EXPECT_NE(pointed.find("search ecole.example\n"), std::string::npos) << pointed;
  EXPECT_NE(pointed.find("options timeout:2\n"), std::string::npos) << pointed;
  EXPECT_TRUE(sys.CheckPointed("127.80.65.53").ok());
  EXPECT_EQ(sys.OriginalUpstreams("127.80.65.53"),
            (std::vector<std::string>{"192.0.2.53", "192.0.2.54"}));

  // Someone puts another resolver in front: the check names it.
  ASSERT_TRUE(WriteFileAtomic(d / "resolv.conf", "nameserver 198.51.100.1\n").ok());
  Status check = sys.CheckPointed("127.80.65.53");
  EXPECT_EQ(check.message(), "another resolver is in the path: " + (d / "resolv.conf") +
                                 " names 198.51.100.1");

  // A new object (an agent restarted after a crash) restores from the record.
  SystemResolver after_crash(ResolvConfWay(d));
  EXPECT_TRUE(after_crash.Pointed());
  ASSERT_TRUE(after_crash.Restore().ok());
  EXPECT_EQ(*ReadFile(d / "resolv.conf"), original);
  struct stat st{};
  ASSERT_EQ(::stat((d / "resolv.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_FALSE(after_crash.Pointed());
  EXPECT_TRUE(fs::is_empty(d / "record"));
  ASSERT_TRUE(after_crash.Restore().ok());  // nothing recorded: nothing to do
}

TEST(SystemResolverTest, SymlinkedResolvConfIsRefusedAndLeftAlone) {
  Dir d;
  ASSERT_TRUE(WriteFileAtomic(d / "elsewhere.conf", "nameserver 192.0.2.53\n").ok());
  fs::create_symlink(d / "elsewhere.conf", d / "resolv.conf");
  FilterSystemPathOptions o;
  o.resolver = ResolvConfWay(d);
  o.firewall = true;
  o.firewall_options.nft = "false";  // never reached: the resolver is refused first
  o.record_dir = d / "record";
  FilterSystemPath path(o);
  Status st = path.Engage("127.80.65.53", false);
  ASSERT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_EQ(st.message(), (d / "resolv.conf") + " is a symlink to '" + (d / "elsewhere.conf") +
                              "', managed by another program: the agent leaves it alone (set "
                              "system_resolver in agent.conf to the way this machine uses)");
  EXPECT_TRUE(fs::is_symlink(d / "resolv.conf"));
  EXPECT_EQ(*ReadFile(d / "elsewhere.conf"), "nameserver 192.0.2.53\n");
  EXPECT_FALSE(path.Engaged());
  EXPECT_FALSE(fs::exists(d / "record/firewall"));
}

TEST(SystemResolverTest, ResolvedWayWritesADropInAndRemovesIt) {
  Dir d;
  fs::create_directories(d / "run-resolve");
  ASSERT_TRUE(WriteFileAtomic(d / "run-resolve/resolv.conf",
                              "nameserver 192.0.2.1\nnameserver 127.0.0.53\n").ok());
  SystemResolverOptions o = ResolvConfWay(d);
  o.resolved_runtime = d / "run-resolve";
  o.resolved_dropin = d / "resolved.conf.d/preau-agent.conf";
  o.resolved_reload = "echo x >> " + (d / "reloads");
  SystemResolver sys(o);
  ASSERT_EQ(*sys.Choose(), SystemResolverOptions::Way::kResolved);
  ASSERT_TRUE(sys.Point("127.80.65.53").ok());
  std::string dropin = *ReadFile(d / "resolved.conf.d/preau-agent.conf");
  EXPECT_NE(dropin.find("[Resolve]\nDNS=127.80.65.53\nDomains=~.\n"), std::string::npos) << dropin;
  EXPECT_EQ(*ReadFile(d / "reloads"), "x\n");
  EXPECT_FALSE(fs::exists(d / "resolv.conf"));  // resolv.conf is not this way's business
  EXPECT_EQ(sys.OriginalUpstreams("127.80.65.53"), std::vector<std::string>{"192.0.2.1"});
  ASSERT_TRUE(sys.Restore().ok());
  EXPECT_FALSE(fs::exists(d / "resolved.conf.d/preau-agent.conf"));
  EXPECT_EQ(*ReadFile(d / "reloads"), "x\nx\n");
}

TEST(LinuxFirewallTest, ScriptKeepsDnsToTheAgentAndRefusesTheRest) {
  LinuxFirewall fw;
  auto s = fw.Script({{"127.80.65.53", "::1"}, {"192.0.2.10", "2001:db8::10"}});
  ASSERT_TRUE(s.ok());
  EXPECT_NE(s->find("meta mark 0x50524541 accept"), std::string::npos) << *s;
  EXPECT_NE(s->find("ip daddr { 127.80.65.53 } meta l4proto { tcp, udp } th dport 53 accept"),
            std::string::npos) << *s;
  EXPECT_NE(s->find("tcp dport { 53, 853 } reject with tcp reset"), std::string::npos);
  EXPECT_NE(s->find("elements = { 192.0.2.10 }"), std::string::npos);
  EXPECT_NE(s->find("elements = { 2001:db8::10 }"), std::string::npos);
  auto bad = fw.Script({{"127.0.0.1; flush ruleset"}, {}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "firewall: '127.0.0.1; flush ruleset' is not an IP address");
}

TEST(WebFilterRuleTest, SelfTestNameIsPerDeviceAndHour) {
  int64_t t = 1'790'000'000'000;  // 2026-09-21T14:13:20Z
  std::string a = SelfTestName("d-2d6e95822bc6", t);
  EXPECT_EQ(a, "h2026092114.d-2d6e95822bc6.selftest.preau.invalid");
  EXPECT_EQ(SelfTestName("d-2d6e95822bc6", t + 1000), a);
  EXPECT_NE(SelfTestName("d-2d6e95822bc6", t + 3'600'000), a);
  EXPECT_NE(SelfTestName("d-other", t), a);
  EXPECT_TRUE(IsSelfTestName(a));
  EXPECT_FALSE(IsSelfTestName("selftest.preau.invalid.example.com"));
}

}  // namespace
}  // namespace preau::agent
