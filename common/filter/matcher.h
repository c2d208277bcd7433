// Matcher: decides whether a host name or a URL is blocked for a filter profile, and names
// the rule that decided, so that `preau filter test`, usage reports and the DNS resolver
// all give the same answer for the same reason.
//
// Decision order, most to least authoritative:
//   1. the profile's allow and deny lists: the most specific listed suffix wins (allow
//      "good.example.com" under deny "example.com" allows it); allow wins a tie;
//   2. a category the profile blocks, for the name or any parent domain (UT1 semantics);
//   3. otherwise allowed.
// URLs are checked the same way for their host, then against the `urls` prefix rules of
// blocked categories. An IPv4 literal matches only an entry equal to it.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/filter/domain_hash.h"
#include "common/filter/domain_set.h"
#include "common/filter/url_rules.h"
#include "common/status.h"

namespace preau::filter {

// What a school wants filtered, as written in policy (names, not ids).
struct FilterProfile {
  std::vector<std::string> blocked_categories;  // UT1 folder names: "gambling", "doh"
  std::vector<std::string> allow;               // domains always allowed (and subdomains)
  std::vector<std::string> deny;                // domains always blocked (and subdomains)
  bool safe_search = true;                      // force safe search on the big engines
};

// A FilterProfile resolved against a category table, ready for lookups.
class CompiledProfile {
 public:
  CompiledProfile() = default;
  CompiledProfile(CompiledProfile&&) noexcept = default;
  CompiledProfile& operator=(CompiledProfile&&) noexcept = default;

  // Fails on an unknown category name or an allow/deny entry that is not a domain.
  static Result<CompiledProfile> Compile(const FilterProfile& spec,
                                         const std::vector<std::string>& category_names);

  bool IsBlocked(uint8_t category) const { return blocked_[category]; }
  const std::bitset<256>& blocked() const { return blocked_; }
  const DomainSet& allow() const { return allow_; }
  const DomainSet& deny() const { return deny_; }
  bool safe_search() const { return safe_search_; }
  const FilterProfile& spec() const { return spec_; }

 private:
  FilterProfile spec_;  // normalised, sorted, deduplicated
  std::bitset<256> blocked_;
  DomainSet allow_, deny_;
  bool safe_search_ = true;
};

enum class RuleKind : uint8_t { kNone, kAllowList, kDenyList, kCategory, kUrlRule };

// The allocation-free result used on the DNS hot path.
struct Verdict {
  bool blocked = false;
  RuleKind kind = RuleKind::kNone;
  uint8_t category = 0;  // when kind is kCategory or kUrlRule
  int suffix = -1;       // index into SuffixHashes of the matching suffix
};

// The full answer, naming the rule: {blocked, "gambling" / "deny list" / "allow list",
// "example.com"}.
struct Decision {
  bool blocked = false;
  RuleKind kind = RuleKind::kNone;
  std::string rule;           // category name, "deny list", "allow list" or "" (no rule)
  std::string matched_entry;  // the listed domain or URL rule that matched
  std::string ToString() const;  // "blocked by category gambling (entry bet.example.com)"
};

class Matcher {
 public:
  Matcher() = default;
  Matcher(std::vector<std::string> category_names, DomainSet domains, UrlRules urls);
  Matcher(Matcher&&) noexcept = default;
  Matcher& operator=(Matcher&&) noexcept = default;

  // The core check on precomputed suffix hashes. `literal` is true for an IPv4 host.
  Verdict Check(const SuffixHashes& s, const CompiledProfile& profile,
                bool literal = false) const;

  // Checks `n` names at once: starts every memory load of every name before waiting on the
  // first, so the cache misses of a batch (a burst of DNS queries) overlap.
  void CheckBatch(const SuffixHashes* s, size_t n, const CompiledProfile& profile,
                  Verdict* out) const;

  // A host name in any case, with or without a trailing dot.
  Decision Decide(std::string_view host, const CompiledProfile& profile) const;
  // A full URL ("https://www.example.com/games/x"); the host rules first, then `urls`.
  Decision DecideUrl(std::string_view url, const CompiledProfile& profile) const;

  const std::vector<std::string>& category_names() const { return category_names_; }
  const DomainSet& domains() const { return domains_; }
  const UrlRules& urls() const { return urls_; }

 private:
  Decision Describe(const Verdict& v, std::string_view host, const SuffixHashes& s) const;

  std::vector<std::string> category_names_;
  DomainSet domains_;
  UrlRules urls_;
};

}  // namespace preau::filter
