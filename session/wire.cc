#include "session/wire.h"

namespace preau::session {

std::string EscapeText(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string UnescapeText(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string> SplitFields(std::string_view line, size_t max_fields) {
  std::vector<std::string> out;
  while (!line.empty() && out.size() + 1 < max_fields) {
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) break;
    out.emplace_back(line.substr(0, sp));
    line.remove_prefix(sp + 1);
  }
  if (!line.empty() || out.size() + 1 == max_fields) out.emplace_back(line);
  return out;
}

bool LineBuffer::Append(const char* data, size_t n) {
  buf_.append(data, n);
  size_t nl = buf_.rfind('\n');
  size_t tail = nl == std::string::npos ? buf_.size() : buf_.size() - nl - 1;
  return tail <= kMaxLine;
}

bool LineBuffer::Next(std::string* line) {
  size_t nl = buf_.find('\n');
  if (nl == std::string::npos) return false;
  line->assign(buf_, 0, nl);
  buf_.erase(0, nl + 1);
  return true;
}

}  // namespace preau::session
