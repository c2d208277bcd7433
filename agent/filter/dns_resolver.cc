#include <utility>  // before any Boost.Asio header (GCC 12 and boost/asio/awaitable.hpp)

#include "agent/filter/dns_resolver.h"

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio.hpp>

#include "agent/filter/dns_message.h"
#include "agent/filter/web_filter_rule.h"
#include "common/filter/domain_hash.h"
#include "common/filter/domain_name.h"

namespace preau::agent {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using filter::SuffixHashes;

// --- safe search ---------------------------------------------------------------------------

namespace {

bool IsPlausibleTld(std::string_view s) {
  if (s.empty() || s.size() > 10 || s.front() == '.' || s.back() == '.') return false;
  int dots = 0;
  for (char c : s) {
    if (c == '.') {
      if (++dots > 1) return false;
    } else if (c < 'a' || c > 'z') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string SafeSearchTarget(const std::string& name) {
  // Google's country sites: www.google.com, www.google.fr, www.google.co.uk...
  static constexpr std::string_view kGoogle = "www.google.";
  if (name.size() > kGoogle.size() && name.compare(0, kGoogle.size(), kGoogle) == 0 &&
      IsPlausibleTld(std::string_view(name).substr(kGoogle.size()))) {
    return "forcesafesearch.google.com";
  }
  static const std::unordered_map<std::string, std::string> kExact = {
      {"www.youtube.com", "restrict.youtube.com"},
      {"m.youtube.com", "restrict.youtube.com"},
      {"youtubei.googleapis.com", "restrict.youtube.com"},
      {"youtube.googleapis.com", "restrict.youtube.com"},
      {"www.youtube-nocookie.com", "restrict.youtube.com"},
      {"www.bing.com", "strict.bing.com"},
      {"duckduckgo.com", "safe.duckduckgo.com"},
      {"www.duckduckgo.com", "safe.duckduckgo.com"},
  };
  auto it = kExact.find(name);
  return it == kExact.end() ? std::string() : it->second;
}

// --- shared state ----------------------------------------------------------------------------

namespace {

constexpr size_t kDenyListSlot = 256;  // counter slot for the deny list
// Firefox asks for this name before turning DNS over HTTPS on by itself; NXDOMAIN tells it
// that the network filters DNS, which keeps the filter from being walked around.
constexpr std::string_view kDohCanary = "use-application-dns.net";

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Totals of filter states that are gone (a swapped-out snapshot folds its counts in here).
struct CountSink {
  std::mutex mu;
  std::map<std::string, uint64_t> totals;
};

// One snapshot + the profile in force, with the counters of what it blocked. Counting in
// the state itself keeps the hot path free of locks; the destructor folds the counts by
// category name, so a swap loses none.
struct FilterState {
  std::shared_ptr<const filter::Snapshot> snapshot;
  std::shared_ptr<const filter::CompiledProfile> profile_override;
  const filter::CompiledProfile* profile = nullptr;
  std::optional<filter::FilterProfile> profile_spec;
  std::shared_ptr<CountSink> sink;
  mutable std::array<std::atomic<uint64_t>, 257> counts{};
  int doh_category = -1;  // the `doh` category's id in this snapshot, -1 if none

  std::string SlotName(size_t i) const {
    if (i == kDenyListSlot) return "deny list";
    const auto& cats = snapshot->categories();
    return i < cats.size() ? cats[i].name : "category " + std::to_string(i);
  }
  ~FilterState() {
    if (!sink || !snapshot) return;
    std::lock_guard<std::mutex> lock(sink->mu);
    for (size_t i = 0; i < counts.size(); ++i) {
      uint64_t n = counts[i].load(std::memory_order_relaxed);
      if (n != 0) sink->totals[SlotName(i)] += n;
    }
  }
};

struct AllowState {
  std::unordered_map<uint64_t, int64_t> expiry_by_hash;  // HashDomain(domain) -> unix ms
};

Result<udp::endpoint> ParseUpstream(const std::string& s) {
  std::string host = s;
  uint16_t port = 53;
  // "1.2.3.4:53", "[::1]:53" or a bare address.
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos) return InvalidArgument("upstream '" + s + "': missing ']'");
    host = s.substr(1, close - 1);
    if (close + 1 < s.size() && s[close + 1] == ':') port = std::stoi(s.substr(close + 2));
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    host = s.substr(0, s.find(':'));
    try {
      port = static_cast<uint16_t>(std::stoi(s.substr(s.find(':') + 1)));
    } catch (const std::exception&) {
      return InvalidArgument("upstream '" + s + "': bad port");
    }
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument("upstream '" + s + "': not an IP address");
  return udp::endpoint(addr, port);
}

// True if two messages carry the same question, ignoring letter case.
bool SameQuestion(std::string_view a, std::string_view b, size_t question_end) {
  if (a.size() < question_end || b.size() < question_end) return false;
  for (size_t i = dns::kHeaderSize; i < question_end; ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

// --- implementation --------------------------------------------------------------------------

class DnsResolver::Impl : public std::enable_shared_from_this<DnsResolver::Impl> {
 public:
  Impl(asio::io_context& io, DnsResolverOptions options)
      : options_(std::move(options)),
        strand_(asio::make_strand(io)),
        udp_(strand_),
        acceptor_(strand_),
        up4_(strand_),
        up6_(strand_),
        sweep_(strand_),
        rng_(std::random_device{}()),
        sink_(std::make_shared<CountSink>()) {
    auto empty = std::make_shared<FilterState>();
    empty->sink = sink_;
    std::atomic_store(&state_, std::shared_ptr<const FilterState>(empty));
  }
  void SetFailMode(FailMode mode) { fail_mode_.store(mode, std::memory_order_relaxed); }

  Status Start();
  void Stop();
  uint16_t port() const { return port_.load(); }
  void UpdateSnapshot(std::shared_ptr<const filter::Snapshot> snapshot);
  Status SetProfile(std::optional<filter::FilterProfile> profile);
  Status SetAllowOverrides(const std::vector<AllowOverride>& overrides);
  std::map<std::string, uint64_t> BlockedCounts() const;
  DnsResolverStats Stats() const;

 private:
  class TcpConn;
  // Where an answer goes: a UDP client or a TCP connection.
  struct ReplyTo {
    udp::endpoint udp_ep;
    std::weak_ptr<TcpConn> tcp;
    bool is_tcp = false;
    size_t udp_limit = 512;
  };
  struct Pending {
    ReplyTo to;
    dns::Query query;
    std::string request;     // the client's bytes (for the question and its id)
    std::string target;      // safe-search host, or empty
    uint64_t cache_key = 0;
    std::string upstream_query;
    udp::endpoint upstream;
    int attempt = 0;
    size_t first_upstream = 0;
    int64_t deadline_ms = 0;
  };
  struct CacheEntry {
    std::string response;
    std::vector<uint16_t> ttl_offsets;
    size_t question_end = 0;
    int64_t stored_ms = 0;
    uint32_t ttl = 0;
  };

  Result<std::shared_ptr<FilterState>> MakeState(
      std::shared_ptr<const filter::Snapshot> snapshot,
      std::optional<filter::FilterProfile> profile) const;
  void Install(std::shared_ptr<FilterState> s);

  void ArmUdp();
  void DrainUdp();
  void Accept();
  void ArmUpstream(udp::socket& sock, std::shared_ptr<std::vector<char>> buf);
  void OnUpstream(std::string_view msg, const udp::endpoint& from);
  void ArmSweep();
  void Sweep();

  // A query read from the wire, between screening and the filter's verdict.
  struct Screened {
    std::string_view msg;
    ReplyTo to;
    dns::Query query;
  };
  // Answers what needs no filter lookup (malformed, no snapshot, DoH canary, a teacher's
  // allow) and returns false; returns true when `out` must go through the matcher.
  bool Screen(std::string_view msg, bool truncated, const ReplyTo& to, const FilterState& state,
              Screened& out, SuffixHashes& suffixes);
  // Answers a screened query once the matcher has judged it.
  void Answer(const Screened& q, const filter::Verdict& v, const FilterState& state);
  // One query end to end (TCP: queries come one at a time).
  void HandleQuery(std::string_view msg, bool truncated, const ReplyTo& to,
                   const FilterState& state);
  void Forward(const dns::Query& q, std::string_view request, const ReplyTo& to,
               const std::string& target);
  void SendUpstream(Pending& p);
  void Send(const ReplyTo& to, std::string msg, size_t question_end);
  void FailUpstream(Pending& p);
  std::optional<std::string> FromCache(uint64_t key, const dns::Query& q,
                                       std::string_view request, const std::string& target,
                                       bool allow_stale);
  void CacheStore(uint64_t key, std::string_view msg, const dns::ResponseInfo& info);
  bool AllowedByOverride(const SuffixHashes& s) const;

  DnsResolverOptions options_;
  // Separate from options_ so that the policy can change it while queries run.
  std::atomic<FailMode> fail_mode_{options_.fail_mode};
  asio::strand<asio::io_context::executor_type> strand_;
  udp::socket udp_;
  tcp::acceptor acceptor_;
  udp::socket up4_, up6_;
  asio::steady_timer sweep_;
  bool sweep_armed_ = false;
  std::vector<udp::endpoint> upstreams_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint16_t> port_{0};
  std::mt19937 rng_;

  std::shared_ptr<const FilterState> state_;          // atomic_load / atomic_store
  std::shared_ptr<const AllowState> allow_;           // atomic_load / atomic_store
  std::mutex update_mu_;                              // serialises writers of state_
  std::shared_ptr<CountSink> sink_;

  std::unordered_map<uint16_t, Pending> pending_;
  // Keyed by a 64-bit hash of (name, type, EDNS); hits are checked against the question.
  std::unordered_map<uint64_t, CacheEntry> cache_;
  std::deque<uint64_t> cache_order_;
  std::unordered_set<std::shared_ptr<TcpConn>> conns_;

  // UDP batch buffers (used only inside DrainUdp, on the strand).
  static constexpr int kBatch = 32;
  std::vector<std::array<char, dns::kMaxUdpPayload + 1>> rx_{kBatch};
  std::array<sockaddr_storage, kBatch> rx_addr_{};
  std::array<iovec, kBatch> rx_iov_{};
  std::array<mmsghdr, kBatch> rx_msg_{};
  std::vector<Screened> screened_{kBatch};
  std::array<SuffixHashes, kBatch> batch_suffixes_{};
  std::array<filter::Verdict, kBatch> verdicts_{};
  bool batching_ = false;
  std::vector<std::pair<udp::endpoint, std::string>> tx_;

  struct Counters {
    std::atomic<uint64_t> queries{0}, blocked{0}, safe_search{0}, forwarded{0}, cache_hits{0},
        upstream_failures{0}, malformed{0}, self_tests{0};
  } c_;
  mutable std::mutex self_test_mu_;
  std::string last_self_test_;
  std::set<std::string> doh_names_;  // guarded by self_test_mu_

 public:
  void NoteDohName(const std::string& name) {
    std::lock_guard<std::mutex> lock(self_test_mu_);
    if (doh_names_.size() < kMaxDohNames) doh_names_.insert(name);
  }
  std::vector<std::string> DohNamesSeen() const {
    std::lock_guard<std::mutex> lock(self_test_mu_);
    return {doh_names_.begin(), doh_names_.end()};
  }
  static constexpr size_t kMaxDohNames = 1024;
};

// A TCP client connection: length-prefixed queries (RFC 7766), answered in any order.
class DnsResolver::Impl::TcpConn : public std::enable_shared_from_this<TcpConn> {
 public:
  TcpConn(std::shared_ptr<Impl> owner, tcp::socket sock)
      : owner_(std::move(owner)), sock_(std::move(sock)), idle_(owner_->strand_) {}

  void Start() {
    ResetIdle();
    ReadLength();
  }
  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    sock_.close(ec);
    idle_.cancel();
    owner_->conns_.erase(shared_from_this());
  }
  void Write(std::string msg) {
    if (closed_ || msg.size() > 65535) return;
    std::string framed;
    framed.reserve(msg.size() + 2);
    framed.push_back(static_cast<char>(msg.size() >> 8));
    framed.push_back(static_cast<char>(msg.size() & 0xff));
    framed += msg;
    writes_.push_back(std::move(framed));
    if (writes_.size() == 1) WriteNext();
  }

 private:
  void ResetIdle() {
    idle_.expires_after(std::chrono::milliseconds(owner_->options_.tcp_idle_ms));
    idle_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->Close();
    });
  }
  void ReadLength() {
    asio::async_read(sock_, asio::buffer(len_),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec || self->closed_) return self->Close();
                       size_t n = (size_t{self->len_[0]} << 8) | self->len_[1];
                       if (n < dns::kHeaderSize) return self->Close();
                       self->msg_.resize(n);
                       self->ReadBody();
                     });
  }
  void ReadBody() {
    asio::async_read(sock_, asio::buffer(msg_),
                     [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                       if (ec || self->closed_) return self->Close();
                       self->ResetIdle();
                       ReplyTo to;
                       to.is_tcp = true;
                       to.tcp = self;
                       auto state = std::atomic_load(&self->owner_->state_);
                       self->owner_->HandleQuery(self->msg_, false, to, *state);
                       self->ReadLength();
                     });
  }
  void WriteNext() {
    asio::async_write(sock_, asio::buffer(writes_.front()),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        if (ec) return self->Close();
                        self->writes_.pop_front();
                        if (!self->writes_.empty()) self->WriteNext();
                      });
  }

  std::shared_ptr<Impl> owner_;
  tcp::socket sock_;
  asio::steady_timer idle_;
  std::array<uint8_t, 2> len_{};
  std::string msg_;
  std::deque<std::string> writes_;
  bool closed_ = false;
};

Status DnsResolver::Impl::Start() {
  for (const auto& u : options_.upstreams) {
    PREAU_ASSIGN_OR_RETURN(udp::endpoint ep, ParseUpstream(u));
    upstreams_.push_back(ep);
  }
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(options_.listen_address, ec);
  if (ec) return InvalidArgument("listen address '" + options_.listen_address + "' is not an IP");
  std::string where = options_.listen_address + ":" + std::to_string(options_.listen_port);
  // With port 0, UDP picks a free port and TCP must get the same one: retry a few times.
  for (int attempt = 0; attempt < 20; ++attempt) {
    udp_.open(addr.is_v4() ? udp::v4() : udp::v6(), ec);
    if (!ec) udp_.bind(udp::endpoint(addr, options_.listen_port), ec);
    if (ec) return Unavailable("DNS resolver: cannot bind UDP " + where + ": " + ec.message());
    uint16_t port = udp_.local_endpoint().port();
    acceptor_.open(addr.is_v4() ? tcp::v4() : tcp::v6(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(tcp::endpoint(addr, port), ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) {
      port_ = port;
      break;
    }
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    udp_.close(ignored);
    if (options_.listen_port != 0) {
      return Unavailable("DNS resolver: cannot listen on TCP " + where + ": " + ec.message());
    }
  }
  if (port_ == 0) return Unavailable("DNS resolver: no port free for both UDP and TCP");
  udp_.non_blocking(true, ec);
  for (const auto& u : upstreams_) {
    udp::socket& s = u.address().is_v4() ? up4_ : up6_;
    if (!s.is_open()) {
      s.open(u.address().is_v4() ? udp::v4() : udp::v6(), ec);
      if (ec) return Unavailable("DNS resolver: cannot open upstream socket: " + ec.message());
      uint32_t mark = options_.upstream_mark;
      if (mark != 0 &&
          ::setsockopt(s.native_handle(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
        return Unavailable(std::string("DNS resolver: cannot mark the upstream socket "
                                       "(SO_MARK needs CAP_NET_ADMIN): ") + std::strerror(errno));
      }
    }
  }
  asio::post(strand_, [self = shared_from_this()] {
    self->ArmUdp();
    self->Accept();
    if (self->up4_.is_open()) {
      self->ArmUpstream(self->up4_, std::make_shared<std::vector<char>>(65536));
    }
    if (self->up6_.is_open()) {
      self->ArmUpstream(self->up6_, std::make_shared<std::vector<char>>(65536));
    }
  });
  return Status::Ok();
}

void DnsResolver::Impl::Stop() {
  if (stopped_.exchange(true)) return;
  asio::post(strand_, [self = shared_from_this()] {
    boost::system::error_code ec;
    self->udp_.close(ec);
    self->acceptor_.close(ec);
    self->up4_.close(ec);
    self->up6_.close(ec);
    self->sweep_.cancel();
    auto conns = self->conns_;
    for (const auto& c : conns) c->Close();
    self->pending_.clear();
  });
}

// --- filter state ----------------------------------------------------------------------------

Result<std::shared_ptr<FilterState>> DnsResolver::Impl::MakeState(
    std::shared_ptr<const filter::Snapshot> snapshot,
    std::optional<filter::FilterProfile> profile) const {
  auto s = std::make_shared<FilterState>();
  s->sink = sink_;
  s->snapshot = std::move(snapshot);
  s->profile_spec = std::move(profile);
  if (s->snapshot && s->profile_spec) {
    std::vector<std::string> names;
    for (const auto& c : s->snapshot->categories()) names.push_back(c.name);
    PREAU_ASSIGN_OR_RETURN(filter::CompiledProfile p,
                           filter::CompiledProfile::Compile(*s->profile_spec, names));
    s->profile_override = std::make_shared<filter::CompiledProfile>(std::move(p));
    s->profile = s->profile_override.get();
  } else if (s->snapshot) {
    s->profile = &s->snapshot->profile();
  }
  if (s->snapshot) {
    const auto& cats = s->snapshot->categories();
    for (size_t i = 0; i < cats.size(); ++i) {
      if (cats[i].name == "doh") s->doh_category = static_cast<int>(i);
    }
  }
  return s;
}

void DnsResolver::Impl::Install(std::shared_ptr<FilterState> s) {
  std::atomic_store(&state_, std::shared_ptr<const FilterState>(std::move(s)));
}

void DnsResolver::Impl::UpdateSnapshot(std::shared_ptr<const filter::Snapshot> snapshot) {
  std::lock_guard<std::mutex> lock(update_mu_);
  auto cur = std::atomic_load(&state_);
  Result<std::shared_ptr<FilterState>> s = MakeState(snapshot, cur->profile_spec);
  if (!s.ok()) s = MakeState(std::move(snapshot), std::nullopt);  // override no longer fits
  Install(std::move(*s));
}

Status DnsResolver::Impl::SetProfile(std::optional<filter::FilterProfile> profile) {
  std::lock_guard<std::mutex> lock(update_mu_);
  auto cur = std::atomic_load(&state_);
  PREAU_ASSIGN_OR_RETURN(std::shared_ptr<FilterState> s,
                         MakeState(cur->snapshot, std::move(profile)));
  Install(std::move(s));
  return Status::Ok();
}

Status DnsResolver::Impl::SetAllowOverrides(const std::vector<AllowOverride>& overrides) {
  auto a = std::make_shared<AllowState>();
  for (const auto& o : overrides) {
    Result<std::string> d = filter::NormalizeDomain(o.domain);
    if (!d.ok()) return d.status().Context("allow override");
    int64_t& e = a->expiry_by_hash[filter::HashDomain(*d)];
    e = std::max(e, o.expires_unix_ms);
  }
  std::atomic_store(&allow_, std::shared_ptr<const AllowState>(std::move(a)));
  return Status::Ok();
}

bool DnsResolver::Impl::AllowedByOverride(const SuffixHashes& s) const {
  auto a = std::atomic_load(&allow_);
  if (!a || a->expiry_by_hash.empty()) return false;
  int64_t now = options_.clock->NowUnixMs();
  for (int i = s.count - 1; i >= 0; --i) {
    auto it = a->expiry_by_hash.find(s.hash[i]);
    if (it != a->expiry_by_hash.end() && it->second > now) return true;
  }
  return false;
}

std::map<std::string, uint64_t> DnsResolver::Impl::BlockedCounts() const {
  auto cur = std::atomic_load(&state_);
  std::map<std::string, uint64_t> out;
  {
    std::lock_guard<std::mutex> lock(sink_->mu);
    out = sink_->totals;
  }
  if (cur->snapshot) {
    for (size_t i = 0; i < cur->counts.size(); ++i) {
      uint64_t n = cur->counts[i].load(std::memory_order_relaxed);
      if (n != 0) out[cur->SlotName(i)] += n;
    }
  }
  return out;
}

DnsResolverStats DnsResolver::Impl::Stats() const {
  DnsResolverStats s;
  s.queries = c_.queries.load();
  s.blocked = c_.blocked.load();
  s.safe_search = c_.safe_search.load();
  s.forwarded = c_.forwarded.load();
  s.cache_hits = c_.cache_hits.load();
  s.upstream_failures = c_.upstream_failures.load();
  s.malformed = c_.malformed.load();
  s.self_tests = c_.self_tests.load();
  std::lock_guard<std::mutex> lock(self_test_mu_);
  s.last_self_test = last_self_test_;
  return s;
}

// --- receiving -------------------------------------------------------------------------------

void DnsResolver::Impl::ArmUdp() {
  if (stopped_) return;
  udp_.async_wait(udp::socket::wait_read,
                  [self = shared_from_this()](const boost::system::error_code& ec) {
                    if (ec || self->stopped_) return;
                    self->DrainUdp();
                    self->ArmUdp();
                  });
}

// Reads queries in batches (recvmmsg) and sends the immediate answers in batches
// (sendmmsg): two system calls for up to 32 queries instead of 64.
void DnsResolver::Impl::DrainUdp() {
  const int fd = udp_.native_handle();
  auto state = std::atomic_load(&state_);
  for (int round = 0; round < 16; ++round) {
    for (int i = 0; i < kBatch; ++i) {
      rx_iov_[i] = {rx_[i].data(), rx_[i].size()};
      std::memset(&rx_msg_[i], 0, sizeof(mmsghdr));
      rx_msg_[i].msg_hdr.msg_name = &rx_addr_[i];
      rx_msg_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      rx_msg_[i].msg_hdr.msg_iov = &rx_iov_[i];
      rx_msg_[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(fd, rx_msg_.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) break;
    batching_ = true;
    // Screen the burst, then match every name in it at once: the matcher overlaps the
    // memory loads of the whole burst instead of waiting on them name by name.
    size_t m = 0;
    for (int i = 0; i < n; ++i) {
      ReplyTo to;
      std::memcpy(to.udp_ep.data(), &rx_addr_[i], rx_msg_[i].msg_hdr.msg_namelen);
      size_t len = rx_msg_[i].msg_len;
      bool truncated = (rx_msg_[i].msg_hdr.msg_flags & MSG_TRUNC) || len > dns::kMaxUdpPayload;
      std::string_view msg(rx_[i].data(), std::min(len, dns::kMaxUdpPayload));
      if (Screen(msg, truncated, to, *state, screened_[m], batch_suffixes_[m])) ++m;
    }
    if (m > 0) {
      state->snapshot->matcher().CheckBatch(batch_suffixes_.data(), m, *state->profile,
                                            verdicts_.data());
      for (size_t i = 0; i < m; ++i) Answer(screened_[i], verdicts_[i], *state);
    }
    batching_ = false;
    if (!tx_.empty()) {
      std::vector<mmsghdr> msgs(tx_.size());
      std::vector<iovec> iov(tx_.size());
      for (size_t i = 0; i < tx_.size(); ++i) {
        iov[i] = {tx_[i].second.data(), tx_[i].second.size()};
        std::memset(&msgs[i], 0, sizeof(mmsghdr));
        msgs[i].msg_hdr.msg_name = tx_[i].first.data();
        msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(tx_[i].first.size());
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      size_t sent = 0;
      while (sent < msgs.size()) {
        int r = ::sendmmsg(fd, msgs.data() + sent, static_cast<unsigned>(msgs.size() - sent), 0);
        if (r <= 0) break;  // socket buffer full: the client will retry
        sent += static_cast<size_t>(r);
      }
      tx_.clear();
    }
    if (n < kBatch) break;
  }
}

void DnsResolver::Impl::Accept() {
  if (stopped_) return;
  acceptor_.async_accept(strand_, [self = shared_from_this()](
                                      const boost::system::error_code& ec, tcp::socket sock) {
    if (self->stopped_) return;
    if (!ec) {
      if (self->conns_.size() >= self->options_.max_tcp_connections) {
        boost::system::error_code ignored;
        sock.close(ignored);
      } else {
        auto conn = std::make_shared<TcpConn>(self, std::move(sock));
        self->conns_.insert(conn);
        conn->Start();
      }
    }
    self->Accept();
  });
}

void DnsResolver::Impl::ArmUpstream(udp::socket& sock, std::shared_ptr<std::vector<char>> buf) {
  if (stopped_) return;
  auto from = std::make_shared<udp::endpoint>();
  sock.async_receive_from(
      asio::buffer(*buf), *from,
      [self = shared_from_this(), &sock, buf, from](const boost::system::error_code& ec,
                                                    size_t n) {
        if (self->stopped_ || ec == asio::error::operation_aborted) return;
        if (!ec) self->OnUpstream(std::string_view(buf->data(), n), *from);
        self->ArmUpstream(sock, buf);
      });
}

// --- answering -------------------------------------------------------------------------------

void DnsResolver::Impl::Send(const ReplyTo& to, std::string msg, size_t question_end) {
  if (to.is_tcp) {
    if (auto conn = to.tcp.lock()) conn->Write(std::move(msg));
    return;
  }
  if (msg.size() > to.udp_limit) dns::Truncate(msg, question_end);
  if (batching_) {
    tx_.emplace_back(to.udp_ep, std::move(msg));
    return;
  }
  boost::system::error_code ec;
  udp_.send_to(asio::buffer(msg), to.udp_ep, 0, ec);  // non-blocking; a loss is retried
}

bool DnsResolver::Impl::Screen(std::string_view msg, bool truncated, const ReplyTo& in,
                              const FilterState& state, Screened& out,
                              SuffixHashes& suffixes) {
  ReplyTo to = in;
  if (truncated) {
    c_.malformed.fetch_add(1, std::memory_order_relaxed);
    dns::Header h;
    if (dns::ReadHeader(msg, h) && !h.qr()) {
      Send(to, dns::BuildHeaderOnlyError(msg, dns::kFormErr), dns::kHeaderSize);
    }
    return false;
  }
  dns::ParsedQuery p = dns::ParseQuery(msg);
  switch (p.outcome) {
    case dns::ParseOutcome::kOk:
      break;
    case dns::ParseOutcome::kDrop:
      c_.malformed.fetch_add(1, std::memory_order_relaxed);
      return false;
    case dns::ParseOutcome::kFormErr:
    case dns::ParseOutcome::kNotImp:
      c_.malformed.fetch_add(1, std::memory_order_relaxed);
      Send(to,
           dns::BuildHeaderOnlyError(
               msg, p.outcome == dns::ParseOutcome::kNotImp ? dns::kNotImp : dns::kFormErr),
           dns::kHeaderSize);
      return false;
  }
  const dns::Query& q = p.query;
  to.udp_limit = q.udp_size;
  c_.queries.fetch_add(1, std::memory_order_relaxed);
  if (IsSelfTestName(q.name)) {
    // The web_filter rule's probe: answered here, never cached (TTL 0), so that each probe
    // shows whether the system's resolver path still reaches this resolver.
    {
      std::lock_guard<std::mutex> lock(self_test_mu_);
      last_self_test_ = q.name;
    }
    c_.self_tests.fetch_add(1, std::memory_order_relaxed);
    Send(to, dns::BuildBlockAnswer(msg, q, 0), q.question_end);
    return false;
  }
  if (!state.snapshot && fail_mode_.load(std::memory_order_relaxed) == FailMode::kClosed) {
    c_.upstream_failures.fetch_add(1, std::memory_order_relaxed);
    Send(to, dns::BuildResponse(msg, q, dns::kServFail), q.question_end);
    return false;
  }
  if (state.snapshot && q.name == kDohCanary) {
    Send(to, dns::BuildResponse(msg, q, dns::kNxDomain), q.question_end);
    return false;
  }
  if (!filter::ComputeSuffixHashes(q.name, suffixes)) {
    c_.malformed.fetch_add(1, std::memory_order_relaxed);
    Send(to, dns::BuildResponse(msg, q, dns::kFormErr), q.question_end);
    return false;
  }
  if (!state.snapshot || AllowedByOverride(suffixes)) {
    Forward(q, msg, to, std::string());
    return false;
  }
  out.msg = msg;
  out.to = std::move(to);
  out.query = std::move(p.query);
  return true;
}

void DnsResolver::Impl::Answer(const Screened& sq, const filter::Verdict& v,
                               const FilterState& state) {
  const dns::Query& q = sq.query;
  if (v.blocked) {
    c_.blocked.fetch_add(1, std::memory_order_relaxed);
    size_t slot = v.kind == filter::RuleKind::kDenyList ? kDenyListSlot : v.category;
    state.counts[slot].fetch_add(1, std::memory_order_relaxed);
    if (v.kind == filter::RuleKind::kCategory && static_cast<int>(v.category) == state.doh_category) {
      NoteDohName(q.name);
    }
    return Send(sq.to, dns::BuildBlockAnswer(sq.msg, q, options_.block_ttl), q.question_end);
  }
  if (state.profile->safe_search()) {
    std::string target = SafeSearchTarget(q.name);
    if (!target.empty()) {
      c_.safe_search.fetch_add(1, std::memory_order_relaxed);
      return Forward(q, sq.msg, sq.to, target);
    }
  }
  Forward(q, sq.msg, sq.to, std::string());
}

void DnsResolver::Impl::HandleQuery(std::string_view msg, bool truncated, const ReplyTo& to,
                                    const FilterState& state) {
  Screened sq;
  SuffixHashes suffixes;
  if (!Screen(msg, truncated, to, state, sq, suffixes)) return;
  Answer(sq, state.snapshot->matcher().Check(suffixes, *state.profile), state);
}

std::optional<std::string> DnsResolver::Impl::FromCache(uint64_t key,
                                                        const dns::Query& q,
                                                        std::string_view request,
                                                        const std::string& target,
                                                        bool allow_stale) {
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  const CacheEntry& e = it->second;
  int64_t age_ms = options_.clock->NowUnixMs() - e.stored_ms;
  bool fresh = age_ms < int64_t{e.ttl} * 1000;
  if (!fresh && !allow_stale) return std::nullopt;
  uint32_t age = static_cast<uint32_t>(age_ms / 1000);
  std::string out = e.response;
  for (uint16_t off : e.ttl_offsets) {
    uint32_t ttl = (uint32_t{static_cast<uint8_t>(out[off])} << 24) |
                   (uint32_t{static_cast<uint8_t>(out[off + 1])} << 16) |
                   (uint32_t{static_cast<uint8_t>(out[off + 2])} << 8) |
                   uint32_t{static_cast<uint8_t>(out[off + 3])};
    ttl = fresh ? (ttl > age ? ttl - age : 0) : 30;  // RFC 8767: stale answers get 30 s
    for (int b = 0; b < 4; ++b) out[off + b] = static_cast<char>(ttl >> (24 - 8 * b));
  }
  if (!target.empty()) {
    dns::ResponseInfo info;
    std::string error;
    if (!dns::ParseResponse(out, info, error)) return std::nullopt;
    return dns::BuildCnameAnswer(request, q, target, options_.safe_search_ttl, info.answers);
  }
  // Same name, maybe in other letter case: give the client back its own question.
  if (e.question_end != q.question_end || !SameQuestion(out, request, q.question_end)) {
    return std::nullopt;
  }
  out.replace(dns::kHeaderSize, q.question_end - dns::kHeaderSize,
              request.substr(dns::kHeaderSize, q.question_end - dns::kHeaderSize));
  dns::SetId(out, q.header.id);
  return out;
}

void DnsResolver::Impl::CacheStore(uint64_t key, std::string_view msg,
                                   const dns::ResponseInfo& info) {
  if (options_.cache_entries == 0) return;
  uint8_t rcode = info.header.rcode();
  if (info.header.tc() || (rcode != dns::kNoError && rcode != dns::kNxDomain)) return;
  CacheEntry e;
  e.response = std::string(msg);
  e.ttl_offsets = info.ttl_offsets;
  e.question_end = info.question_end;
  e.stored_ms = options_.clock->NowUnixMs();
  e.ttl = info.has_records ? std::min(info.min_ttl, options_.cache_max_ttl)
                           : options_.cache_negative_ttl;
  auto [it, inserted] = cache_.insert_or_assign(key, std::move(e));
  if (!inserted) return;
  cache_order_.push_back(key);
  while (cache_.size() > options_.cache_entries && !cache_order_.empty()) {
    cache_.erase(cache_order_.front());
    cache_order_.pop_front();
  }
}

void DnsResolver::Impl::Forward(const dns::Query& q, std::string_view request,
                                const ReplyTo& to, const std::string& target) {
  const std::string& name = target.empty() ? q.name : target;
  uint64_t key = filter::ExtendHash(filter::HashDomain(name),
                                    (uint64_t{q.qtype} << 1) | (q.has_edns ? 1 : 0));
  if (auto hit = FromCache(key, q, request, target, false)) {
    c_.cache_hits.fetch_add(1, std::memory_order_relaxed);
    return Send(to, std::move(*hit), q.question_end);
  }
  if (upstreams_.empty() || pending_.size() >= options_.max_pending) {
    c_.upstream_failures.fetch_add(1, std::memory_order_relaxed);
    return Send(to, dns::BuildResponse(request, q, dns::kServFail), q.question_end);
  }
  uint16_t id = 0;
  do {
    id = static_cast<uint16_t>(rng_());
  } while (pending_.count(id) != 0);
  Pending& p = pending_[id];
  p.to = to;
  p.query = q;
  p.request = std::string(request);
  p.target = target;
  p.cache_key = key;
  if (target.empty()) {
    p.upstream_query = p.request;
    dns::SetId(p.upstream_query, id);
  } else {
    p.upstream_query = dns::BuildQuery(id, target, q.qtype, q.has_edns);
  }
  c_.forwarded.fetch_add(1, std::memory_order_relaxed);
  SendUpstream(p);
  ArmSweep();
}

void DnsResolver::Impl::SendUpstream(Pending& p) {
  if (p.attempt == 0) p.first_upstream = rng_() % upstreams_.size();
  p.upstream = upstreams_[(p.first_upstream + static_cast<size_t>(p.attempt)) % upstreams_.size()];
  p.deadline_ms = SteadyMs() + options_.upstream_timeout_ms;
  udp::socket& s = p.upstream.address().is_v4() ? up4_ : up6_;
  boost::system::error_code ec;
  s.send_to(asio::buffer(p.upstream_query), p.upstream, 0, ec);
}

void DnsResolver::Impl::OnUpstream(std::string_view msg, const udp::endpoint& from) {
  dns::ResponseInfo info;
  std::string error;
  if (!dns::ParseResponse(msg, info, error)) return;
  auto it = pending_.find(info.header.id);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  const std::string& want = p.target.empty() ? p.query.name : p.target;
  // Only the server we asked, about what we asked, may answer (spoofing, late answers).
  if (from != p.upstream || info.qname != want || info.qtype != p.query.qtype) return;
  CacheStore(p.cache_key, msg, info);
  std::string answer;
  if (!p.target.empty()) {
    if (info.header.rcode() != dns::kNoError) {
      answer = dns::BuildResponse(p.request, p.query, dns::kServFail);
    } else {
      answer = dns::BuildCnameAnswer(p.request, p.query, p.target, options_.safe_search_ttl,
                                     info.answers);
    }
  } else {
    answer = std::string(msg);
    dns::SetId(answer, p.query.header.id);
    // Give the client back its own question bytes (letter case included).
    if (info.question_end == p.query.question_end) {
      answer.replace(dns::kHeaderSize, p.query.question_end - dns::kHeaderSize,
                     p.request.substr(dns::kHeaderSize, p.query.question_end - dns::kHeaderSize));
    }
  }
  Send(p.to, std::move(answer), p.query.question_end);
  pending_.erase(it);
}

void DnsResolver::Impl::FailUpstream(Pending& p) {
  c_.upstream_failures.fetch_add(1, std::memory_order_relaxed);
  if (fail_mode_.load(std::memory_order_relaxed) == FailMode::kOpen) {
    if (auto stale = FromCache(p.cache_key, p.query, p.request, p.target, true)) {
      return Send(p.to, std::move(*stale), p.query.question_end);
    }
  }
  Send(p.to, dns::BuildResponse(p.request, p.query, dns::kServFail), p.query.question_end);
}

void DnsResolver::Impl::ArmSweep() {
  if (sweep_armed_ || stopped_) return;
  sweep_armed_ = true;
  int period = std::clamp(options_.upstream_timeout_ms / 4, 5, 100);
  sweep_.expires_after(std::chrono::milliseconds(period));
  sweep_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    self->sweep_armed_ = false;
    if (ec || self->stopped_) return;
    self->Sweep();
    if (!self->pending_.empty()) self->ArmSweep();
  });
}

void DnsResolver::Impl::Sweep() {
  int64_t now = SteadyMs();
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = it->second;
    if (p.deadline_ms > now) {
      ++it;
      continue;
    }
    if (++p.attempt < options_.upstream_attempts) {
      SendUpstream(p);
      ++it;
      continue;
    }
    FailUpstream(p);
    it = pending_.erase(it);
  }
}

// --- public face -------------------------------------------------------------------------------

DnsResolver::DnsResolver(asio::io_context& io, DnsResolverOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}
DnsResolver::~DnsResolver() { Stop(); }
Status DnsResolver::Start() {
  try {
    return impl_->Start();
  } catch (const std::exception& e) {
    return Internal(std::string("DNS resolver: ") + e.what());
  }
}
void DnsResolver::Stop() { impl_->Stop(); }
uint16_t DnsResolver::port() const { return impl_->port(); }
void DnsResolver::UpdateSnapshot(std::shared_ptr<const filter::Snapshot> snapshot) {
  impl_->UpdateSnapshot(std::move(snapshot));
}
Status DnsResolver::SetProfile(std::optional<filter::FilterProfile> profile) {
  return impl_->SetProfile(std::move(profile));
}
Status DnsResolver::SetAllowOverrides(const std::vector<AllowOverride>& overrides) {
  return impl_->SetAllowOverrides(overrides);
}
std::map<std::string, uint64_t> DnsResolver::BlockedCounts() const {
  return impl_->BlockedCounts();
}
DnsResolverStats DnsResolver::Stats() const { return impl_->Stats(); }

std::vector<std::string> DnsResolver::DohNamesSeen() const { return impl_->DohNamesSeen(); }
void DnsResolver::SetFailMode(FailMode mode) {
  impl_->SetFailMode(mode);
}

}  // namespace preau::agent
