#include "agent/filter/web_filter_rule.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "agent/config/agent_config.h"
#include "agent/filter/dns_message.h"

namespace preau::agent {

namespace {
constexpr const char* kSelfTestSuffix = ".selftest.preau.invalid";
}

void WebFilterLink::Want(bool in_path) {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Switched on: what an earlier self-test found no longer says anything.
    if (in_path && wanted_ != true && outcome_.outcome != v1::RULE_NOT_SUPPORTED) {
      outcome_ = Outcome{};
    }
    wanted_ = in_path;
    listeners = want_listeners_;
  }
  for (auto& l : listeners) l();
}

std::optional<bool> WebFilterLink::wanted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wanted_;
}

void WebFilterLink::OnWant(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  want_listeners_.push_back(std::move(listener));
}

void WebFilterLink::SetOutcome(Outcome outcome) {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (outcome == outcome_) return;
    outcome_ = std::move(outcome);
    listeners = outcome_listeners_;
  }
  for (auto& l : listeners) l();
}

WebFilterLink::Outcome WebFilterLink::outcome() const {
  std::lock_guard<std::mutex> lock(mu_);
  return outcome_;
}

void WebFilterLink::OnOutcomeChange(std::function<void()> listener) {
  std::lock_guard<std::mutex> lock(mu_);
  outcome_listeners_.push_back(std::move(listener));
}

v1::RuleResult WebFilterRule::Apply(const DesiredState& desired) {
  if (!desired.has_policy) return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  link_->Want(desired.web_filter);
  if (!desired.web_filter) return MakeRule(name(), v1::RULE_OUTCOME_UNSPECIFIED);
  WebFilterLink::Outcome o = link_->outcome();
  return MakeRule(name(), o.outcome, o.reason);
}

std::string SelfTestName(const std::string& device_id, int64_t now_unix_ms) {
  std::time_t t = static_cast<std::time_t>(now_unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char hour[16];
  std::strftime(hour, sizeof hour, "h%Y%m%d%H", &tm);
  std::string id;
  for (char c : device_id) {
    unsigned char u = static_cast<unsigned char>(c);
    id += std::isalnum(u) || c == '-' ? static_cast<char>(std::tolower(u)) : '-';
  }
  return std::string(hour) + "." + (id.empty() ? "device" : id) + kSelfTestSuffix;
}

bool IsSelfTestName(const std::string& name) {
  const std::string suffix = kSelfTestSuffix;
  return name.size() > suffix.size() &&
         name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

SelfTestProbe RunSelfTestProbe(const SelfTestOptions& options) {
  SelfTestProbe p;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(options.name.c_str(), nullptr, &hints, &res);
  if (rc == 0) {
    p.resolved = true;
    freeaddrinfo(res);
  } else {
    p.resolve_error = rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc);
  }
  if (options.outside_resolver.empty()) return p;

  auto hp = ParseListenAddress(options.outside_resolver);
  if (!hp.ok()) {
    p.outside_detail = hp.status().message();
    return p;
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, hp->first.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(hp->second);
    len = sizeof *v4;
  } else if (inet_pton(AF_INET6, hp->first.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(hp->second);
    len = sizeof *v6;
  }
  int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    p.outside_detail = std::string("socket: ") + std::strerror(errno);
    return p;
  }
  // connect() makes the kernel report an ICMP "port unreachable" (the firewall's reject)
  // as ECONNREFUSED on the next receive.
  std::string query = dns::BuildQuery(0x5eed, options.name, dns::kTypeA, false);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
      ::send(fd, query.data(), query.size(), 0) < 0) {
    if (errno == ECONNREFUSED || errno == EPERM) p.outside_refused = true;
    p.outside_detail = std::string("send: ") + std::strerror(errno);
    ::close(fd);
    return p;
  }
  pollfd pfd{fd, POLLIN, 0};
  int n = ::poll(&pfd, 1, options.timeout_ms);
  if (n == 0) {
    p.outside_detail = "no answer within " + std::to_string(options.timeout_ms) + " ms";
  } else {
    char buf[1500];
    ssize_t got = ::recv(fd, buf, sizeof buf, 0);
    if (got >= 0) {
      p.outside_answered = true;
      p.outside_detail = "it answered";
    } else {
      p.outside_refused = errno == ECONNREFUSED;
      p.outside_detail = std::strerror(errno);
    }
  }
  ::close(fd);
  return p;
}

}  // namespace preau::agent
