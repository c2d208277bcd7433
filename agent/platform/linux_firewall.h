// LinuxFirewall: the nftables table that keeps the web filter in the DNS path. In its own
// table (`inet preau_filter`), so it never touches the machine's other rules, it lets DNS
// (53, UDP and TCP) and DNS over TLS (853) leave the device only from the agent's upstream
// sockets, which carry a socket mark (SO_MARK, kAgentSocketMark), and to the local
// resolvers the system is pointed at (the agent's address, resolved's stub); it refuses
// them for every other program with an immediate error (port unreachable, TCP reset) rather
// than a silent drop, so applications fall back at once. It also refuses HTTPS (443, TCP
// and QUIC) to the addresses of known DNS-over-HTTPS endpoints.
//
// The table is replaced in one nft transaction (never half-loaded) and deleted on Remove.
// The kernel keeps it when the agent dies, which is what "fail closed" needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace preau::agent {

// The mark the agent puts on the sockets it sends upstream queries from ("PREA").
inline constexpr uint32_t kAgentSocketMark = 0x50524541;

struct LinuxFirewallOptions {
  std::string nft = "nft";
  std::string table = "preau_filter";
  uint32_t mark = kAgentSocketMark;
};

struct FirewallRules {
  std::vector<std::string> local_resolvers;  // IP literals programs may ask on 53
  std::vector<std::string> doh_addresses;    // IP literals refused on 443
};

class LinuxFirewall {
 public:
  explicit LinuxFirewall(LinuxFirewallOptions options = {}) : options_(std::move(options)) {}

  // Loads (or replaces) the table. InvalidArgument for an address that is not an IP.
  Status Install(const FirewallRules& rules);
  // Deletes the table; Ok when there is none.
  Status Remove();
  // Whether the table is loaded in this network namespace.
  Result<bool> Installed() const;

  // The nft script Install loads (tests, and `nft -c` checks).
  Result<std::string> Script(const FirewallRules& rules) const;

 private:
  LinuxFirewallOptions options_;
};

}  // namespace preau::agent
