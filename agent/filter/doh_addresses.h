// DoH addresses: which IP addresses the firewall refuses on 443, so that a browser's
// DNS-over-HTTPS cannot walk around the filter.
//
// The snapshot holds the `doh` category as hashes, not names, so the agent cannot list
// it. It takes its candidates from two places: names clients asked for that the `doh`
// category blocked (DnsResolver::DohNamesSeen), and a short built-in list of well-known
// endpoints (Google, Cloudflare, Quad9, ...). Every candidate is checked against the
// snapshot held now, so a name the lists drop is dropped here too; IP literals in the list
// are taken as they are, names are resolved upstream from a socket carrying the agent's
// mark (the firewall lets it through). Run again on each self-test and when new names or a
// new snapshot come, so the addresses stay current.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/filter/snapshot.h"

namespace preau::agent {

// The built-in candidates (names and IP literals).
const std::vector<std::string>& WellKnownDohEndpoints();

// The sorted, unique addresses of those `candidates` that `snapshot` blocks by its `doh`
// category. `upstream` ("IP" or "IP:PORT") answers the lookups; `mark` (0: none) is put on
// the socket. Blocking, up to about `timeout_ms` per name: call it off the agent's strand.
std::vector<std::string> ResolveDohAddresses(const std::vector<std::string>& candidates,
                                             const filter::Snapshot& snapshot,
                                             const std::string& upstream, uint32_t mark,
                                             int timeout_ms = 1000);

}  // namespace preau::agent
