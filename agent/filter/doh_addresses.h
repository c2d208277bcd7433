// DoH addresses: which IP addresses the firewall refuses on 443, so that a browser's
// DNS-over-HTTPS cannot walk around the filter.
//
// The candidates come from three places: the `doh` category's names, which the server
// ships in plain form in the snapshot (Snapshot::NamesIn("doh"), versioned with the
// import, so a list change reaches the device with its next snapshot or delta); names
// clients asked for that the `doh` category blocked (DnsResolver::DohNamesSeen: what a
// format-1 snapshot without names still gets); and a short built-in list of well-known
// endpoints (Google, Cloudflare, Quad9, ...). Every candidate is checked against the
// snapshot held now, so a name the lists drop is dropped here too; IP literals in the list
// are taken as they are, names are resolved upstream from a socket carrying the agent's
// mark (the firewall lets it through). The plugin resolves the listed names on a new
// snapshot and hourly, the others on each self-test, so the addresses stay current.
#pragma once

#include <atomic>
#include <cstddef>
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
// the socket. At most `max_in_flight` questions are outstanding at once, each waited for
// up to `timeout_ms`; `cancel` (may be null) stops early. Blocking (seconds for the whole
// UT1 doh list): call it off the agent's strand.
std::vector<std::string> ResolveDohAddresses(const std::vector<std::string>& candidates,
                                             const filter::Snapshot& snapshot,
                                             const std::string& upstream, uint32_t mark,
                                             int timeout_ms = 1000, size_t max_in_flight = 32,
                                             const std::atomic<bool>* cancel = nullptr);

}  // namespace preau::agent
