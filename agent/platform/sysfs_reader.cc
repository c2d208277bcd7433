#include "agent/platform/sysfs_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace preau::agent {
namespace {

constexpr size_t kMaxFileSize = 1 << 20;

bool IsTrimmable(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

}  // namespace

std::string TrimWhitespace(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && IsTrimmable(s[b])) ++b;
  while (e > b && IsTrimmable(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

SysfsReader::SysfsReader(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  real_root_ = root_.empty() || root_ == "/";
  if (real_root_) root_.clear();
}

std::string SysfsReader::Resolve(std::string_view path) const {
  std::string out = root_;
  if (path.empty() || path.front() != '/') out += '/';
  out += path;
  return out;
}

std::optional<std::string> SysfsReader::Read(std::string_view path) const {
  // Plain read(): /proc and /sys files report a size of 0 or 4096 whatever they hold.
  int fd = open(Resolve(path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  while (out.size() < kMaxFileSize) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return std::nullopt;  // e.g. EACCES on a root-only sysfs attribute, EISDIR
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::optional<std::string> SysfsReader::ReadTrimmed(std::string_view path) const {
  std::optional<std::string> raw = Read(path);
  if (!raw) return std::nullopt;
  std::string t = TrimWhitespace(*raw);
  if (t.empty()) return std::nullopt;
  return t;
}

std::optional<uint64_t> SysfsReader::ReadUint(std::string_view path) const {
  std::optional<std::string> s = ReadTrimmed(path);
  if (!s) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size()) return std::nullopt;
  return v;
}

std::vector<std::string> SysfsReader::List(std::string_view dir) const {
  std::vector<std::string> names;
  DIR* d = opendir(Resolve(dir).c_str());
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool SysfsReader::Exists(std::string_view path) const {
  struct stat st;
  return stat(Resolve(path).c_str(), &st) == 0;
}

std::map<std::string, std::string> ParseOsRelease(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string line = TrimWhitespace(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    std::string key = line.substr(0, eq);
    std::string_view raw = std::string_view(line).substr(eq + 1);
    std::string value;
    if (!raw.empty() && (raw.front() == '"' || raw.front() == '\'')) {
      char quote = raw.front();
      for (size_t i = 1; i < raw.size() && raw[i] != quote; ++i) {
        if (raw[i] == '\\' && quote == '"' && i + 1 < raw.size()) ++i;
        value += raw[i];
      }
    } else {
      value = std::string(raw);
    }
    out[key] = value;
  }
  return out;
}

std::optional<std::string> FindColonField(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (TrimWhitespace(line.substr(0, colon)) == key) {
      return TrimWhitespace(line.substr(colon + 1));
    }
  }
  return std::nullopt;
}

}  // namespace preau::agent
