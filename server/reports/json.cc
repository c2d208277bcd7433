#include "server/reports/json.h"

#include <cmath>
#include <cstdio>

namespace preau::server {

Json Json::Bool(bool b) {
  Json j;
  j.kind_ = Kind::kBool;
  j.bool_ = b;
  return j;
}
Json Json::Int(int64_t n) {
  Json j;
  j.kind_ = Kind::kInt;
  j.int_ = n;
  return j;
}
Json Json::Number(double d) {
  Json j;
  j.kind_ = Kind::kNumber;
  j.number_ = d;
  return j;
}
Json Json::Str(std::string s) {
  Json j;
  j.kind_ = Kind::kString;
  j.str_ = std::move(s);
  return j;
}
Json Json::Array() {
  Json j;
  j.kind_ = Kind::kArray;
  return j;
}
Json Json::Object() {
  Json j;
  j.kind_ = Kind::kObject;
  return j;
}
Json Json::Raw(std::string json) {
  Json j;
  j.kind_ = Kind::kRaw;
  j.str_ = std::move(json);
  return j;
}
Json& Json::Add(Json v) {
  items_.push_back(std::move(v));
  return *this;
}
Json& Json::Set(std::string key, Json v) {
  keys_.push_back(std::move(key));
  items_.push_back(std::move(v));
  return *this;
}

namespace {
// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t Utf8Length(const std::string& s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}
}  // namespace

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    size_t n = Utf8Length(s, i);
    if (n == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    char c = s[i];
    if (n > 1) {
      out.append(s, i, n);
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
    i += n;
  }
  return out + "\"";
}

void Json::DumpTo(std::string& out, int indent, int depth) const {
  auto newline = [&](int d) {
    if (indent <= 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (kind_) {
    case Kind::kNull: out += "null"; return;
    case Kind::kBool: out += bool_ ? "true" : "false"; return;
    case Kind::kInt: out += std::to_string(int_); return;
    case Kind::kNumber: {
      if (!std::isfinite(number_)) {
        out += "null";
        return;
      }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10g", number_);
      out += buf;
      return;
    }
    case Kind::kString: out += JsonQuote(str_); return;
    case Kind::kRaw: out += str_.empty() ? "null" : str_; return;
    case Kind::kArray:
    case Kind::kObject: {
      bool object = kind_ == Kind::kObject;
      out += object ? '{' : '[';
      if (items_.empty()) {
        out += object ? '}' : ']';
        return;
      }
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out += ',';
        newline(depth + 1);
        if (object) {
          out += JsonQuote(keys_[i]);
          out += indent > 0 ? ": " : ":";
        }
        items_[i].DumpTo(out, indent, depth + 1);
      }
      newline(depth);
      out += object ? '}' : ']';
      return;
    }
  }
}

std::string Json::Dump(int indent) const {
  std::string out;
  DumpTo(out, indent, 0);
  return out;
}

}  // namespace preau::server
