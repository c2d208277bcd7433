#include "common/filter/matcher.h"

#include <algorithm>

#include "common/filter/domain_name.h"

namespace preau::filter {
namespace {

Result<std::vector<std::string>> NormaliseList(const std::vector<std::string>& in,
                                               const char* what) {
  std::vector<std::string> out;
  for (const auto& d : in) {
    Result<std::string> n = NormalizeDomain(d);
    if (!n.ok()) return n.status().Context(what);
    out.push_back(std::move(*n));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

DomainSet HashList(const std::vector<std::string>& names) {
  std::vector<DomainSet::Entry> e;
  e.reserve(names.size());
  for (const auto& n : names) e.push_back({HashDomain(n), 0});
  return DomainSet::Build(std::move(e));
}

}  // namespace

Result<CompiledProfile> CompiledProfile::Compile(const FilterProfile& spec,
                                                 const std::vector<std::string>& names) {
  CompiledProfile p;
  for (const auto& c : spec.blocked_categories) {
    auto it = std::find(names.begin(), names.end(), c);
    if (it == names.end()) return InvalidArgument("profile: unknown category '" + c + "'");
    p.blocked_.set(static_cast<size_t>(it - names.begin()));
  }
  p.spec_.blocked_categories = spec.blocked_categories;
  std::sort(p.spec_.blocked_categories.begin(), p.spec_.blocked_categories.end());
  p.spec_.blocked_categories.erase(
      std::unique(p.spec_.blocked_categories.begin(), p.spec_.blocked_categories.end()),
      p.spec_.blocked_categories.end());
  PREAU_ASSIGN_OR_RETURN(p.spec_.allow, NormaliseList(spec.allow, "profile allow list"));
  PREAU_ASSIGN_OR_RETURN(p.spec_.deny, NormaliseList(spec.deny, "profile deny list"));
  p.spec_.safe_search = spec.safe_search;
  p.safe_search_ = spec.safe_search;
  p.allow_ = HashList(p.spec_.allow);
  p.deny_ = HashList(p.spec_.deny);
  return p;
}

std::string Decision::ToString() const {
  std::string verb = blocked ? "blocked" : "allowed";
  switch (kind) {
    case RuleKind::kNone:
      return "allowed (no rule)";
    case RuleKind::kAllowList:
    case RuleKind::kDenyList:
      return verb + " by the " + rule + " (entry " + matched_entry + ")";
    case RuleKind::kCategory:
      return verb + " by category " + rule + " (entry " + matched_entry + ")";
    case RuleKind::kUrlRule:
      return verb + " by category " + rule + " (URL rule " + matched_entry + ")";
  }
  return verb;
}

Matcher::Matcher(std::vector<std::string> category_names, DomainSet domains, UrlRules urls)
    : category_names_(std::move(category_names)),
      domains_(std::move(domains)),
      urls_(std::move(urls)) {}

Verdict Matcher::Check(const SuffixHashes& s, const CompiledProfile& profile,
                       bool literal) const {
  Verdict v;
  int lowest = literal ? s.count - 1 : 0;  // an IP literal has no parent domains
  // Overlap the cache misses of all suffixes before walking them.
  for (int i = s.count - 1; i >= lowest; --i) domains_.Prefetch(s.hash[i]);
  const bool has_lists = profile.allow().size() + profile.deny().size() > 0;
  if (has_lists) {
    for (int i = s.count - 1; i >= lowest; --i) {
      if (profile.allow().Contains(s.hash[i])) return {false, RuleKind::kAllowList, 0, i};
      if (profile.deny().Contains(s.hash[i])) return {true, RuleKind::kDenyList, 0, i};
    }
  }
  for (int i = s.count - 1; i >= lowest; --i) {
    auto [lo, hi] = domains_.Find(s.hash[i]);
    for (size_t j = lo; j < hi; ++j) {
      uint8_t cat = domains_.category(j);
      if (profile.IsBlocked(cat)) return {true, RuleKind::kCategory, cat, i};
    }
  }
  return v;
}

void Matcher::CheckBatch(const SuffixHashes* s, size_t n, const CompiledProfile& profile,
                         Verdict* out) const {
  for (size_t q = 0; q < n; ++q) {
    for (int i = s[q].count - 1; i >= 0; --i) domains_.Prefetch(s[q].hash[i]);
  }
  for (size_t q = 0; q < n; ++q) out[q] = Check(s[q], profile);
}

Decision Matcher::Describe(const Verdict& v, std::string_view host,
                           const SuffixHashes& s) const {
  Decision d;
  d.blocked = v.blocked;
  d.kind = v.kind;
  if (v.suffix >= 0) d.matched_entry = std::string(host.substr(s.begin[v.suffix]));
  switch (v.kind) {
    case RuleKind::kAllowList:
      d.rule = "allow list";
      break;
    case RuleKind::kDenyList:
      d.rule = "deny list";
      break;
    case RuleKind::kCategory:
    case RuleKind::kUrlRule:
      d.rule = v.category < category_names_.size() ? category_names_[v.category]
                                                    : "category " + std::to_string(v.category);
      break;
    case RuleKind::kNone:
      break;
  }
  return d;
}

Decision Matcher::Decide(std::string_view host, const CompiledProfile& profile) const {
  std::string name(host);
  AsciiLowercase(name);
  while (!name.empty() && name.back() == '.') name.pop_back();
  while (!name.empty() && name.front() == '.') name.erase(name.begin());
  SuffixHashes s;
  if (!ComputeSuffixHashes(name, s)) return {};
  return Describe(Check(s, profile, IsIpv4Literal(name)), name, s);
}

Decision Matcher::DecideUrl(std::string_view url, const CompiledProfile& profile) const {
  std::optional<UrlParts> parts = SplitUrl(url);
  if (!parts) return {};
  SuffixHashes s;
  if (!ComputeSuffixHashes(parts->host, s)) return {};
  Verdict v = Check(s, profile, IsIpv4Literal(parts->host));
  if (v.kind != RuleKind::kNone) return Describe(v, parts->host, s);
  auto m = urls_.FindFirst(*parts, [&](uint8_t c) { return profile.IsBlocked(c); });
  if (!m) return {};
  Decision d = Describe({true, RuleKind::kUrlRule, m->category, -1}, parts->host, s);
  d.matched_entry = m->rule->text;
  return d;
}

}  // namespace preau::filter
