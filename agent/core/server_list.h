// ServerList: the servers an agent may use, in order: one "host:port", or several
// replicas of one Préau service as "host1:port1,host2:port2" (a name that resolves to
// several addresses is one entry: gRPC's resolver and pick_first try each address). The
// agent is on one at a time; when a stream ends or a connection fails it moves on to the
// next, so a device whose replica died comes back on another. The one place that decides
// which server the agent's calls (its stream, downloads, enrolment, renewal) go to.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace preau::agent {

class ServerList {
 public:
  // Parses "host:port[,host:port...]" (spaces around entries ignored). An empty entry
  // ("a:1,,b:2", a trailing comma) or an empty spec is refused, naming the spec.
  static Result<ServerList> Parse(const std::string& spec);

  const std::string& current() const { return servers_[at_]; }
  // What to give gRPC for current(): an address written as numbers ("10.0.0.5:7443",
  // "[fd00::5]:7443") goes to gRPC's address resolver ("ipv4:…", "ipv6:…") rather than
  // its DNS resolver, which, while the server cannot be reached, resolves the address
  // again every 30 s and builds a new TLS context each time (OpenSSL 3 parsing the key
  // and certificate: 43 % of a simulator's CPU in an 18,000-device restart). The name
  // checked in the server's certificate is the same.
  std::string ChannelTarget() const;
  // Moves to the next server, wrapping round; false (and stays) if there is only one.
  bool Advance();
  size_t size() const { return servers_.size(); }
  const std::vector<std::string>& all() const { return servers_; }
  // The list as a spec again, starting at entry `first` (modulo the size): a fleet spreads
  // its devices over replicas by giving device i the list from entry i.
  std::string SpecFrom(size_t first) const;

 private:
  explicit ServerList(std::vector<std::string> servers) : servers_(std::move(servers)) {}
  std::vector<std::string> servers_;
  size_t at_ = 0;
};

}  // namespace preau::agent
