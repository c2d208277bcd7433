// ReportTable: one report's rows, typed, and their renderings for people and programs.
//
// Columns have a snake_case key (JSON key, CSV header) and a French label (HTML and the
// text table). Values are typed (text, integer, yes/no, empty) so that CSV and JSON say the
// same thing: JSON gets numbers and booleans, CSV their decimal / true|false text. CSV is
// RFC 4180 with a BOM-less UTF-8 header row, and every text cell that a spreadsheet would
// run as a formula (starting with = + - @, or a tab / carriage return) is prefixed with a
// quote, so a device named "=HYPERLINK(...)" stays text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/json.h"

namespace preau::server {

struct ReportValue {
  enum class Type { kEmpty, kText, kInt, kBool };
  Type type = Type::kEmpty;
  std::string text;
  int64_t number = 0;
  bool flag = false;

  static ReportValue Empty() { return {}; }
  static ReportValue Text(std::string s);  // "" becomes Empty
  static ReportValue Int(int64_t n);
  static ReportValue Bool(bool b);

  // As a person reads it: "oui"/"non", numbers in decimal, "" for empty.
  std::string Display() const;
  Json ToJson() const;
};

struct ReportColumn {
  std::string key;    // snake_case
  std::string label;  // French, for people
};

struct ReportTable {
  std::string title;
  std::vector<ReportColumn> columns;
  std::vector<std::vector<ReportValue>> rows;

  std::string ToCsv() const;
  std::string ToJson() const;  // an array of objects, snake_case keys
  std::string ToText() const;  // aligned columns, for a terminal
};

// One CSV field: formula-looking text is prefixed with ', then RFC 4180 quoting.
std::string CsvCell(const std::string& text);

}  // namespace preau::server
