#include "server/reports/report_table.h"

#include <algorithm>

namespace preau::server {

ReportValue ReportValue::Text(std::string s) {
  ReportValue v;
  if (s.empty()) return v;
  v.type = Type::kText;
  v.text = std::move(s);
  return v;
}
ReportValue ReportValue::Int(int64_t n) {
  ReportValue v;
  v.type = Type::kInt;
  v.number = n;
  return v;
}
ReportValue ReportValue::Bool(bool b) {
  ReportValue v;
  v.type = Type::kBool;
  v.flag = b;
  return v;
}

std::string ReportValue::Display() const {
  switch (type) {
    case Type::kEmpty: return "";
    case Type::kText: return text;
    case Type::kInt: return std::to_string(number);
    case Type::kBool: return flag ? "oui" : "non";
  }
  return "";
}

Json ReportValue::ToJson() const {
  switch (type) {
    case Type::kEmpty: return Json();
    case Type::kText: return Json::String(text);
    case Type::kInt: return Json::Int(number);
    case Type::kBool: return Json::Bool(flag);
  }
  return Json();
}

std::string CsvCell(const std::string& text) {
  std::string s = text;
  // A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
  if (!s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' ||
                     s[0] == '\t' || s[0] == '\r')) {
    s.insert(s.begin(), '\'');
  }
  bool quote = s.find_first_of(",\"\n\r;") != std::string::npos;
  if (!quote) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {
// CSV wants plain values: numbers and booleans as programs read them, text protected.
std::string CsvValue(const ReportValue& v) {
  switch (v.type) {
    case ReportValue::Type::kEmpty: return "";
    case ReportValue::Type::kText: return CsvCell(v.text);
    case ReportValue::Type::kInt: return std::to_string(v.number);
    case ReportValue::Type::kBool: return v.flag ? "true" : "false";
  }
  return "";
}

// Display width in code points (labels are French: accents are one column, not two bytes).
size_t Width(const std::string& s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}
}  // namespace

std::string ReportTable::ToCsv() const {
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) {
    out += (i ? "," : "") + CsvCell(columns[i].key);
  }
  out += "\r\n";
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      out += (i ? "," : "") + (i < row.size() ? CsvValue(row[i]) : std::string());
    }
    out += "\r\n";
  }
  return out;
}

std::string ReportTable::ToJson() const {
  Json arr = Json::Array();
  for (const auto& row : rows) {
    Json obj = Json::Object();
    for (size_t i = 0; i < columns.size(); ++i) {
      obj.Set(columns[i].key, i < row.size() ? row[i].ToJson() : Json());
    }
    arr.Add(std::move(obj));
  }
  return arr.Dump() + "\n";
}

std::string ReportTable::ToText() const {
  std::vector<size_t> width(columns.size());
  auto clean = [](std::string s) {
    for (char& c : s) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    return s.empty() ? std::string("-") : s;
  };
  for (size_t i = 0; i < columns.size(); ++i) width[i] = Width(columns[i].label);
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size() && i < row.size(); ++i) {
      width[i] = std::max(width[i], Width(clean(row[i].Display())));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      l += cells[i];
      if (i + 1 < cells.size()) l.append(width[i] - Width(cells[i]) + 2, ' ');
    }
    out += l + "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : columns) header.push_back(c.label);
  line(header);
  for (const auto& row : rows) {
    std::vector<std::string> cells;
    for (size_t i = 0; i < columns.size(); ++i) {
      cells.push_back(clean(i < row.size() ? row[i].Display() : ""));
    }
    line(cells);
  }
  return out;
}

}  // namespace preau::server
