// SystemResolver: points the Linux system's resolver at the agent's filtering resolver,
// so that every program on the device asks it, and puts things back on request.
//
// Two ways, chosen by configuration: rewrite resolv.conf (atomically; the original is kept
// once as a backup beside it and is where the upstream servers are read from), or run a
// command (e.g. "resolvectl dns lo {address}" on systemd-resolved systems). Off by
// default: tests and simulated devices never touch the machine; tests point `resolv_conf`
// at a file in a temporary folder.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace preau::agent {

struct SystemResolverOptions {
  enum class Mode { kOff, kResolvConf, kCommand };
  Mode mode = Mode::kOff;
  std::string resolv_conf = "/etc/resolv.conf";
  std::string backup_suffix = ".preau-backup";
  // kCommand: run with {address} replaced (shell-quoted) by the resolver's address.
  std::string point_command;
  std::string restore_command;  // optional
};

class SystemResolver {
 public:
  explicit SystemResolver(SystemResolverOptions options) : options_(std::move(options)) {}

  // Makes the system ask `address` (an IPv4 or IPv6 literal; the port must be 53 for
  // resolv.conf). Idempotent: a resolv.conf already pointing there is left alone, and the
  // backup is never overwritten by our own file.
  Status Point(const std::string& address);
  // Puts the original configuration back (the backup, or restore_command).
  Status Restore();

  // The upstream servers the system used before Préau: the nameservers of the backup if
  // there is one, else of resolv.conf, minus `self` (the agent's own address).
  std::vector<std::string> OriginalUpstreams(const std::string& self) const;

  std::string backup_path() const { return options_.resolv_conf + options_.backup_suffix; }

 private:
  SystemResolverOptions options_;
};

// The `nameserver` addresses of a resolv.conf text, in order.
std::vector<std::string> NameserversOf(const std::string& resolv_conf_text);

}  // namespace preau::agent
