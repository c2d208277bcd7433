// UrlRules: the `urls` side of the filter, prefix rules such as "example.com/games" that
// block part of a site without blocking its domain. Far fewer than domains (a few
// thousand), so a sorted vector keyed by the host hash is enough.
//
// A rule matches a URL when the URL's host is the rule's host or one of its subdomains and
// the URL's path starts with the rule's path on a boundary: "a.com/games" matches
// "/games", "/games/x" and "/games?p=1" but not "/gamesfoo". Comparison is in lowercase,
// as squidGuard (for which UT1 writes these lists) does.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace preau::filter {

// A URL split into what the rules look at.
struct UrlParts {
  std::string host;  // normalised (lowercase, no port, no trailing dot)
  std::string path;  // "/..." including any query, lowercased; "/" when absent
};

// Splits "https://User@WWW.Example.com:8443/A/b?q#frag"; nullopt if there is no usable host.
std::optional<UrlParts> SplitUrl(std::string_view url);

class UrlRules {
 public:
  struct Rule {
    uint64_t host_hash;
    uint8_t category;
    std::string text;  // normalised "host/path" as imported (see NormalizeUrlRule)
    std::string path;  // "/path..." or empty for a whole host
  };
  struct Match {
    uint8_t category;
    const Rule* rule;
  };

  // `rules` are (category, normalised "host/path") pairs.
  void Add(uint8_t category, const std::string& normalised);
  // Sorts the rules; call once after the last Add.
  void Finish();

  // Every rule matching `url` for which accept(category) is true, most specific host first;
  // returns the first.
  template <typename Accept>
  std::optional<Match> FindFirst(const UrlParts& url, Accept accept) const;

  const std::vector<Rule>& rules() const { return rules_; }
  size_t size() const { return rules_.size(); }

 private:
  static bool PathMatches(const std::string& rule_path, const std::string& path);
  std::vector<Rule> rules_;  // sorted by (host_hash, category, text)
};

}  // namespace preau::filter

#include "common/filter/domain_hash.h"
#include "common/filter/domain_name.h"

namespace preau::filter {

template <typename Accept>
std::optional<UrlRules::Match> UrlRules::FindFirst(const UrlParts& url, Accept accept) const {
  SuffixHashes s;
  if (!ComputeSuffixHashes(url.host, s)) return std::nullopt;
  bool literal = IsIpv4Literal(url.host);
  for (int i = s.count - 1; i >= 0; --i) {
    if (literal && i != s.count - 1) break;
    auto it = std::lower_bound(rules_.begin(), rules_.end(), s.hash[i],
                               [](const Rule& r, uint64_t h) { return r.host_hash < h; });
    for (; it != rules_.end() && it->host_hash == s.hash[i]; ++it) {
      if (accept(it->category) && PathMatches(it->path, url.path)) {
        return Match{it->category, &*it};
      }
    }
  }
  return std::nullopt;
}

}  // namespace preau::filter
