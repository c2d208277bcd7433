// SysfsReader: reads the small text files of /proc, /sys and /etc that describe the
// machine, all below one root directory. Production uses "/"; tests point it at a fake
// tree. Every read is best effort: a missing or unreadable file (DMI serials are often
// root-only) gives nullopt, never an error, because an inventory with a hole is still
// worth sending.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace preau::agent {

class SysfsReader {
 public:
  explicit SysfsReader(std::string root);

  // True when reading the live system rather than a fake tree.
  bool IsRealRoot() const { return real_root_; }

  // `path` is absolute as on the device ("/proc/meminfo"); the result is below root.
  std::string Resolve(std::string_view path) const;

  // The whole file, up to 1 MiB.
  std::optional<std::string> Read(std::string_view path) const;
  // The file with surrounding whitespace and NUL bytes (device-tree strings) removed;
  // nullopt when missing or blank.
  std::optional<std::string> ReadTrimmed(std::string_view path) const;
  std::optional<uint64_t> ReadUint(std::string_view path) const;

  // Names in a directory (symlinked entries included), sorted; empty if unreadable.
  std::vector<std::string> List(std::string_view dir) const;
  bool Exists(std::string_view path) const;

 private:
  std::string root_;
  bool real_root_;
};

// "NAME=\"Debian GNU/Linux\"" lines (os-release) into a map, quotes and escapes removed.
std::map<std::string, std::string> ParseOsRelease(std::string_view text);

// "key : value" lines (/proc/cpuinfo, /proc/meminfo): the first value of `key`.
std::optional<std::string> FindColonField(std::string_view text, std::string_view key);

std::string TrimWhitespace(std::string_view s);

}  // namespace preau::agent
