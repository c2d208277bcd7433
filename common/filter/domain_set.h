// DomainSet: the compact set of (domain hash, category id) pairs the filter looks names up
// in, sized for the whole UT1 publication (about 5.8 million entries) on a tablet.
//
// Entries are two flat arrays sorted by hash: 64-bit hashes (see domain_hash.h) and, in
// parallel, one category byte each. A table of 2^k offsets indexed by the top k bits of the
// hash (k = floor(log2(n)), so one or two entries per bucket) turns a lookup into one or
// two cache-line reads. Memory: 9 bytes per entry plus at most 4 for the table. The arrays
// can be owned or borrowed from a loaded snapshot buffer, so loading copies nothing.
// A name listed in two categories is two entries with the same hash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace preau::filter {

class DomainSet {
 public:
  struct Entry {
    uint64_t hash;
    uint8_t category;
    bool operator<(const Entry& o) const {
      return hash != o.hash ? hash < o.hash : category < o.category;
    }
    bool operator==(const Entry& o) const { return hash == o.hash && category == o.category; }
  };

  DomainSet();
  DomainSet(DomainSet&&) noexcept = default;
  DomainSet& operator=(DomainSet&&) noexcept = default;
  DomainSet(const DomainSet&) = delete;
  DomainSet& operator=(const DomainSet&) = delete;

  // Owns its arrays; sorts `entries` and removes exact duplicates.
  static DomainSet Build(std::vector<Entry> entries);
  // Borrows arrays already sorted by (hash, category) and free of duplicates (checked by
  // the snapshot loader); `keep_alive` holds the buffer they live in.
  static DomainSet View(const uint64_t* hashes, const uint8_t* categories, size_t n,
                        std::shared_ptr<const void> keep_alive);

  size_t size() const { return n_; }
  uint64_t hash(size_t i) const { return hashes_[i]; }
  uint8_t category(size_t i) const { return categories_[i]; }
  const uint64_t* hashes() const { return hashes_; }
  const uint8_t* categories() const { return categories_; }

  // Index range [first, second) of the entries whose hash is `hash` (empty if none).
  std::pair<size_t, size_t> Find(uint64_t hash) const {
    size_t g = Guess(hash);
    size_t b = hash >> shift_;
    size_t lo = index_[b], hi = index_[b + 1];
    if (lo == hi) return {lo, lo};
    // Hashes are uniform, so the guess is within a few entries: walk to the first >= hash.
    if (hashes_[g] < hash) {
      while (g < hi && hashes_[g] < hash) ++g;
    } else {
      while (g > lo && hashes_[g - 1] >= hash) --g;
    }
    size_t end = g;
    while (end < hi && hashes_[end] == hash) ++end;
    return {g, end};
  }
  bool Contains(uint64_t hash) const {
    auto r = Find(hash);
    return r.first != r.second;
  }
  // Starts loading the cache line where `hash` should be, so that the lookups of all the
  // suffixes of a name wait for memory together rather than one after the other.
  void Prefetch(uint64_t hash) const {
    if (n_ == 0) return;
    size_t g = Guess(hash);
    __builtin_prefetch(&hashes_[g]);
    __builtin_prefetch(&categories_[g]);
  }

  // Bytes used by the arrays and the bucket table.
  size_t MemoryBytes() const;

 private:
  void BuildIndex();
  // Interpolated position of `hash` inside its bucket (valid index, or 0 when empty).
  size_t Guess(uint64_t hash) const {
    size_t b = hash >> shift_;
    size_t lo = index_[b], hi = index_[b + 1];
    uint64_t frac = (hash << (64 - shift_)) >> 32;
    size_t g = lo + static_cast<size_t>(((hi - lo) * frac) >> 32);
    return g < n_ ? g : (n_ == 0 ? 0 : n_ - 1);
  }

  std::vector<uint64_t> own_hashes_;
  std::vector<uint8_t> own_categories_;
  std::shared_ptr<const void> keep_alive_;
  const uint64_t* hashes_ = nullptr;
  const uint8_t* categories_ = nullptr;
  size_t n_ = 0;
  int shift_ = 63;
  std::vector<uint32_t> index_;  // 2^k + 1 offsets
};

}  // namespace preau::filter
