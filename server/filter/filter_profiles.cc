#include "server/filter/filter_profiles.h"

#include <algorithm>
#include <cctype>

#include "common/pki.h"
#include "common/policy/inheritance.h"
#include "preau/v1/policy.pb.h"
#include "server/policy/policy_publisher.h"

namespace preau::server {

namespace {

void Normalise(std::vector<std::string>& v) {
  for (auto& s : v) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    while (!s.empty() && s.back() == '.') s.pop_back();
  }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  v.erase(std::remove(v.begin(), v.end(), std::string()), v.end());
}

std::vector<std::string> Items(const v1::StringList& l) { return {l.items().begin(), l.items().end()}; }

}  // namespace

const std::vector<std::string>& DefaultBlockedCategories() {
  // What no pupil should reach, plus the ways around the filter (DoH, VPN, proxies).
  static const std::vector<std::string> kDefault = {
      "adult",      "agressif", "cryptojacking", "dangerous_material", "ddos",
      "doh",        "drogue",   "gambling",      "hacking",            "malware",
      "mixed_adult", "phishing", "redirector",   "sect",               "vpn",
      "warez"};
  return kDefault;
}

ResolvedFilterProfile ProfileFromSpec(const v1::PolicySpec& spec, const std::string& source) {
  ResolvedFilterProfile r;
  r.source = source;
  const v1::WebFilterProfile& w = spec.web_filter();
  r.profile.blocked_categories =
      w.has_categories() ? Items(w.categories()) : DefaultBlockedCategories();
  r.profile.allow = Items(w.allow());
  r.profile.deny = Items(w.deny());
  r.profile.safe_search = w.has_safe_search() ? w.safe_search() : true;
  r.fail_closed = !(w.has_fail_open() && w.fail_open());
  Normalise(r.profile.blocked_categories);
  Normalise(r.profile.allow);
  Normalise(r.profile.deny);
  return r;
}

Result<ResolvedFilterProfile> DeviceFilterProfile(PolicyRecords& records,
                                                  const std::string& device_id) {
  PREAU_ASSIGN_OR_RETURN(auto issued, records.Bundle(device_id));
  if (!issued) return ProfileFromSpec(v1::PolicySpec(), "default");
  v1::SignedPolicyBundle signed_bundle;
  v1::PolicyBundle bundle;
  v1::PolicySpec spec;
  if (!signed_bundle.ParseFromString(issued->signed_bundle) ||
      !bundle.ParseFromString(signed_bundle.bundle()) || !spec.ParseFromString(bundle.spec())) {
    return DataLoss("the policy bundle stored for device " + device_id + " does not parse");
  }
  return ProfileFromSpec(spec, "policy " + bundle.name() + " v" +
                                   std::to_string(bundle.version()));
}

Result<ResolvedFilterProfile> GroupFilterProfile(PolicyRecords& records,
                                                 const std::string& group) {
  if (group.empty()) return ProfileFromSpec(v1::PolicySpec(), "default");
  std::vector<std::string> chain = GroupChain(group);
  PREAU_ASSIGN_OR_RETURN(auto versions, records.Versions(chain));  // newest first
  v1::PolicySpec effective;
  std::string source;
  size_t level = 0;
  for (const auto& g : chain) {
    auto it = std::find_if(versions.begin(), versions.end(),
                           [&](const PolicyVersionRecord& v) { return v.group == g; });
    if (it == versions.end()) continue;
    v1::PolicySpec spec;
    if (!spec.ParseFromString(it->spec)) {
      return DataLoss("the policy " + it->name + " stored for " + g + " does not parse");
    }
    policy::OverlaySpec(spec, &effective, level++, nullptr);
    source += (source.empty() ? "policy " : " + ") + it->name + " v" +
              std::to_string(it->version) + " (" + g + ")";
  }
  if (source.empty()) source = "default";
  return ProfileFromSpec(effective, source);
}

std::string ProfileKey(const filter::FilterProfile& p) {
  std::string text = "categories";
  for (const auto& c : p.blocked_categories) text += "\n" + c;
  text += "\nallow";
  for (const auto& a : p.allow) text += "\n" + a;
  text += "\ndeny";
  for (const auto& d : p.deny) text += "\n" + d;
  text += p.safe_search ? "\nsafe_search" : "\nno_safe_search";
  return pki::Sha256Hex(text);
}

}  // namespace preau::server
