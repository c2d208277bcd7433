#include "tools/preau/output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/duration.h"

namespace preau::cli {

Result<OutputFormat> ParseOutputFormat(const std::string& text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  if (text == "csv") return OutputFormat::kCsv;
  return InvalidArgument("output format '" + text + "': expected table, json or csv");
}

// --- JsonValue ------------------------------------------------------------------------------

JsonValue JsonValue::Bool(bool b) {
  JsonValue v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}

JsonValue JsonValue::Int(int64_t n) {
  JsonValue v;
  v.kind_ = Kind::kInt;
  v.int_ = n;
  return v;
}

JsonValue JsonValue::Uint(uint64_t n) {
  JsonValue v;
  v.kind_ = Kind::kUint;
  v.uint_ = n;
  return v;
}

JsonValue JsonValue::String(std::string s) {
  JsonValue v;
  v.kind_ = Kind::kString;
  v.string_ = std::move(s);
  return v;
}

JsonValue JsonValue::Array() {
  JsonValue v;
  v.kind_ = Kind::kArray;
  return v;
}

JsonValue JsonValue::Object() {
  JsonValue v;
  v.kind_ = Kind::kObject;
  return v;
}

JsonValue& JsonValue::Append(JsonValue v) {
  items_.push_back(std::move(v));
  return *this;
}

JsonValue& JsonValue::Set(std::string key, JsonValue v) {
  keys_.push_back(std::move(key));
  items_.push_back(std::move(v));
  return *this;
}

std::string JsonValue::Dump(int indent) const {
  std::string out;
  DumpTo(out, indent, 0);
  return out;
}

void JsonValue::DumpTo(std::string& out, int indent, int depth) const {
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
    case Kind::kString: out += JsonString(string_); return;
    case Kind::kArray:
    case Kind::kObject: {
      bool object = kind_ == Kind::kObject;
      out += object ? '{' : '[';
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out += ',';
        newline(depth + 1);
        if (object) {
          out += JsonString(keys_[i]);
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

std::string JsonValue::CsvText() const {
  switch (kind_) {
    case Kind::kNull: return "";
    case Kind::kBool: return bool_ ? "true" : "false";
    case Kind::kInt: return std::to_string(int_);
    case Kind::kUint: return std::to_string(uint_);
    case Kind::kString: return string_;
    case Kind::kArray: {
      std::string s;
      for (size_t i = 0; i < items_.size(); ++i) s += (i ? ";" : "") + items_[i].CsvText();
      return s;
    }
    case Kind::kObject: return Dump(0);
  }
  return "";
}

// --- Cell -------------------------------------------------------------------------------------

Cell Cell::Text(std::string s) {
  std::string display = s.empty() ? "-" : s;
  return {std::move(display), JsonValue::String(std::move(s))};
}

Cell Cell::OptionalText(std::string s) {
  if (s.empty()) return Null();
  return {s, JsonValue::String(s)};
}

Cell Cell::Int(int64_t n) { return {std::to_string(n), JsonValue::Int(n)}; }
Cell Cell::Uint(uint64_t n) { return {std::to_string(n), JsonValue::Uint(n)}; }
Cell Cell::Bool(bool b) { return {b ? "yes" : "no", JsonValue::Bool(b)}; }

Cell Cell::Time(int64_t unix_ms) {
  if (unix_ms == 0) return Null();
  std::string t = FormatLocalTime(unix_ms);
  return {t, JsonValue::String(t)};
}

Cell Cell::Bytes(uint64_t n) { return {HumanBytes(n), JsonValue::Uint(n)}; }
Cell Cell::Null() { return {"-", JsonValue::Null()}; }

Cell Cell::List(const std::vector<std::string>& items, const std::string& empty_display) {
  JsonValue array = JsonValue::Array();
  std::string display;
  for (const auto& s : items) {
    array.Append(JsonValue::String(s));
    display += (display.empty() ? "" : ", ") + s;
  }
  return {items.empty() ? empty_display : display, std::move(array)};
}

Cell Cell::Custom(std::string display, JsonValue value) {
  return {std::move(display), std::move(value)};
}

// --- Table ------------------------------------------------------------------------------------

void Table::AddRow(std::vector<Cell> cells) {
  cells.resize(columns_.size(), Cell::Null());
  rows_.push_back(std::move(cells));
}

std::string Table::Render(OutputFormat format) const {
  switch (format) {
    case OutputFormat::kTable: return RenderText();
    case OutputFormat::kCsv: return RenderCsv();
    case OutputFormat::kJson: {
      JsonValue array = JsonValue::Array();
      for (size_t i = 0; i < rows_.size(); ++i) array.Append(RowObject(i));
      return array.Dump() + "\n";
    }
  }
  return "";
}

JsonValue Table::RowObject(size_t i) const {
  JsonValue obj = JsonValue::Object();
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (columns_[c].shown == Shown::kTableOnly) continue;
    obj.Set(columns_[c].key, rows_[i][c].value);
  }
  return obj;
}

namespace {
// Terminal columns taken by UTF-8 text, counting code points (accents in school names are
// common; wide characters are not).
size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace

std::string Table::RenderText() const {
  std::vector<size_t> shown;
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (columns_[c].shown != Shown::kDataOnly) shown.push_back(c);
  }
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header;
  for (size_t c : shown) {
    std::string h = columns_[c].header;
    for (char& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    header.push_back(std::move(h));
  }
  lines.push_back(std::move(header));
  for (const auto& row : rows_) {
    std::vector<std::string> line;
    for (size_t c : shown) line.push_back(Printable(row[c].display));
    lines.push_back(std::move(line));
  }
  std::vector<size_t> width(shown.size(), 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], DisplayWidth(line[i]));
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text.append(width[i] - DisplayWidth(line[i]) + 2, ' ');
    }
    out += text + "\n";
  }
  return out;
}

std::string Table::RenderRecord(size_t i) const {
  size_t width = 0;
  for (const auto& col : columns_) {
    if (col.shown != Shown::kTableOnly) width = std::max(width, DisplayWidth(col.header));
  }
  std::string out;
  for (size_t c = 0; c < columns_.size(); ++c) {
    if (columns_[c].shown == Shown::kTableOnly) continue;
    out += columns_[c].header;
    out.append(width - DisplayWidth(columns_[c].header) + 2, ' ');
    out += Printable(rows_[i][c].display) + "\n";
  }
  return out;
}

std::string Table::RenderCsv() const {
  std::string out;
  auto emit = [&](const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i > 0) out += ',';
      out += CsvField(fields[i]);
    }
    out += "\n";
  };
  std::vector<std::string> header;
  for (const auto& col : columns_) {
    if (col.shown != Shown::kTableOnly) header.push_back(col.key);
  }
  emit(header);
  for (const auto& row : rows_) {
    std::vector<std::string> fields;
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (columns_[c].shown != Shown::kTableOnly) fields.push_back(row[c].value.CsvText());
    }
    emit(fields);
  }
  return out;
}

// --- text helpers -------------------------------------------------------------------------------

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {
// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid (overlong
// forms, surrogates and code points above U+10FFFF included).
size_t Utf8SequenceLength(const std::string& s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t len;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
  else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
  else return 0;
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}
}  // namespace

std::string JsonString(const std::string& s) {
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

std::string Printable(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    unsigned char u = static_cast<unsigned char>(s[i]);
    size_t len = Utf8SequenceLength(s, i);
    // C0 controls, DEL, C1 controls (U+0080..U+009F, which some terminals obey as escape
    // sequences) and bytes that are not UTF-8 all become '?'.
    bool c1 = len == 2 && u == 0xC2 && (static_cast<unsigned char>(s[i + 1]) & 0xE0) == 0x80;
    if (len == 0 || c1 || (len == 1 && (u < 0x20 || u == 0x7F))) {
      out += '?';
      i += len == 0 ? 1 : len;
      continue;
    }
    out.append(s, i, len);
    i += len;
  }
  return out;
}

std::string HumanBytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (n < 1024) return std::to_string(n) + " B";
  double v = static_cast<double>(n);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, kUnits[unit]);
  return buf;
}

}  // namespace preau::cli
