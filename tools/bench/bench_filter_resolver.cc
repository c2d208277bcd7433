// The agent's filtering resolver as a standalone server, for dnsperf comparisons with
// dnsmasq and unbound (tools/bench/dns/compare.sh). Two modes:
//
//   bench_filter_resolver --ut1 DIR --port PORT --upstream 127.0.0.1:UPORT
//       loads the UT1 folder, blocks every "black" category, serves DNS on 127.0.0.1:PORT
//       (UDP and TCP) on one thread until SIGINT/SIGTERM;
//   bench_filter_resolver --fake-upstream PORT
//       a minimal upstream on 127.0.0.1:PORT answering every A query with 192.0.2.x
//       (TTL 3600) so that the resolvers under test never wait on the network.
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <boost/asio.hpp>

#include "agent/filter/dns_message.h"
#include "agent/filter/dns_resolver.h"
#include "common/filter/snapshot.h"

namespace {

using namespace preau;

// A UDP socket bound to 127.0.0.1:port, or -1 (with the reason on stderr).
int BindLoopbackUdp(uint16_t port, const char* who) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::fprintf(stderr, "%s: cannot bind 127.0.0.1:%u: %s\n", who, port, std::strerror(errno));
    return -1;
  }
  std::printf("%s on 127.0.0.1:%u\n", who, port);
  std::fflush(stdout);
  return fd;
}

int FakeUpstream(uint16_t port) {
  int fd = BindLoopbackUdp(port, "fake upstream");
  if (fd < 0) return 1;
  char buf[4096];
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) continue;
    std::string req(buf, static_cast<size_t>(n));
    agent::dns::ParsedQuery q = agent::dns::ParseQuery(req);
    if (q.outcome != agent::dns::ParseOutcome::kOk) continue;
    std::string ans = agent::dns::BuildBlockAnswer(req, q.query, 3600);
    if (q.query.qtype == agent::dns::kTypeA) {
      char addr[4] = {char(192), 0, 2, char(1 + std::hash<std::string>()(q.query.name) % 250)};
      ans.replace(q.query.question_end + 12, 4, addr, 4);
    }
    sendto(fd, ans.data(), ans.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}

// The floor for any UDP DNS server on this kernel: answers every query with its own bytes
// flagged as a REFUSED response, nothing parsed, no cache, no filter, batches of 64 in one
// blocking recvmmsg and one sendmmsg. Its CPU per query is what the kernel alone costs.
int EchoFloor(uint16_t port) {
  int fd = BindLoopbackUdp(port, "echo floor");
  if (fd < 0) return 1;
  constexpr int kBatch = 64;
  static char bufs[kBatch][512];
  sockaddr_in from[kBatch];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i], sizeof bufs[i]};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i) {
      if (msgs[i].msg_len < 12) continue;
      bufs[i][2] = static_cast<char>(bufs[i][2] | 0x80);               // QR
      bufs[i][3] = static_cast<char>((bufs[i][3] & 0xf0) | 5);         // REFUSED
      iov[i].iov_len = msgs[i].msg_len;
    }
    sendmmsg(fd, msgs, static_cast<unsigned>(n), 0);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string ut1, upstream;
  int port = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--fake-upstream") return FakeUpstream(static_cast<uint16_t>(std::atoi(argv[i + 1])));
    if (k == "--echo-floor") return EchoFloor(static_cast<uint16_t>(std::atoi(argv[i + 1])));
    if (k == "--ut1") ut1 = argv[i + 1];
    if (k == "--port") port = std::atoi(argv[i + 1]);
    if (k == "--upstream") upstream = argv[i + 1];
  }
  if (ut1.empty() || port == 0 || upstream.empty()) {
    std::fprintf(stderr,
                 "usage: %s --ut1 DIR --port PORT --upstream 127.0.0.1:PORT\n"
                 "       %s --fake-upstream PORT\n",
                 argv[0], argv[0]);
    return 2;
  }
  Result<filter::Ut1Data> data = filter::ReadUt1(ut1);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().message().c_str());
    return 1;
  }
  filter::FilterProfile profile;
  for (const auto& c : data->categories) {
    if (!c.IsWhite()) profile.blocked_categories.push_back(c.name);
  }
  Result<std::string> bytes = filter::BuildSnapshot(*data, profile, 1);
  if (!bytes.ok()) {
    std::fprintf(stderr, "%s\n", bytes.status().message().c_str());
    return 1;
  }
  auto snapshot = filter::Snapshot::Parse(*bytes);
  if (!snapshot.ok()) {
    std::fprintf(stderr, "%s\n", snapshot.status().message().c_str());
    return 1;
  }
  data = filter::Ut1Data();  // drop the strings: only the snapshot stays resident
  boost::asio::io_context io;
  agent::DnsResolverOptions o;
  o.listen_address = "127.0.0.1";
  o.listen_port = static_cast<uint16_t>(port);
  o.upstreams = {upstream};
  agent::DnsResolver resolver(io, o);
  resolver.UpdateSnapshot(*snapshot);
  Status st = resolver.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    resolver.Stop();
    io.stop();
  });
  std::printf("serving on 127.0.0.1:%d, %zu domains blocked in %zu categories\n", port,
              (*snapshot)->entry_count(), profile.blocked_categories.size());
  std::fflush(stdout);
  io.run();
  agent::DnsResolverStats s = resolver.Stats();
  std::printf("queries %lu blocked %lu forwarded %lu cache hits %lu\n",
              (unsigned long)s.queries, (unsigned long)s.blocked, (unsigned long)s.forwarded,
              (unsigned long)s.cache_hits);
  return 0;
}
