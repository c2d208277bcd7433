#include "agent/filter/doh_addresses.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <set>

#include "agent/config/agent_config.h"
#include "agent/filter/dns_message.h"

namespace preau::agent {

namespace {

constexpr uint16_t kTypeAaaa = 28;

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// One query, one answer: the A or AAAA addresses of `name` from `to`.
void Lookup(int fd, const sockaddr_in& to, const std::string& name, uint16_t qtype,
            int timeout_ms, std::set<std::string>& out) {
  static std::atomic<uint16_t> next_id{0x0d01};
  uint16_t id = next_id++;
  std::string query = dns::BuildQuery(id, name, qtype, false);
  if (::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&to),
               sizeof to) < 0) {
    return;
  }
  pollfd p{fd, POLLIN, 0};
  char buf[4096];
  while (::poll(&p, 1, timeout_ms) > 0) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    dns::ResponseInfo info;
    std::string error;
    if (!dns::ParseResponse(std::string_view(buf, static_cast<size_t>(n)), info, error)) continue;
    if (info.header.id != id) continue;  // a late answer to an earlier question
    for (const auto& r : info.answers) {
      char text[INET6_ADDRSTRLEN];
      if (r.type == dns::kTypeA && r.rdata.size() == 4) {
        out.insert(inet_ntop(AF_INET, r.rdata.data(), text, sizeof text));
      } else if (r.type == kTypeAaaa && r.rdata.size() == 16) {
        out.insert(inet_ntop(AF_INET6, r.rdata.data(), text, sizeof text));
      }
    }
    return;
  }
}

}  // namespace

const std::vector<std::string>& WellKnownDohEndpoints() {
  static const std::vector<std::string> kList = {
      "dns.google",          "dns.google.com",       "8.8.8.8",
      "8.8.4.4",             "cloudflare-dns.com",   "mozilla.cloudflare-dns.com",
      "chrome.cloudflare-dns.com", "one.one.one.one", "1.1.1.1",
      "1.0.0.1",             "dns.quad9.net",        "dns11.quad9.net",
      "9.9.9.9",             "149.112.112.112",      "doh.opendns.com",
      "dns.adguard.com",     "dns.adguard-dns.com",  "doh.cleanbrowsing.org",
      "dns.nextdns.io",      "doh.mullvad.net",      "dns.controld.com"};
  return kList;
}

std::vector<std::string> ResolveDohAddresses(const std::vector<std::string>& candidates,
                                             const filter::Snapshot& snapshot,
                                             const std::string& upstream, uint32_t mark,
                                             int timeout_ms) {
  std::set<std::string> out;
  std::vector<std::string> names;
  for (const auto& c : candidates) {
    filter::Decision d = snapshot.Decide(c);
    if (!d.blocked || d.kind != filter::RuleKind::kCategory || d.rule != "doh") continue;
    if (IsIpLiteral(c)) {
      out.insert(c);
    } else {
      names.push_back(c);
    }
  }
  auto hp = ParseListenAddress(upstream);
  sockaddr_in to{};
  if (!names.empty() && hp.ok() && inet_pton(AF_INET, hp->first.c_str(), &to.sin_addr) == 1) {
    to.sin_family = AF_INET;
    to.sin_port = htons(hp->second);
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && (mark == 0 || ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0)) {
      for (const auto& n : names) {
        Lookup(fd, to, n, dns::kTypeA, timeout_ms, out);
        Lookup(fd, to, n, kTypeAaaa, timeout_ms, out);
      }
    }
    if (fd >= 0) ::close(fd);
  }
  return {out.begin(), out.end()};
}

}  // namespace preau::agent
