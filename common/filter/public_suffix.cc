#include "common/filter/public_suffix.h"

#include <cstdio>

#include "common/files.h"

namespace preau::filter {

PublicSuffixList PublicSuffixList::Parse(std::string_view text) {
  PublicSuffixList list;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    // A rule is the first word of its line.
    size_t stop = line.find_first_of(" \t\r");
    if (stop != std::string_view::npos) line = line.substr(0, stop);
    if (line.empty() || line.rfind("//", 0) == 0) continue;
    if (line.rfind("*.", 0) == 0) {
      list.wildcards_.emplace(line.substr(2));
    } else if (line.front() == '!') {
      list.exceptions_.emplace(line.substr(1));
    } else {
      list.rules_.emplace(line);
    }
  }
  return list;
}

Result<PublicSuffixList> PublicSuffixList::Load(const std::string& path) {
  PREAU_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  PublicSuffixList list = Parse(text);
  if (list.size() == 0) return DataLoss(path + " holds no public suffix rule");
  return list;
}

const PublicSuffixList& PublicSuffixList::System() {
  static const PublicSuffixList list = [] {
    auto loaded = Load();
    if (loaded.ok()) return std::move(loaded).value();
    std::fprintf(stderr,
                 "preau: public suffix list unavailable (%s): only top-level domains are "
                 "treated as public suffixes (install the `publicsuffix` package)\n",
                 loaded.status().message().c_str());
    return PublicSuffixList();
  }();
  return list;
}

bool PublicSuffixList::IsPublicSuffix(std::string_view domain) const {
  if (domain.empty()) return false;
  std::string d(domain);
  if (exceptions_.count(d)) return false;
  if (rules_.count(d)) return true;
  size_t dot = d.find('.');
  if (dot == std::string::npos) return true;  // the implicit "*" rule
  return wildcards_.count(d.substr(dot + 1)) > 0;
}

}  // namespace preau::filter
