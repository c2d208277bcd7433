// PublicSuffixList: which names are public suffixes ("fr", "co.uk", "github.io") under
// which anyone can register a site, read from Mozilla's list as Debian ships it (package
// `publicsuffix`). Allowing or blocking a public suffix means allowing or blocking every
// site under it, so a teacher's `class allow --site co.uk` is refused with it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "common/status.h"

namespace preau::filter {

inline constexpr const char* kDebianPublicSuffixList =
    "/usr/share/publicsuffix/public_suffix_list.dat";

class PublicSuffixList {
 public:
  // Parses the list's text (rules, "*." wildcards, "!" exceptions; comments skipped).
  static PublicSuffixList Parse(std::string_view text);
  static Result<PublicSuffixList> Load(const std::string& path = kDebianPublicSuffixList);
  // The system's list, read once; when it cannot be read, a list that knows only the rule
  // every list has ("*": a single label is a public suffix).
  static const PublicSuffixList& System();

  // True when `domain` (lowercase ASCII, no trailing dot) is itself a public suffix.
  bool IsPublicSuffix(std::string_view domain) const;
  size_t size() const { return rules_.size() + wildcards_.size() + exceptions_.size(); }

 private:
  std::unordered_set<std::string> rules_;       // "co.uk"
  std::unordered_set<std::string> wildcards_;   // "*.ck" kept as "ck"
  std::unordered_set<std::string> exceptions_;  // "!www.ck" kept as "www.ck"
};

}  // namespace preau::filter
