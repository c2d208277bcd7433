#include "common/json.h"

#include <cmath>
#include <cstdio>

namespace preau {

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

Json Json::Uint(uint64_t n) {
  Json j;
  j.kind_ = Kind::kUint;
  j.uint_ = n;
  return j;
}

Json Json::Number(double d) {
  Json j;
  j.kind_ = Kind::kNumber;
  j.number_ = d;
  return j;
}

Json Json::String(std::string s) {
  Json j;
  j.kind_ = Kind::kString;
  j.str_ = std::move(s);
  return j;
}

Json Json::Raw(std::string json) {
  Json j;
  j.kind_ = Kind::kRaw;
  j.str_ = std::move(json);
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

Json& Json::Add(Json v) {
  items_.push_back(std::move(v));
  return *this;
}

Json& Json::Set(std::string key, Json v) {
  keys_.push_back(std::move(key));
  items_.push_back(std::move(v));
  return *this;
}

std::string Json::Dump(int indent) const {
  std::string out;
  DumpTo(out, indent, 0);
  return out;
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
    case Kind::kUint: out += std::to_string(uint_); return;
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
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out += ',';
        newline(depth + 1);
        if (object) {
          out += JsonQuote(keys_[i]);
          out += indent > 0 ? ": " : ":";
        }
        items_[i].DumpTo(out, indent, depth + 1);
      }
      if (!items_.empty()) newline(depth);
      out += object ? '}' : ']';
      return;
    }
  }
}

std::string Json::CsvText() const {
  switch (kind_) {
    case Kind::kNull: return "";
    case Kind::kString: return str_;
    case Kind::kArray: {
      std::string s;
      for (size_t i = 0; i < items_.size(); ++i) s += (i ? ";" : "") + items_[i].CsvText();
      return s;
    }
    default: return Dump(0);
  }
}

std::string JsonQuote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = Utf8SequenceLength(s, i);
    if (len == 0) {
      out += "\\ufffd";
      ++i;
      continue;
    }
    if (len > 1) {
      out.append(s, i, len);
      i += len;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out + "\"";
}

}  // namespace preau
