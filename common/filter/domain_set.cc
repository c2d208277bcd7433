#include "common/filter/domain_set.h"

#include <algorithm>
#include <bit>

namespace preau::filter {

DomainSet::DomainSet() : index_{0, 0, 0} {}

DomainSet DomainSet::Build(std::vector<Entry> entries) {
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  DomainSet s;
  s.own_hashes_.resize(entries.size());
  s.own_categories_.resize(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    s.own_hashes_[i] = entries[i].hash;
    s.own_categories_[i] = entries[i].category;
  }
  s.hashes_ = s.own_hashes_.data();
  s.categories_ = s.own_categories_.data();
  s.n_ = entries.size();
  s.BuildIndex();
  return s;
}

DomainSet DomainSet::View(const uint64_t* hashes, const uint8_t* categories, size_t n,
                          std::shared_ptr<const void> keep_alive) {
  DomainSet s;
  s.keep_alive_ = std::move(keep_alive);
  s.hashes_ = hashes;
  s.categories_ = categories;
  s.n_ = n;
  s.BuildIndex();
  return s;
}

void DomainSet::BuildIndex() {
  // k = floor(log2(n)) - 6, at least 1: 64 to 128 entries per bucket on average.
  int k = std::max(1, static_cast<int>(std::bit_width(n_)) - 7);
  k = std::min(k, 30);
  shift_ = 64 - k;
  size_t buckets = size_t{1} << k;
  index_.assign(buckets + 1, 0);
  size_t i = 0;
  for (size_t b = 0; b < buckets; ++b) {
    index_[b] = static_cast<uint32_t>(i);
    while (i < n_ && (hashes_[i] >> shift_) == b) ++i;
  }
  index_[buckets] = static_cast<uint32_t>(n_);
}

size_t DomainSet::MemoryBytes() const {
  return n_ * (sizeof(uint64_t) + sizeof(uint8_t)) + index_.capacity() * sizeof(uint32_t);
}

}  // namespace preau::filter
