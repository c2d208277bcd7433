#include "common/filter/url_rules.h"

#include <algorithm>
#include <cctype>

namespace preau::filter {

namespace {

bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 section 5.2.4 on a path that starts with '/', empty segments ("//") dropped
// too. The result ends with '/' when the last segment was empty, "." or "..".
std::string RemoveDotSegments(std::string_view path) {
  std::vector<std::string_view> kept;
  std::string_view seg;
  size_t pos = 1;  // past the leading '/'
  while (true) {
    size_t slash = path.find('/', pos);
    seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (seg == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (!seg.empty() && seg != ".") {
      kept.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  std::string out;
  for (std::string_view s : kept) {
    out += '/';
    out += s;
  }
  if (out.empty() || seg.empty() || seg == "." || seg == "..") out += '/';
  return out;
}

}  // namespace

std::string DecodeUnreserved(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
        HexValue(s[i + 2]) >= 0) {
      auto c = static_cast<unsigned char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      if (IsUnreserved(c)) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 1])));
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i + 2])));
      }
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string NormalizeUrlPath(std::string_view rest) {
  size_t q = rest.find('?');
  std::string path = DecodeUnreserved(rest.substr(0, q));
  std::string query = q == std::string_view::npos ? std::string() : DecodeUnreserved(rest.substr(q));
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  std::string out = RemoveDotSegments(path) + query;
  AsciiLowercase(out);
  return out;
}

Result<UrlParts> ParseUrl(std::string_view url) {
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
  Result<std::string> host = NormalizeDomain(DecodeUnreserved(authority));
  if (!host.ok()) return InvalidArgument("host " + host.status().message());
  UrlParts parts;
  parts.host = std::move(*host);
  parts.path = NormalizeUrlPath(rest);
  return parts;
}

std::optional<UrlParts> SplitUrl(std::string_view url) {
  Result<UrlParts> parts = ParseUrl(url);
  if (!parts.ok()) return std::nullopt;
  return std::move(*parts);
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
  return path.compare(0, rule_path.size(), rule_path) == 0;
}

}  // namespace preau::filter
