#include "common/filter/url_rules.h"

#include <algorithm>

namespace preau::filter {

std::optional<UrlParts> SplitUrl(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  size_t hash = url.find('#');
  if (hash != std::string_view::npos) url = url.substr(0, hash);
  size_t slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  std::string_view rest = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  size_t colon = authority.find(':');
  if (colon != std::string_view::npos) authority = authority.substr(0, colon);
  Result<std::string> host = NormalizeDomain(authority);
  if (!host.ok()) return std::nullopt;
  UrlParts parts;
  parts.host = std::move(*host);
  parts.path = rest.empty() ? "/" : std::string(rest);
  if (parts.path.front() == '?') parts.path.insert(parts.path.begin(), '/');
  AsciiLowercase(parts.path);
  return parts;
}

void UrlRules::Add(uint8_t category, const std::string& normalised) {
  size_t slash = normalised.find('/');
  std::string host = normalised.substr(0, slash);
  std::string path = slash == std::string::npos ? std::string() : normalised.substr(slash);
  rules_.push_back(Rule{HashDomain(host), category, normalised, std::move(path)});
}

void UrlRules::Finish() {
  std::sort(rules_.begin(), rules_.end(), [](const Rule& a, const Rule& b) {
    if (a.host_hash != b.host_hash) return a.host_hash < b.host_hash;
    if (a.category != b.category) return a.category < b.category;
    return a.text < b.text;
  });
  rules_.erase(std::unique(rules_.begin(), rules_.end(),
                           [](const Rule& a, const Rule& b) {
                             return a.category == b.category && a.text == b.text;
                           }),
               rules_.end());
}

bool UrlRules::PathMatches(const std::string& rule_path, const std::string& path) {
  if (rule_path.empty() || rule_path == "/") return true;
  if (path.compare(0, rule_path.size(), rule_path) != 0) return false;
  if (path.size() == rule_path.size()) return true;
  char last = rule_path.back();
  if (last == '/' || last == '?' || last == '&' || last == '=') return true;
  char next = path[rule_path.size()];
  return next == '/' || next == '?' || next == '#' || next == '&' || next == ';';
}

}  // namespace preau::filter
