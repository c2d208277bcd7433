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

// --- Cell -------------------------------------------------------------------------------------

Cell Cell::Text(std::string s) {
  std::string display = s.empty() ? "-" : s;
  return {std::move(display), Json::String(std::move(s))};
}

Cell Cell::OptionalText(std::string s) {
  if (s.empty()) return Null();
  return {s, Json::String(s)};
}

Cell Cell::Int(int64_t n) { return {std::to_string(n), Json::Int(n)}; }
Cell Cell::Uint(uint64_t n) { return {std::to_string(n), Json::Uint(n)}; }
Cell Cell::Bool(bool b) { return {b ? "yes" : "no", Json::Bool(b)}; }

Cell Cell::Time(int64_t unix_ms) {
  if (unix_ms == 0) return Null();
  std::string t = FormatLocalTime(unix_ms);
  return {t, Json::String(t)};
}

Cell Cell::Bytes(uint64_t n) { return {HumanBytes(n), Json::Uint(n)}; }
Cell Cell::Null() { return {"-", Json::Null()}; }

Cell Cell::List(const std::vector<std::string>& items, const std::string& empty_display) {
  Json array = Json::Array();
  std::string display;
  for (const auto& s : items) {
    array.Add(Json::String(s));
    display += (display.empty() ? "" : ", ") + s;
  }
  return {items.empty() ? empty_display : display, std::move(array)};
}

Cell Cell::Custom(std::string display, Json value) {
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
      Json array = Json::Array();
      for (size_t i = 0; i < rows_.size(); ++i) array.Add(RowObject(i));
      return array.Dump() + "\n";
    }
  }
  return "";
}

Json Table::RowObject(size_t i) const {
  Json obj = Json::Object();
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
  std::vector<size_t> width;
  return RenderTextLines(width, /*header=*/true);
}

std::string Table::RenderTextLines(std::vector<size_t>& width, bool with_header) const {
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
  width.resize(shown.size(), 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], DisplayWidth(line[i]));
  }
  std::string out;
  for (size_t l = with_header ? 0 : 1; l < lines.size(); ++l) {
    const auto& line = lines[l];
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

std::string Table::RenderCsv(bool with_header) const {
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
  if (with_header) emit(header);
  for (const auto& row : rows_) {
    std::vector<std::string> fields;
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (columns_[c].shown != Shown::kTableOnly) fields.push_back(row[c].value.CsvText());
    }
    emit(fields);
  }
  return out;
}

// --- streamed listings ---------------------------------------------------------------------------

TableStream::TableStream(std::vector<Column> columns, OutputFormat format, std::ostream& out)
    : columns_(std::move(columns)), format_(format), out_(out) {}

void TableStream::Write(const Table& page) {
  if (page.size() == 0) return;
  std::string text;
  switch (format_) {
    case OutputFormat::kTable: text = page.RenderTextLines(width_, rows_ == 0); break;
    case OutputFormat::kCsv: text = page.RenderCsv(rows_ == 0); break;
    case OutputFormat::kJson:
      for (size_t i = 0; i < page.size(); ++i) {
        text += rows_ + i == 0 ? "[\n  " : ",\n  ";
        page.RowObject(i).DumpTo(text, 2, 1);
      }
      break;
  }
  rows_ += page.size();
  out_ << text << std::flush;
}

void TableStream::Finish() {
  if (rows_ == 0) {
    out_ << Table(columns_).Render(format_);
  } else if (format_ == OutputFormat::kJson) {
    out_ << "\n]\n";
  }
  out_ << std::flush;
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
