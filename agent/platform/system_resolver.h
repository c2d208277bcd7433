// SystemResolver: puts the agent's resolver in the Linux system's DNS path the way this
// machine is built, and puts the machine back exactly as it was.
//
// Two ways. Where systemd-resolved runs, a drop-in makes the agent its only DNS server for
// every domain (`DNS=`, `Domains=~.`), and resolved is restarted; the upstreams are those
// resolved used (its /run/systemd/resolve/resolv.conf). Elsewhere /etc/resolv.conf is
// rewritten to name the agent alone, keeping its search and options lines; its upstreams
// are its nameservers. A resolv.conf that is a symlink (another program manages it) is
// refused, naming where it points, and nothing is changed.
//
// Everything changed is recorded first, in `record_dir` (the original file byte for byte,
// its permission bits, which way was taken), and the record is the last thing removed on
// Restore. So an agent that crashed, a restart, or `preau-agent --uninstall` finds what to
// put back, and the record never holds the agent's own file as "the original".
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace preau::agent {

struct SystemResolverOptions {
  enum class Way { kAuto, kResolved, kResolvConf, kOff };
  Way way = Way::kAuto;
  std::string resolv_conf = "/etc/resolv.conf";
  std::string resolved_dropin = "/etc/systemd/resolved.conf.d/preau-agent.conf";
  std::string resolved_runtime = "/run/systemd/resolve";
  std::string resolved_reload = "systemctl restart systemd-resolved";
  std::string record_dir;  // required unless kOff
};

// "auto", "resolved", "resolv-conf", "off" (as in agent.conf).
Result<SystemResolverOptions::Way> ParseResolverWay(const std::string& text);

class SystemResolver {
 public:
  using Way = SystemResolverOptions::Way;
  explicit SystemResolver(SystemResolverOptions options) : options_(std::move(options)) {}

  // The way this machine takes (kResolved or kResolvConf; kOff when configured off), or
  // FailedPrecondition when resolv.conf cannot be managed (a symlink elsewhere).
  Result<Way> Choose() const;

  // Makes the system ask `address` (an IP literal; the agent must answer on port 53).
  // Idempotent; the original is recorded once, before anything is changed.
  Status Point(const std::string& address);
  // Puts back what the record holds (nothing recorded: nothing to do).
  Status Restore();
  // Whether a record says the system is pointed at the agent.
  bool Pointed() const;
  // Checks the system still sends its queries to `address` the way it was pointed; the
  // error names what is in the path instead.
  Status CheckPointed(const std::string& address) const;

  // The upstream servers the system used before the agent (from the record when pointed),
  // without `self`. Empty when none can be read.
  std::vector<std::string> OriginalUpstreams(const std::string& self) const;

 private:
  std::string RecordPath() const { return options_.record_dir + "/resolver.record"; }
  std::string OriginalPath() const { return options_.record_dir + "/resolver.original"; }
  Status PointResolvConf(const std::string& address);
  Status PointResolved(const std::string& address);

  SystemResolverOptions options_;
};

// The `nameserver` addresses of a resolv.conf text, in order.
std::vector<std::string> NameserversOf(const std::string& resolv_conf_text);

// Replaces the content of `path` keeping it the same file when it cannot be replaced by a
// rename (a bind mount, as in containers); atomically by rename otherwise.
Status ReplaceFileContent(const std::string& path, const std::string& data, int mode);

}  // namespace preau::agent
