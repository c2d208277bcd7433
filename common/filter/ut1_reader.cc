#include "common/filter/ut1_reader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "common/filter/domain_hash.h"
#include "common/filter/domain_name.h"
#include "common/filter/url_rules.h"

namespace preau::filter {
namespace {

namespace fs = std::filesystem;

// Reads into a string sized once: a 100 MB `domains` file costs 100 MB, not twice that.
Result<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path.string());
  std::error_code ec;
  uintmax_t size = fs::file_size(path, ec);
  std::string text;
  if (!ec) {
    text.resize(static_cast<size_t>(size));
    in.read(text.data(), static_cast<std::streamsize>(size));
    text.resize(static_cast<size_t>(in.gcount()));
  }
  // Whatever the size did not account for (a file still growing, or no size at all).
  std::ostringstream rest;
  if (in.good() || ec) rest << in.rdbuf();
  if (in.bad()) return DataLoss("error reading " + path.string());
  text += rest.str();
  return text;
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

std::vector<std::string> ParseUsage(const std::string& text) {
  std::vector<std::string> usage;
  ForEachLine(text, [&](size_t, std::string_view l) {
    l = Trim(l);
    if (!l.empty() && l.front() != '#') usage.emplace_back(l);
  });
  return usage;
}

// The category folders under `root` (those with a `domains` file), sorted by name.
std::vector<fs::path> CategoryFolders(const fs::path& root) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory() && fs::exists(entry.path() / "domains")) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename() < b.filename(); });
  return out;
}

SkippedLine DomainSkip(size_t n, const std::string& why) {
  return {"domains", n, "line " + std::to_string(n) + ": " + why};
}

// One loaded line of a `domains` file while its duplicates are being found.
struct HashedLine {
  uint64_t hash;
  uint32_t line;    // 1-based
  uint32_t offset;  // where the line starts in the text (to compare names on equal hashes)
};

// The line of `text` starting at `offset`, normalised (it normalised fine the first time).
std::string NormalizedAt(const std::string& text, size_t offset) {
  size_t nl = text.find('\n', offset);
  std::string_view line(text.data() + offset,
                        (nl == std::string::npos ? text.size() : nl) - offset);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  Result<std::string> d = NormalizeDomain(Trim(line));
  return d.ok() ? *d : std::string();
}

}  // namespace

bool IsWhiteCategory(const std::vector<std::string>& usage, const std::string& default_type) {
  if (!default_type.empty()) return default_type == "white";
  auto says = [&](const char* w) { return std::find(usage.begin(), usage.end(), w) != usage.end(); };
  return says("white") && !says("black");
}

bool Ut1Category::IsWhite() const { return IsWhiteCategory(usage, default_type); }

bool Ut1HashedCategory::IsWhite() const { return IsWhiteCategory(usage, default_type); }

void HashDomainsText(const std::string& text, size_t max_reasons, Ut1HashedCategory& into) {
  // Lines are numbered in 32 bits and duplicates told apart by re-reading the earlier line
  // at its 32-bit offset; past 4 GiB of text (far beyond any list) equal hashes alone say
  // "duplicate", which is what the snapshot, holding only hashes, sees anyway.
  const bool offsets_fit = text.size() <= UINT32_MAX;
  // Sized once: growing by doubling would hold twice the whole-set array for a moment.
  std::vector<HashedLine> loaded;
  loaded.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  std::vector<SkippedLine> skips;  // other than duplicates: the first max_reasons only
  size_t skip_count = 0;
  size_t lines = ForEachLine(text, [&](size_t n, std::string_view raw) {
    auto skip = [&](const std::string& why) {
      ++skip_count;
      if (skips.size() < max_reasons) skips.push_back(DomainSkip(n, why));
    };
    std::string_view line = Trim(raw);
    if (line.empty()) return skip("empty line");
    if (line.front() == '#') return skip("comment");
    Result<std::string> entry = NormalizeDomain(line);
    if (!entry.ok()) return skip(entry.status().message());
    uint32_t offset = offsets_fit ? static_cast<uint32_t>(raw.data() - text.data()) : 0;
    loaded.push_back({HashDomain(*entry), static_cast<uint32_t>(n), offset});
  });
  into.domain_lines += lines;

  // Duplicates: equal hashes side by side, the first line of each name kept.
  std::sort(loaded.begin(), loaded.end(), [](const HashedLine& a, const HashedLine& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.line < b.line;
  });
  std::vector<std::pair<uint32_t, uint32_t>> dups;  // (line, line it repeats)
  std::vector<uint64_t>& hashes = into.domain_hashes;
  size_t first_new = hashes.size();
  hashes.reserve(first_new + loaded.size());
  for (size_t i = 0; i < loaded.size();) {
    size_t end = i + 1;
    while (end < loaded.size() && loaded[end].hash == loaded[i].hash) ++end;
    hashes.push_back(loaded[i].hash);
    if (end - i > 1) {
      std::vector<std::pair<std::string, uint32_t>> names;  // distinct names of the group
      if (offsets_fit) names.emplace_back(NormalizedAt(text, loaded[i].offset), loaded[i].line);
      for (size_t k = i + 1; k < end; ++k) {
        uint32_t repeats = loaded[i].line;
        if (offsets_fit) {
          std::string name = NormalizedAt(text, loaded[k].offset);
          auto it = std::find_if(names.begin(), names.end(),
                                 [&](const auto& p) { return p.first == name; });
          if (it == names.end()) {  // a true 64-bit collision: a name of its own
            names.emplace_back(std::move(name), loaded[k].line);
            hashes.push_back(loaded[k].hash);
            continue;
          }
          repeats = it->second;
        }
        dups.emplace_back(loaded[k].line, repeats);
      }
    }
    i = end;
  }
  std::vector<HashedLine>().swap(loaded);
  std::sort(hashes.begin() + static_cast<std::ptrdiff_t>(first_new), hashes.end());

  // The first max_reasons skipped lines in line order: duplicates merged with the rest.
  std::sort(dups.begin(), dups.end());
  std::vector<SkippedLine> merged;
  size_t a = 0, b = 0;
  while (merged.size() < max_reasons && (a < skips.size() || b < dups.size())) {
    if (b == dups.size() || (a < skips.size() && skips[a].line < dups[b].first)) {
      merged.push_back(std::move(skips[a++]));
    } else {
      merged.push_back(DomainSkip(dups[b].first,
                                  "duplicate of line " + std::to_string(dups[b].second)));
      ++b;
    }
  }
  into.skipped_count += skip_count + dups.size();
  for (auto& s : merged) {
    if (into.skipped.size() >= max_reasons) break;
    into.skipped.push_back(std::move(s));
  }
}

Status ReadUt1Hashed(const std::string& dir, size_t max_reasons,
                     const std::function<Status(Ut1HashedCategory&)>& fn,
                     std::map<std::string, Ut1Description>* descriptions) {
  try {
    fs::path root(dir);
    if (!fs::is_directory(root)) return NotFound("not a folder: " + dir);
    std::map<std::string, Ut1Description> global;
    if (fs::exists(root / "global_usage")) {
      PREAU_ASSIGN_OR_RETURN(std::string g, ReadWholeFile(root / "global_usage"));
      global = ParseGlobalUsage(g);
    }
    for (const fs::path& folder : CategoryFolders(root)) {
      Ut1HashedCategory cat;
      cat.name = folder.filename().string();
      if (auto it = global.find(cat.name); it != global.end()) cat.default_type = it->second.default_type;
      {
        PREAU_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(folder / "domains"));
        HashDomainsText(text, max_reasons, cat);
      }
      if (fs::exists(folder / "urls")) {
        PREAU_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(folder / "urls"));
        Ut1Category urls;
        ParseUrlsText(text, urls);
        cat.urls = std::move(urls.urls);
        cat.url_lines = urls.url_lines;
        cat.skipped_count += urls.skipped.size();
        for (auto& s : urls.skipped) {
          if (cat.skipped.size() >= max_reasons) break;
          cat.skipped.push_back(std::move(s));
        }
      }
      if (fs::exists(folder / "usage")) {
        PREAU_ASSIGN_OR_RETURN(std::string usage, ReadWholeFile(folder / "usage"));
        cat.usage = ParseUsage(usage);
      }
      PREAU_RETURN_IF_ERROR(fn(cat));
    }
    if (descriptions != nullptr) *descriptions = std::move(global);
  } catch (const std::exception& e) {
    return Internal(std::string("reading UT1 folder ") + dir + ": " + e.what());
  }
  return Status::Ok();
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
  for (char c : s) {
    if (c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x20) {
      return InvalidArgument("not a URL: '" + std::string(raw.substr(0, 60)) +
                             "' (contains a space)");
    }
  }
  // Rules and the URLs they are matched against go through the same normalisation.
  Result<UrlParts> parts = ParseUrl(s);
  if (!parts.ok()) {
    return InvalidArgument("not a URL: '" + std::string(raw.substr(0, 60)) + "' (" +
                           parts.status().message() + ")");
  }
  if (parts->path == "/") return parts->host;
  return parts->host + parts->path;
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
    for (const fs::path& folder : CategoryFolders(root)) {
      Ut1Category cat;
      cat.name = folder.filename().string();
      PREAU_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(folder / "domains"));
      ParseDomainsText(text, cat);
      if (fs::exists(folder / "urls")) {
        PREAU_ASSIGN_OR_RETURN(std::string urls, ReadWholeFile(folder / "urls"));
        ParseUrlsText(urls, cat);
      }
      if (fs::exists(folder / "usage")) {
        PREAU_ASSIGN_OR_RETURN(std::string usage, ReadWholeFile(folder / "usage"));
        cat.usage = ParseUsage(usage);
      }
      data.categories.push_back(std::move(cat));
    }
    if (fs::exists(root / "global_usage")) {
      PREAU_ASSIGN_OR_RETURN(std::string g, ReadWholeFile(root / "global_usage"));
      data.descriptions = ParseGlobalUsage(g);
    }
    for (Ut1Category& cat : data.categories) {
      auto it = data.descriptions.find(cat.name);
      if (it != data.descriptions.end()) cat.default_type = it->second.default_type;
    }
  } catch (const std::exception& e) {
    return Internal(std::string("reading UT1 folder ") + dir + ": " + e.what());
  }
  std::sort(data.categories.begin(), data.categories.end(),
            [](const Ut1Category& a, const Ut1Category& b) { return a.name < b.name; });
  return data;
}

}  // namespace preau::filter
