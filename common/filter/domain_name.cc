#include "common/filter/domain_name.h"

#include <cctype>

namespace preau::filter {
namespace {

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 60;
  std::string out = "'";
  for (char c : s.substr(0, kMax)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (s.size() > kMax) out += "...";
  return out + "'";
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v'; }

}  // namespace

void AsciiLowercase(std::string& s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

bool IsIpv4Literal(std::string_view host) {
  int parts = 0;
  size_t i = 0;
  while (i <= host.size()) {
    size_t j = i;
    int value = 0;
    while (j < host.size() && host[j] >= '0' && host[j] <= '9') {
      value = value * 10 + (host[j] - '0');
      if (j - i >= 3 || value > 255) return false;
      ++j;
    }
    if (j == i) return false;
    ++parts;
    if (j == host.size()) return parts == 4;
    if (host[j] != '.' || parts == 4) return false;
    i = j + 1;
  }
  return false;
}

Result<std::string> NormalizeDomain(std::string_view raw) {
  size_t b = 0, e = raw.size();
  while (b < e && IsSpace(raw[b])) ++b;
  while (e > b && IsSpace(raw[e - 1])) --e;
  std::string_view s = raw.substr(b, e - b);
  if (s.empty()) return InvalidArgument("empty name");
  auto bad = [&](const char* why) {
    return InvalidArgument("not a domain: " + Quote(raw) + " (" + why + ")");
  };
  if (s.find("://") != std::string_view::npos) return bad("a URL, not a domain");
  while (!s.empty() && s.front() == '.') s.remove_prefix(1);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty()) return bad("only dots");
  if (s.size() > 253) return bad("longer than 253 bytes");
  std::string out(s);
  AsciiLowercase(out);
  if (IsIpv4Literal(out)) return out;
  size_t label_len = 0;
  int labels = 1;
  for (char c : out) {
    if (c == '.') {
      if (label_len == 0) return bad("empty label");
      label_len = 0;
      ++labels;
      continue;
    }
    ++label_len;
    if (label_len > 63) return bad("label longer than 63 bytes");
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') continue;
    if (IsSpace(c)) return bad("contains a space");
    if (c == '/') return bad("contains '/', a URL rather than a domain");
    if (static_cast<unsigned char>(c) >= 0x80) return bad("non-ASCII, not punycode");
    return bad("invalid character");
  }
  if (label_len == 0) return bad("empty label");
  if (labels < 2) return bad("a single label");
  return out;
}

}  // namespace preau::filter
