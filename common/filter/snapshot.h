// Snapshot: the compiled, versioned, integrity-checked form of the filter that the server
// builds (UT1 lists + a profile) and agents load and answer from; plus deltas, so that an
// agent downloads the full set once and then only what changed.
//
// Format (little-endian; see docs/filter.md):
//   header, 80 bytes: magic "PREAUFLT", format version, header size, snapshot version,
//     payload size, entry count, category count, URL rule count, SHA-256 over header
//     bytes 0..47 and the whole payload (so neither a flipped version nor a flipped
//     entry goes unnoticed);
//   payload: metadata length (u32), then the metadata: categories (name, white flag),
//     profile (blocked category names, allow and deny lists, safe search), URL rules,
//     (format 2) the plain names of the categories KeepsNames lists; zero
//     padding to 8 bytes, then the sorted 64-bit
//     domain hashes and, in parallel, one category byte per hash.
// Loading reads the file into one 8-aligned buffer; the matcher's arrays point into it.
// A snapshot that is truncated, corrupt or malformed is refused with a message that says
// what is wrong; parsing never reads outside the buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/filter/matcher.h"
#include "common/filter/ut1_reader.h"
#include "common/status.h"

namespace preau::filter {

// Written: 2 (adds the plain names); read: 1 and 2 (a format-1 snapshot lists no names).
inline constexpr uint32_t kSnapshotFormatVersion = 2;

// The categories whose names a snapshot carries in plain form besides their hashes, for
// the agent to resolve: "doh" (the firewall refuses the DoH endpoints' addresses on 443).
// Small lists only (UT1's doh: about 3,000 names).
bool KeepsNames(std::string_view category);

struct CategoryInfo {
  std::string name;
  bool white = false;  // an allow-style UT1 list (usage "white")
};

// Everything a snapshot holds, in builder form.
struct SnapshotContents {
  uint64_t version = 0;
  std::vector<CategoryInfo> categories;                 // id = index (at most 256)
  FilterProfile profile;
  std::vector<std::pair<uint8_t, std::string>> urls;    // (category id, "host/path")
  std::vector<DomainSet::Entry> entries;                // (HashDomain(name), category id)
  std::vector<std::pair<uint8_t, std::string>> names;   // (category id, name): KeepsNames only
};

struct SnapshotOptions {
  // Agents need only the categories their profile blocks; the server's `filter test` may
  // keep all of them. Category ids stay the same either way (stable across profiles).
  bool only_blocked_categories = true;
};

// Serialises `contents` (entries are sorted and deduplicated here).
Result<std::string> BuildSnapshot(SnapshotContents contents);
class Snapshot;

// A device's snapshot cut from a full set (one built with every category): the entries
// and URL rules of the categories `profile` blocks, category ids unchanged. Writes
// straight from the full set's arrays: the only memory it takes is the result's.
Result<std::string> CutSnapshot(const Snapshot& full, const FilterProfile& profile,
                                uint64_t version);
// UT1 data + profile -> snapshot bytes. Categories are numbered in name order.
Result<std::string> BuildSnapshot(const Ut1Data& data, const FilterProfile& profile,
                                  uint64_t version, const SnapshotOptions& options = {});

class Snapshot {
 public:
  // Validates and loads serialised bytes (copied once into an aligned buffer).
  static Result<std::shared_ptr<const Snapshot>> Parse(std::string_view bytes);
  // Reads a snapshot file straight into its buffer.
  static Result<std::shared_ptr<const Snapshot>> LoadFile(const std::string& path);

  uint64_t version() const { return version_; }
  const std::string& sha256_hex() const { return sha256_hex_; }  // the header's checksum
  const std::vector<CategoryInfo>& categories() const { return categories_; }
  const Matcher& matcher() const { return matcher_; }
  const CompiledProfile& profile() const { return profile_; }
  size_t entry_count() const { return matcher_.domains().size(); }
  std::string_view bytes() const;  // the serialised snapshot
  // The plain names the snapshot carries for `category` (KeepsNames; sorted), if any.
  std::vector<std::string> NamesIn(std::string_view category) const;

  // Shorthands for matcher().Decide(host, profile()).
  Decision Decide(std::string_view host) const { return matcher_.Decide(host, profile_); }
  Decision DecideUrl(std::string_view url) const { return matcher_.DecideUrl(url, profile_); }

  // Writes bytes() to `path` atomically (temporary file, fsync, rename).
  Status WriteFile(const std::string& path) const;

  struct Buffer;  // the aligned bytes; internal

 private:
  friend Result<std::string> MakeDelta(const Snapshot& from, const Snapshot& to);
  friend Result<std::string> CutSnapshot(const Snapshot& full, const FilterProfile& profile,
                                         uint64_t version);
  friend Result<std::shared_ptr<const Snapshot>> ApplyDelta(const Snapshot& from,
                                                            std::string_view delta);
  static Result<std::shared_ptr<const Snapshot>> FromBuffer(std::shared_ptr<Buffer> buf);

  std::shared_ptr<Buffer> buffer_;
  uint64_t version_ = 0;
  std::string sha256_hex_;
  size_t meta_end_ = 0;  // end of categories/profile/urls in the buffer
  std::vector<CategoryInfo> categories_;
  std::vector<std::pair<uint8_t, std::string>> names_;
  Matcher matcher_;
  CompiledProfile profile_;
};

// A delta turns snapshot `from` into `to`: `to`'s header fields, categories, profile and
// URL rules in full (small) and the (hash, category) entries removed and added.
Result<std::string> MakeDelta(const Snapshot& from, const Snapshot& to);
// Applies a delta made against `from`; returns the target snapshot, checked against the
// target's SHA-256 (so the result is exactly the snapshot the server built). Memory: the
// target's bytes, built in place (no intermediate copy).
Result<std::shared_ptr<const Snapshot>> ApplyDelta(const Snapshot& from,
                                                   std::string_view delta);

}  // namespace preau::filter
