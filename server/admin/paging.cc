#include "server/admin/paging.h"

#include "common/pki.h"

namespace preau::server {

namespace {
constexpr char kHex[] = "0123456789abcdef";
constexpr size_t kCheckChars = 16;

std::string Payload(const std::string& listing, const std::string& filter,
                    const std::string& key) {
  return listing + '\n' + filter + '\n' + key;
}

std::string Check(const std::string& payload) {
  return pki::Sha256Hex("preau page token\n" + payload).substr(0, kCheckChars);
}

std::optional<std::string> FromHex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}
}  // namespace

std::string PageToken(const std::string& listing, const std::string& filter,
                      const std::string& last_key) {
  std::string payload = Payload(listing, filter, last_key);
  std::string token;
  for (unsigned char c : payload) {
    token += kHex[c >> 4];
    token += kHex[c & 15];
  }
  return token + "." + Check(payload);
}

Result<PageCursor> OpenPage(const std::string& listing, const std::string& filter,
                            uint32_t page_size, const std::string& token) {
  PageCursor page;
  page.size = page_size == 0 ? kDefaultPageSize : std::min(page_size, kMaxPageSize);
  if (token.empty()) return page;
  const std::string garbled =
      "page token '" + token.substr(0, 40) + (token.size() > 40 ? "…" : "") +
      "' is not one this server gave for a " + listing +
      " listing (garbled or truncated?): start again without --page-token";
  size_t dot = token.rfind('.');
  if (dot == std::string::npos) return InvalidArgument(garbled);
  auto payload = FromHex(token.substr(0, dot));
  if (!payload || token.substr(dot + 1) != Check(*payload)) return InvalidArgument(garbled);
  std::string prefix = Payload(listing, filter, "");
  if (payload->compare(0, prefix.size(), prefix) != 0) {
    return InvalidArgument("page token was given for another listing or other filters than this " +
                           listing + " listing: resume with the same filters, or start again "
                           "without --page-token");
  }
  page.after = payload->substr(prefix.size());
  if (page.after.empty()) return InvalidArgument(garbled);
  return page;
}

}  // namespace preau::server
