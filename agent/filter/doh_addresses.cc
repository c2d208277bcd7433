#include "agent/filter/doh_addresses.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <map>
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

// One in-flight question: its name's index and qtype, and when it stops being waited for.
struct Pending {
  size_t name = 0;
  uint16_t qtype = 0;
  std::chrono::steady_clock::time_point deadline;
};

void CollectAddresses(const dns::ResponseInfo& info, std::set<std::string>& out) {
  for (const auto& r : info.answers) {
    char text[INET6_ADDRSTRLEN];
    if (r.type == dns::kTypeA && r.rdata.size() == 4) {
      out.insert(inet_ntop(AF_INET, r.rdata.data(), text, sizeof text));
    } else if (r.type == kTypeAaaa && r.rdata.size() == 16) {
      out.insert(inet_ntop(AF_INET6, r.rdata.data(), text, sizeof text));
    }
  }
}

// The A and AAAA addresses of `names` from `to`, at most `max_in_flight` questions
// outstanding on the one socket `fd` (ids tell the answers apart), each waited for up to
// `timeout_ms`: a 3,000-name list costs seconds, and never floods the upstream.
void LookupAll(int fd, const sockaddr_in& to, const std::vector<std::string>& names,
               int timeout_ms, size_t max_in_flight, const std::atomic<bool>* cancel,
               std::set<std::string>& out) {
  using Clock = std::chrono::steady_clock;
  static std::atomic<uint16_t> next_id{0x0d01};
  const size_t total = names.size() * 2;
  size_t sent = 0;
  std::map<uint16_t, Pending> in_flight;
  std::deque<uint16_t> order;  // ids by send time: the front times out first
  char buf[4096];
  while (sent < total || !in_flight.empty()) {
    if (cancel && cancel->load()) return;
    while (sent < total && in_flight.size() < std::max<size_t>(1, max_in_flight)) {
      uint16_t id = next_id++;
      if (in_flight.count(id)) break;  // wrapped onto a question still waited for
      Pending p{sent / 2, (sent % 2) ? kTypeAaaa : dns::kTypeA,
                Clock::now() + std::chrono::milliseconds(timeout_ms)};
      ++sent;
      std::string query = dns::BuildQuery(id, names[p.name], p.qtype, false);
      if (::sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                   sizeof to) < 0) {
        continue;  // counted as asked: an unreachable upstream ends the loop
      }
      in_flight.emplace(id, p);
      order.push_back(id);
    }
    while (!order.empty() && (!in_flight.count(order.front()) ||
                              in_flight.at(order.front()).deadline <= Clock::now())) {
      in_flight.erase(order.front());
      order.pop_front();
    }
    if (in_flight.empty()) continue;
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        in_flight.at(order.front()).deadline - Clock::now());
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(std::clamp<int64_t>(wait.count() + 1, 1, 250))) <= 0) {
      continue;
    }
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n <= 0) continue;
    if (from.sin_addr.s_addr != to.sin_addr.s_addr || from.sin_port != to.sin_port) continue;
    dns::ResponseInfo info;
    std::string error;
    if (!dns::ParseResponse(std::string_view(buf, static_cast<size_t>(n)), info, error)) continue;
    auto it = in_flight.find(info.header.id);
    if (it == in_flight.end()) continue;  // a late answer to a question given up on
    CollectAddresses(info, out);
    in_flight.erase(it);
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
                                             int timeout_ms, size_t max_in_flight,
                                             const std::atomic<bool>* cancel) {
  std::set<std::string> out;
  std::set<std::string> names;
  for (const auto& c : candidates) {
    filter::Decision d = snapshot.Decide(c);
    if (!d.blocked || d.kind != filter::RuleKind::kCategory || d.rule != "doh") continue;
    if (IsIpLiteral(c)) {
      out.insert(c);
    } else {
      names.insert(c);
    }
  }
  auto hp = ParseListenAddress(upstream);
  sockaddr_in to{};
  if (!names.empty() && hp.ok() && inet_pton(AF_INET, hp->first.c_str(), &to.sin_addr) == 1) {
    to.sin_family = AF_INET;
    to.sin_port = htons(hp->second);
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && (mark == 0 || ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0)) {
      LookupAll(fd, to, {names.begin(), names.end()}, timeout_ms, max_in_flight, cancel, out);
    }
    if (fd >= 0) ::close(fd);
  }
  return {out.begin(), out.end()};
}

}  // namespace preau::agent
