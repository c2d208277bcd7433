#include "common/filter/ut1_reader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "common/filter/domain_name.h"

namespace preau::filter {
namespace {

namespace fs = std::filesystem;

Result<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return DataLoss("error reading " + path.string());
  return ss.str();
}

// Calls fn(line_number, line) for each line, without its CR/LF.
template <typename Fn>
size_t ForEachLine(const std::string& text, Fn fn) {
  size_t n = 0, pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    std::string_view line(text.data() + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    fn(++n, line);
    pos = end + 1;
  }
  return n;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Shared line loop for `domains` and `urls`: comments and blank lines are skipped with a
// reason, so that loaded + skipped always equals the lines in the file.
template <typename Normalize>
size_t ParseList(const std::string& text, const char* file, Normalize normalize,
                 std::vector<std::string>& out, std::vector<SkippedLine>& skipped) {
  std::unordered_map<std::string, size_t> seen;  // entry -> first line
  return ForEachLine(text, [&](size_t n, std::string_view raw) {
    auto skip = [&](const std::string& why) {
      skipped.push_back({file, n, "line " + std::to_string(n) + ": " + why});
    };
    std::string_view line = Trim(raw);
    if (line.empty()) return skip("empty line");
    if (line.front() == '#') return skip("comment");
    Result<std::string> entry = normalize(line);
    if (!entry.ok()) return skip(entry.status().message());
    auto [it, inserted] = seen.emplace(*entry, n);
    if (!inserted) return skip("duplicate of line " + std::to_string(it->second));
    out.push_back(std::move(*entry));
  });
}

std::string_view AfterColon(std::string_view line) {
  size_t c = line.find(':');
  return c == std::string_view::npos ? std::string_view() : Trim(line.substr(c + 1));
}

std::map<std::string, Ut1Description> ParseGlobalUsage(const std::string& text) {
  std::map<std::string, Ut1Description> out;
  Ut1Description* cur = nullptr;
  ForEachLine(text, [&](size_t, std::string_view line) {
    if (line.empty() || line.front() == '#') return;
    auto starts = [&](std::string_view p) { return line.substr(0, p.size()) == p; };
    if (starts("NAME:")) {
      cur = &out[std::string(AfterColon(line))];
    } else if (cur == nullptr) {
      return;
    } else if (starts("DEFAULT_TYPE")) {
      cur->default_type = AfterColon(line);
    } else if (starts("NAME EN")) {
      cur->name_en = AfterColon(line);
    } else if (starts("NAME FR")) {
      cur->name_fr = AfterColon(line);
    } else if (starts("DESC EN")) {
      cur->desc_en = AfterColon(line);
    } else if (starts("DESC FR")) {
      cur->desc_fr = AfterColon(line);
    }
  });
  return out;
}

}  // namespace

bool Ut1Category::IsWhite() const {
  return std::find(usage.begin(), usage.end(), "white") != usage.end();
}

size_t Ut1Data::TotalDomains() const {
  size_t n = 0;
  for (const auto& c : categories) n += c.domains.size();
  return n;
}

size_t Ut1Data::TotalUrls() const {
  size_t n = 0;
  for (const auto& c : categories) n += c.urls.size();
  return n;
}

const Ut1Category* Ut1Data::Find(const std::string& name) const {
  for (const auto& c : categories) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<std::string> NormalizeUrlRule(std::string_view raw) {
  std::string_view s = Trim(raw);
  size_t scheme = s.find("://");
  if (scheme != std::string_view::npos) s.remove_prefix(scheme + 3);
  size_t hash = s.find('#');
  if (hash != std::string_view::npos) s = s.substr(0, hash);
  size_t slash = s.find_first_of("/?");
  std::string_view host = s.substr(0, slash);
  std::string_view rest = slash == std::string_view::npos ? std::string_view() : s.substr(slash);
  size_t colon = host.find(':');  // a port: not part of the host name
  if (colon != std::string_view::npos) host = host.substr(0, colon);
  Result<std::string> h = NormalizeDomain(host);
  if (!h.ok()) {
    return InvalidArgument("not a URL: '" + std::string(raw.substr(0, 60)) + "' (host " +
                           h.status().message() + ")");
  }
  for (char c : rest) {
    if (c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x20) {
      return InvalidArgument("not a URL: '" + std::string(raw.substr(0, 60)) +
                             "' (contains a space)");
    }
  }
  std::string out = *h;
  if (!rest.empty() && rest != "/") {
    if (rest.front() == '?') out += '/';
    out += rest;
  }
  AsciiLowercase(out);
  return out;
}

void ParseDomainsText(const std::string& text, Ut1Category& into) {
  into.domain_lines += ParseList(
      text, "domains", [](std::string_view l) { return NormalizeDomain(l); }, into.domains,
      into.skipped);
}

void ParseUrlsText(const std::string& text, Ut1Category& into) {
  into.url_lines += ParseList(
      text, "urls", [](std::string_view l) { return NormalizeUrlRule(l); }, into.urls,
      into.skipped);
}

Result<Ut1Data> ReadUt1(const std::string& dir) {
  Ut1Data data;
  try {
    fs::path root(dir);
    if (!fs::is_directory(root)) return NotFound("not a folder: " + dir);
    for (const auto& entry : fs::directory_iterator(root)) {
      if (!entry.is_directory()) continue;
      fs::path domains = entry.path() / "domains";
      if (!fs::exists(domains)) continue;
      Ut1Category cat;
      cat.name = entry.path().filename().string();
      PREAU_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(domains));
      ParseDomainsText(text, cat);
      if (fs::exists(entry.path() / "urls")) {
        PREAU_ASSIGN_OR_RETURN(std::string urls, ReadWholeFile(entry.path() / "urls"));
        ParseUrlsText(urls, cat);
      }
      if (fs::exists(entry.path() / "usage")) {
        PREAU_ASSIGN_OR_RETURN(std::string usage, ReadWholeFile(entry.path() / "usage"));
        ForEachLine(usage, [&](size_t, std::string_view l) {
          l = Trim(l);
          if (!l.empty() && l.front() != '#') cat.usage.emplace_back(l);
        });
      }
      data.categories.push_back(std::move(cat));
    }
    if (fs::exists(root / "global_usage")) {
      PREAU_ASSIGN_OR_RETURN(std::string g, ReadWholeFile(root / "global_usage"));
      data.descriptions = ParseGlobalUsage(g);
    }
  } catch (const std::exception& e) {
    return Internal(std::string("reading UT1 folder ") + dir + ": " + e.what());
  }
  std::sort(data.categories.begin(), data.categories.end(),
            [](const Ut1Category& a, const Ut1Category& b) { return a.name < b.name; });
  return data;
}

}  // namespace preau::filter
