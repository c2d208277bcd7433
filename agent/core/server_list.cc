#include "agent/core/server_list.h"

#include <arpa/inet.h>

namespace preau::agent {

Result<ServerList> ServerList::Parse(const std::string& spec) {
  std::vector<std::string> servers;
  size_t start = 0;
  for (;;) {
    size_t comma = spec.find(',', start);
    std::string entry = spec.substr(start, comma == std::string::npos ? std::string::npos
                                                                      : comma - start);
    size_t b = entry.find_first_not_of(" \t");
    size_t e = entry.find_last_not_of(" \t");
    entry = b == std::string::npos ? "" : entry.substr(b, e - b + 1);
    if (entry.empty()) {
      return InvalidArgument("server list '" + spec +
                             "' has an empty entry (expected host:port[,host:port...])");
    }
    servers.push_back(std::move(entry));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ServerList(std::move(servers));
}

std::string ServerList::ChannelTarget() const {
  const std::string& s = current();
  if (!s.empty() && s.front() == '[') return "ipv6:" + s;
  size_t colon = s.rfind(':');
  in_addr v4;
  if (colon != std::string::npos && inet_pton(AF_INET, s.substr(0, colon).c_str(), &v4) == 1) {
    return "ipv4:" + s;
  }
  return s;
}

std::string ServerList::SpecFrom(size_t first) const {
  std::string spec;
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (i) spec += ',';
    spec += servers_[(first + i) % servers_.size()];
  }
  return spec;
}

bool ServerList::Advance() {
  if (servers_.size() < 2) return false;
  at_ = (at_ + 1) % servers_.size();
  return true;
}

}  // namespace preau::agent
