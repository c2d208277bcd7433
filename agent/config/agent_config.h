// AgentConfig: the device-side settings of preau-agent that are not the policy's business,
// read from /etc/preau/agent.conf (documented in docs/agent-config.md). The policy says
// whether the web filter is on; this file says how the agent fits into this machine: where
// its resolver listens, how the system's resolver is pointed at it, whether it may manage
// the firewall, and which resolver the self-test tries to reach directly.
//
// Format: one `key = value` per line, `#` starts a comment. Parsing is strict: an unknown
// key, a repeated key or a value that is not what the key expects is an error naming the
// file, the line and the key, and the agent then changes nothing on the system.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace preau::agent {

inline constexpr const char* kDefaultAgentConfig = "/etc/preau/agent.conf";
// An address of the agent's own: systemd-resolved owns 127.0.0.53 and 127.0.0.54, Debian's
// hostname line 127.0.1.1, libvirt's and NetworkManager's dnsmasq 192.168.122.1 and
// 127.0.0.1; nothing known uses 127.80.65.53 ("PA" in ASCII, port 53).
inline constexpr const char* kDefaultDnsListen = "127.80.65.53:53";

struct AgentConfig {
  // Where the web filter's resolver answers (ADDRESS[:PORT], IPv4 or [IPv6]).
  std::string dns_listen = kDefaultDnsListen;
  // How the system's resolver is pointed at the agent when the policy enables the filter:
  // auto (systemd-resolved when it runs, else resolv.conf), resolved, resolv-conf, off.
  std::string system_resolver = "auto";
  std::string resolv_conf = "/etc/resolv.conf";
  std::string resolved_dropin = "/etc/systemd/resolved.conf.d/preau-agent.conf";
  // Present while systemd-resolved runs; its resolv.conf there lists the upstreams it uses.
  std::string resolved_runtime = "/run/systemd/resolve";
  std::string resolved_reload = "systemctl restart systemd-resolved";
  // The nftables table that keeps DNS (53, 853) to the agent alone; off: no firewall.
  bool firewall = true;
  std::string nft = "nft";
  // Upstream servers; empty: the ones the system had before the agent (the usual case).
  std::vector<std::string> upstreams;
  // The resolver the self-test asks directly (and must be refused); empty: the first
  // original upstream.
  std::string self_test_resolver;
  // When the self-test keeps failing this long (someone rewrote resolv.conf, a firewall
  // reload dropped the table), the agent puts itself back in the path. The failure is
  // reported first, so the authority sees it.
  int repair_after_seconds = 60;
};

// Parses the text of a config file; `name` is used in messages ("agent.conf:3: ...").
Result<AgentConfig> ParseAgentConfig(const std::string& text, const std::string& name);

// Reads and parses `path`. A missing file gives the defaults when `must_exist` is false
// (the default path on a machine that has none), an error otherwise.
Result<AgentConfig> LoadAgentConfig(const std::string& path, bool must_exist);

// Splits "127.0.0.1:53" / "[::1]:5353" / "127.0.0.53" (port 53) into an IP literal and
// a port; InvalidArgument naming what is wrong otherwise.
Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text);

}  // namespace preau::agent
