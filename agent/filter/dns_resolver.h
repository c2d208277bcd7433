// DnsResolver: the agent's filtering DNS resolver on loopback (UDP and TCP). The system
// resolver points at it; it answers blocked names (a listed domain and all its subdomains)
// with the block answer, forces safe search on Google, YouTube, Bing and DuckDuckGo by
// answering their names with a CNAME to the engines' safe hosts, and forwards everything
// else to the configured upstreams through a TTL-honouring cache.
//
// It runs on the agent's io_context and owns no thread; its handlers run through a strand,
// so the io_context may be run by one thread or several. The filter (snapshot + profile) is
// swapped atomically: queries in flight finish with the snapshot they started with, new
// ones see the new one, none is dropped. Counters say how many queries each category
// blocked (counts only; names are never recorded).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/filter/matcher.h"
#include "common/filter/snapshot.h"
#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace preau::agent {

// What to do when no upstream answers in time (or no snapshot is loaded yet).
enum class FailMode {
  kClosed,  // SERVFAIL: nothing resolves, so nothing unfiltered gets through
  kOpen,    // answer from the cache even past its TTL when possible, SERVFAIL otherwise;
            // with no snapshot loaded yet, forward unfiltered
};

struct DnsResolverOptions {
  std::string listen_address = "127.80.65.53";  // loopback only in production
  uint16_t listen_port = 53;                  // 0: any free port (tests)
  std::vector<std::string> upstreams;         // "192.0.2.1" or "192.0.2.1:5353"
  int upstream_timeout_ms = 1500;             // per attempt
  int upstream_attempts = 2;                  // tries, rotating through the upstreams
  FailMode fail_mode = FailMode::kClosed;
  uint32_t block_ttl = 60;        // TTL of block answers: short, so unblocking is quick
  uint32_t safe_search_ttl = 300; // TTL of the safe-search CNAME
  size_t cache_entries = 20000;   // bound on cached answers (oldest evicted first)
  uint32_t cache_max_ttl = 86400; // TTLs are capped to this
  uint32_t cache_negative_ttl = 60;  // for answers without records (no SOA TTL)
  size_t max_pending = 4096;      // forwarded queries waiting for upstream
  size_t max_tcp_connections = 64;
  int tcp_idle_ms = 10000;
  const Clock* clock = &Clock::System();  // allow-override expiries and cache ages
  // Non-zero: the SO_MARK of the sockets that send upstream, so that the firewall lets
  // them (and only them) reach DNS servers (LinuxFirewall; needs CAP_NET_ADMIN).
  uint32_t upstream_mark = 0;
};

// A teacher's temporary allow: `domain` and its subdomains bypass the filter until
// `expires_unix_ms`.
struct AllowOverride {
  std::string domain;
  int64_t expires_unix_ms = 0;
};

struct DnsResolverStats {
  uint64_t queries = 0;       // well-formed queries received (UDP + TCP)
  uint64_t blocked = 0;
  uint64_t safe_search = 0;   // answered with a safe-search CNAME
  uint64_t forwarded = 0;     // sent upstream
  uint64_t cache_hits = 0;
  uint64_t upstream_failures = 0;  // queries that got the fail-mode answer
  uint64_t malformed = 0;     // answered FORMERR/NOTIMP or dropped
  uint64_t self_tests = 0;    // self-test names answered (IsSelfTestName)
  std::string last_self_test; // the last self-test name asked
};

class DnsResolver {
 public:
  DnsResolver(boost::asio::io_context& io, DnsResolverOptions options);
  ~DnsResolver();  // calls Stop()
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // Binds UDP and TCP on the listen address (the same port for both) and starts serving.
  // Call before the io_context runs or from any thread; errors name the address.
  Status Start();
  // Closes the sockets; pending queries are abandoned. Safe from any thread, idempotent.
  void Stop();
  // The bound port (useful with listen_port 0).
  uint16_t port() const;

  // Installs a new filter atomically. Until the first call, FailMode decides.
  void UpdateSnapshot(std::shared_ptr<const filter::Snapshot> snapshot);
  // Replaces the profile embedded in the snapshot (nullopt: back to the snapshot's own).
  // Fails, leaving the filter unchanged, if a category is unknown to the current snapshot.
  Status SetProfile(std::optional<filter::FilterProfile> profile);
  // Replaces the teacher's temporary allow list (expired entries are ignored).
  Status SetAllowOverrides(const std::vector<AllowOverride>& overrides);

  // Changes what happens when upstream fails (the policy's choice); takes effect for the
  // next query.
  void SetFailMode(FailMode mode);

  // Blocked queries per rule ("gambling", "deny list") since Start; counts only.
  std::map<std::string, uint64_t> BlockedCounts() const;
  DnsResolverStats Stats() const;
  // Names blocked by the `doh` category that clients asked for (up to 1024), so that the
  // firewall can refuse HTTPS to their addresses (agent/filter/doh_addresses.h).
  std::vector<std::string> DohNamesSeen() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The safe-search host for `name` ("www.google.fr" -> "forcesafesearch.google.com"), or
// empty if the name is not one of the engines' names.
std::string SafeSearchTarget(const std::string& name);

}  // namespace preau::agent
