// Paging: how every listing RPC (devices, groups, operators, audit) hands out a result that
// grows with the fleet a page at a time, so that neither side holds the whole fleet nor
// meets gRPC's message cap. A page token is opaque to clients: it names the listing and
// the filters it was made for, and the primary key of the last row sent (keyset paging:
// rows inserted or removed meanwhile never shift a page, as OFFSET would), with a checksum
// so that a garbled or foreign token is refused with a clear error rather than silently
// starting somewhere else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/repeated_ptr_field.h>

#include "common/status.h"

namespace preau::server {

inline constexpr uint32_t kDefaultPageSize = 500;
inline constexpr uint32_t kMaxPageSize = 1000;
// A page ends before its items pass this size, well under gRPC's default 4 MiB cap
// (a device's inventory can hold hundreds of apps).
inline constexpr size_t kMaxPageBytes = 2u << 20;
// Rows one call may look at (filters such as --online can skip most of them): the page
// then ends short, with a token, instead of scanning the whole fleet in one call.
inline constexpr size_t kMaxScanRows = 20000;

struct PageCursor {
  uint32_t size = kDefaultPageSize;  // items wanted, capped at kMaxPageSize
  std::string after;                 // key of the last row already sent; "" from the start
};

// Reads a request's page size and token. `listing` names the RPC ("devices") and `filter`
// the request's filters in a fixed form: a token made for another listing or other filters,
// or garbled, is an InvalidArgument saying so.
Result<PageCursor> OpenPage(const std::string& listing, const std::string& filter,
                            uint32_t page_size, const std::string& token);
// The token that resumes after `last_key`.
std::string PageToken(const std::string& listing, const std::string& filter,
                      const std::string& last_key);

// Fills `out` with one page: rows come from `fetch(after, n)` (the next `n` rows of the
// table in key order after key `after`), `key(row)` is a row's key, and `convert(row)` the
// item to send or nullopt for a row the caller filters out (scope, online). Returns the
// next page token's key, or "" when the listing is complete.
template <typename Item, typename Fetch, typename Key, typename Convert>
Result<std::string> FillPage(const PageCursor& page, Fetch&& fetch, Key&& key,
                             Convert&& convert, google::protobuf::RepeatedPtrField<Item>* out) {
  std::string after = page.after;
  size_t bytes = 0;
  size_t scanned = 0;
  for (;;) {
    PREAU_ASSIGN_OR_RETURN(auto rows, fetch(after, page.size));
    for (auto& row : rows) {
      if (out->size() >= static_cast<int>(page.size) || scanned >= kMaxScanRows) return after;
      std::string row_key = key(row);  // before convert, which may move from the row
      std::optional<Item> item = convert(row);
      ++scanned;
      if (item) {
        size_t n = item->ByteSizeLong();
        if (!out->empty() && bytes + n > kMaxPageBytes) return after;
        bytes += n;
        *out->Add() = std::move(*item);
      }
      after = std::move(row_key);
    }
    if (rows.size() < page.size) return std::string();
  }
}

}  // namespace preau::server
