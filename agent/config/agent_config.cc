#include "agent/config/agent_config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "common/files.h"

namespace preau::agent {

namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool IsIp(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

Status CheckPath(const std::string& v) {
  if (v.empty() || v.front() != '/') return InvalidArgument("'" + v + "' is not an absolute path");
  return Status::Ok();
}

Status CheckUpstream(const std::string& v) {
  auto hp = ParseListenAddress(v);
  if (!hp.ok()) return hp.status();
  if (hp->second == 0) return InvalidArgument("'" + v + "': port 0 is not a server's port");
  return Status::Ok();
}

std::vector<std::string> SplitList(const std::string& v) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(v);
  while (std::getline(in, item, ',')) {
    item = Trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

Result<std::pair<std::string, uint16_t>> ParseListenAddress(const std::string& text) {
  std::string host = text;
  std::string port = "53";
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return InvalidArgument("address '" + text + "': no ']'");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return InvalidArgument("address '" + text + "': expected ]:PORT");
      port = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
  }
  if (host.empty()) return InvalidArgument("address '" + text + "': no address");
  if (!IsIp(host)) return InvalidArgument("address '" + text + "': '" + host + "' is not an IP address");
  char* end = nullptr;
  errno = 0;
  unsigned long p = std::strtoul(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || errno != 0 || p > 65535 || port.front() == '-') {
    return InvalidArgument("address '" + text + "': the port must be 0 to 65535");
  }
  return std::make_pair(host, static_cast<uint16_t>(p));
}

Result<AgentConfig> ParseAgentConfig(const std::string& text, const std::string& name) {
  AgentConfig c;
  using Setter = std::function<Status(const std::string&)>;
  auto one_of = [](std::string* field, std::set<std::string> allowed) -> Setter {
    return [field, allowed](const std::string& v) {
      if (!allowed.count(v)) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return InvalidArgument("'" + v + "' is not one of " + list);
      }
      *field = v;
      return Status::Ok();
    };
  };
  auto path = [](std::string* field) -> Setter {
    return [field](const std::string& v) {
      PREAU_RETURN_IF_ERROR(CheckPath(v));
      *field = v;
      return Status::Ok();
    };
  };
  auto text_value = [](std::string* field) -> Setter {
    return [field](const std::string& v) {
      if (v.empty()) return InvalidArgument("needs a value");
      *field = v;
      return Status::Ok();
    };
  };
  std::map<std::string, Setter> keys = {
      {"dns_listen",
       [&c](const std::string& v) {
         PREAU_RETURN_IF_ERROR(ParseListenAddress(v).status());
         c.dns_listen = v;
         return Status::Ok();
       }},
      {"system_resolver", one_of(&c.system_resolver, {"auto", "resolved", "resolv-conf", "off"})},
      {"resolv_conf", path(&c.resolv_conf)},
      {"resolved_dropin", path(&c.resolved_dropin)},
      {"resolved_runtime", path(&c.resolved_runtime)},
      {"resolved_reload", text_value(&c.resolved_reload)},
      {"firewall",
       [&c](const std::string& v) {
         if (v != "on" && v != "off") return InvalidArgument("'" + v + "' is not on or off");
         c.firewall = v == "on";
         return Status::Ok();
       }},
      {"nft", text_value(&c.nft)},
      {"upstreams",
       [&c](const std::string& v) {
         std::vector<std::string> list = SplitList(v);
         for (const auto& u : list) PREAU_RETURN_IF_ERROR(CheckUpstream(u));
         c.upstreams = list;
         return Status::Ok();
       }},
      {"repair_after_seconds",
       [&c](const std::string& v) {
         char* end = nullptr;
         long n = std::strtol(v.c_str(), &end, 10);
         if (v.empty() || *end != '\0' || n < 1 || n > 86400) {
           return InvalidArgument("'" + v + "' is not a number of seconds from 1 to 86400");
         }
         c.repair_after_seconds = static_cast<int>(n);
         return Status::Ok();
       }},
      {"self_test_resolver",
       [&c](const std::string& v) {
         PREAU_RETURN_IF_ERROR(CheckUpstream(v));
         c.self_test_resolver = v;
         return Status::Ok();
       }},
  };
  std::set<std::string> seen;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string where = name + ":" + std::to_string(number) + ": ";
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line = Trim(line);
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return InvalidArgument(where + "expected 'key = value', got '" + line + "'");
    }
    std::string key = Trim(line.substr(0, eq));
    std::string value = Trim(line.substr(eq + 1));
    auto it = keys.find(key);
    if (it == keys.end()) {
      std::string list;
      for (const auto& [k, _] : keys) list += (list.empty() ? "" : ", ") + k;
      return InvalidArgument(where + "unknown key '" + key + "' (known: " + list + ")");
    }
    if (!seen.insert(key).second) return InvalidArgument(where + key + ": set twice");
    Status st = it->second(value);
    if (!st.ok()) return InvalidArgument(where + key + ": " + st.message());
  }
  return c;
}

Result<AgentConfig> LoadAgentConfig(const std::string& path, bool must_exist) {
  std::error_code ec;
  if (!must_exist && !std::filesystem::exists(path, ec)) return AgentConfig{};
  PREAU_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseAgentConfig(text, path);
}

}  // namespace preau::agent
