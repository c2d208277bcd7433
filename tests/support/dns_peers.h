// DNS peers for the resolver's and the filter's tests, over real UDP on loopback: a fake
// upstream server that answers what a test's responder says, and a client that asks and
// decodes; and the filter tests' shared fixture names. Header only, so that both the unit
// tests and the integration tests (which link different libraries) use the same ones.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/filter/dns_message.h"

namespace preau::testing {

// What the filter's integration tests (filter_test, filter_netns_test) share: the UT1
// extract they import, the class they put devices in, and a name of its gambling list.
inline constexpr const char* kUt1 = PREAU_SOURCE_DIR "/tests/data/ut1";
inline constexpr const char* kClass = "ville/jules-ferry/cm2-a";
inline constexpr const char* kCasino = "000-online-casino.com";  // in gambling/domains

inline sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A DNS server on 127.0.0.1:0, on its own thread. `respond` turns a well-formed query into
// the bytes to send back ("" sends nothing). It can be told to go silent (an upstream
// that is down) and counts the queries it received.
class FakeDnsServer {
 public:
  using Responder =
      std::function<std::string(const std::string& request, const agent::dns::Query& query)>;

  explicit FakeDnsServer(Responder respond) : respond_(std::move(respond)) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a = Loopback(0);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  // On a UDP socket already bound elsewhere (another network namespace, port 53); owns it.
  FakeDnsServer(int bound_fd, Responder respond) : respond_(std::move(respond)), fd_(bound_fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeDnsServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void SetSilent(bool s) { silent_ = s; }
  int queries() const { return queries_; }

 private:
  void Run() {
    char buf[4096];
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) <= 0) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      ++queries_;
      if (silent_) continue;
      std::string req(buf, static_cast<size_t>(n));
      agent::dns::ParsedQuery q = agent::dns::ParseQuery(req);
      if (q.outcome != agent::dns::ParseOutcome::kOk) continue;
      std::string ans = respond_(req, q.query);
      if (ans.empty()) continue;
      sendto(fd_, ans.data(), ans.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  Responder respond_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false}, silent_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

// An A answer for `name`: the block answer's shape with `address` (4 bytes) patched in.
inline std::string AddressAnswer(const std::string& request, const agent::dns::Query& q,
                                 const std::string& address, uint32_t ttl = 300) {
  std::string ans = agent::dns::BuildBlockAnswer(request, q, ttl);
  ans.replace(q.question_end + 12, 4, address);
  return ans;
}

// What a client makes of a response.
struct DnsAnswer {
  bool received = false;
  uint8_t rcode = 0;
  bool tc = false;
  uint16_t id = 0;
  std::vector<std::string> addresses;  // A/AAAA rdata, raw
  std::vector<std::string> cnames;     // CNAME targets

  // The resolver's block answer for an A query: one address, 0.0.0.0.
  bool Blocked() const {
    return received && addresses.size() == 1 && addresses[0] == std::string(4, '\0');
  }
  // The last address is `dotted` ("192.0.2.7").
  bool AnsweredWith(const std::string& dotted) const {
    if (!received || addresses.empty() || addresses.back().size() != 4) return false;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, addresses.back().data(), text, sizeof text);
    return dotted == text;
  }
};

inline DnsAnswer DecodeDnsAnswer(const std::string& msg) {
  DnsAnswer a;
  agent::dns::ResponseInfo info;
  std::string error;
  if (!agent::dns::ParseResponse(msg, info, error)) return a;
  a.received = true;
  a.rcode = info.header.rcode();
  a.tc = info.header.tc();
  a.id = info.header.id;
  for (const auto& r : info.answers) {
    if (r.type == agent::dns::kTypeCname) {
      std::string t, e;
      size_t next = 0;
      agent::dns::ReadName(r.rdata, 0, t, next, e);
      a.cnames.push_back(t);
    } else {
      a.addresses.push_back(r.rdata);
    }
  }
  return a;
}

// Our own client: one UDP socket; waits up to `timeout_ms` for the answer with the id of
// what it sent (a stale answer to an earlier query is skipped).
class DnsUdpClient {
 public:
  explicit DnsUdpClient(uint16_t port) : to_(Loopback(port)) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
  }
  ~DnsUdpClient() { close(fd_); }
  DnsUdpClient(const DnsUdpClient&) = delete;
  DnsUdpClient& operator=(const DnsUdpClient&) = delete;

  std::optional<std::string> Exchange(const std::string& msg, int timeout_ms = 3000) {
    sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&to_), sizeof to_);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, std::max(left, 1)) <= 0) continue;
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n < 2) continue;
      if (msg.size() >= 2 && (buf[0] != msg[0] || buf[1] != msg[1])) continue;  // stale
      return std::string(buf, static_cast<size_t>(n));
    }
    return std::nullopt;
  }
  DnsAnswer Ask(const std::string& name, uint16_t type = agent::dns::kTypeA) {
    std::string q = agent::dns::BuildQuery(++id_, name, type, false);
    auto r = Exchange(q);
    return r ? DecodeDnsAnswer(*r) : DnsAnswer{};
  }

 private:
  int fd_;
  sockaddr_in to_;
  uint16_t id_ = 100;
};

}  // namespace preau::testing
