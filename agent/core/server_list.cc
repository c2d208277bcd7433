#include "agent/core/server_list.h"

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
