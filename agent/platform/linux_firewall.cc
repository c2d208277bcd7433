#include "agent/platform/linux_firewall.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "agent/platform/command_runner.h"
#include "common/files.h"

namespace preau::agent {

namespace {

constexpr std::chrono::seconds kNftTimeout{20};

// Splits IP literals by family; InvalidArgument for anything else.
Status ByFamily(const std::vector<std::string>& in, std::string* v4, std::string* v6) {
  for (const auto& a : in) {
    unsigned char buf[16];
    std::string* out = nullptr;
    if (inet_pton(AF_INET, a.c_str(), buf) == 1) out = v4;
    if (inet_pton(AF_INET6, a.c_str(), buf) == 1) out = v6;
    if (!out) return InvalidArgument("firewall: '" + a + "' is not an IP address");
    *out += (out->empty() ? "" : ", ") + a;
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> LinuxFirewall::Script(const FirewallRules& rules) const {
  std::string local4, local6, doh4, doh6;
  PREAU_RETURN_IF_ERROR(ByFamily(rules.local_resolvers, &local4, &local6));
  PREAU_RETURN_IF_ERROR(ByFamily(rules.doh_addresses, &doh4, &doh6));
  const std::string t = "inet " + options_.table;
  char mark[16];
  std::snprintf(mark, sizeof mark, "0x%08x", options_.mark);
  // Create-then-delete makes the delete valid whether or not the table existed; the whole
  // file is one transaction.
  std::string s = "table " + t + "\ndelete table " + t + "\ntable " + t + " {\n";
  s += "  set doh4 { type ipv4_addr; " + (doh4.empty() ? "" : "elements = { " + doh4 + " } ") + "}\n";
  s += "  set doh6 { type ipv6_addr; " + (doh6.empty() ? "" : "elements = { " + doh6 + " } ") + "}\n";
  s += "  chain output {\n    type filter hook output priority filter; policy accept;\n";
  s += "    meta mark " + std::string(mark) + " accept\n";
  if (!local4.empty()) s += "    ip daddr { " + local4 + " } meta l4proto { tcp, udp } th dport 53 accept\n";
  if (!local6.empty()) s += "    ip6 daddr { " + local6 + " } meta l4proto { tcp, udp } th dport 53 accept\n";
  s += "    tcp dport { 53, 853 } reject with tcp reset\n";
  s += "    udp dport { 53, 853 } reject\n";
  s += "    ip daddr @doh4 tcp dport 443 reject with tcp reset\n";
  s += "    ip daddr @doh4 udp dport 443 reject\n";
  s += "    ip6 daddr @doh6 tcp dport 443 reject with tcp reset\n";
  s += "    ip6 daddr @doh6 udp dport 443 reject\n";
  s += "  }\n}\n";
  return s;
}

Status LinuxFirewall::Install(const FirewallRules& rules) {
  PREAU_ASSIGN_OR_RETURN(std::string script, Script(rules));
  char name[] = "/tmp/preau-nft-XXXXXX";
  int fd = ::mkstemp(name);
  if (fd < 0) return Internal("firewall: cannot create a temporary file");
  ::close(fd);
  Status st = WriteFileAtomic(name, script, 0600);
  if (st.ok()) {
    st = RunCommandChecked("loading the firewall table", options_.nft + " -f {file}",
                           {{"file", name}}, kNftTimeout);
  }
  ::unlink(name);
  return st;
}

Status LinuxFirewall::Remove() {
  PREAU_ASSIGN_OR_RETURN(bool installed, Installed());
  if (!installed) return Status::Ok();
  return RunCommandChecked("removing the firewall table",
                           options_.nft + " delete table inet " + options_.table, {},
                           kNftTimeout);
}

Result<bool> LinuxFirewall::Installed() const {
  PREAU_ASSIGN_OR_RETURN(CommandOutput out,
                         RunCommand(options_.nft + " list table inet " + options_.table, {},
                                    kNftTimeout));
  if (out.exit_code == 0) return true;
  if (out.output.find("No such file") != std::string::npos) return false;
  return Unavailable("firewall: nft cannot list the table: " + out.output);
}

}  // namespace preau::agent
