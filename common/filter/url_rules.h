// UrlRules: the `urls` side of the filter, prefix rules such as "example.com/games" that
// block part of a site without blocking its domain. Far fewer than domains (a few
// thousand), so a sorted vector keyed by the host hash is enough.
//
// A rule matches a URL when the URL's host is the rule's host or one of its subdomains and
// the URL's path starts with the rule's path, as a plain string prefix: UT1 documents its
// `urls` entries so ("a.com/jeux" catches "/jeux", "/jeux/x", "/jeux?p=1" and
// "/jeux.html"). Comparison is in lowercase, as squidGuard (for which UT1 writes these
// lists) does. Both sides go through NormalizeUrlPath first, so that the spellings RFC 3986
// calls equivalent ("/%67ames", "/a/../games", "//games") cannot walk around a rule.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace preau::filter {

// A URL split into what the rules look at.
struct UrlParts {
  std::string host;  // normalised (lowercase, no port, no trailing dot)
  std::string path;  // "/..." including any query, lowercased; "/" when absent
};

// Splits "https://User@WWW.Example.com:8443/A/b?q#frag"; nullopt if there is no usable host.
// The host and path are normalised as below.
std::optional<UrlParts> SplitUrl(std::string_view url);

// As SplitUrl, with the reason when there is no usable host ("host " + NormalizeDomain's).
Result<UrlParts> ParseUrl(std::string_view url);

// RFC 3986 section 6.2.2 normalisation of what follows the host ("/a/b?q", "?q" or ""):
// percent-encoded unreserved characters decoded ("%67" -> "g"), other escapes in upper
// case, dot segments removed from the path (section 5.2.4), runs of '/' in the path made
// one (web servers serve "//a" as "/a"), then everything lowercased. The result starts
// with '/' ("/" when empty); the query is kept, decoded the same way.
std::string NormalizeUrlPath(std::string_view rest);

// Decodes the percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) of `s`, leaves
// every other escape in place with its hex digits in upper case.
std::string DecodeUnreserved(std::string_view s);

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
