// Output: how every `preau` listing prints, so that all of them read the same way.
//
// A command builds a Table (named columns, rows of Cells) and renders it in the format the
// user chose with `-o`: an aligned text table for people, CSV (RFC 4180 quoting, header
// row) or JSON (an array of objects with snake_case keys) for scripts. A Cell carries both
// what a person reads ("82%", "yes", "-") and the typed value a script gets (82, true,
// null), so one row definition serves the three formats. JsonValue is the small JSON
// model behind it, also used directly for single objects (`devices show -o json`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace preau::cli {

enum class OutputFormat { kTable, kJson, kCsv };

// "table", "json" or "csv"; anything else is an InvalidArgument naming the choices.
Result<OutputFormat> ParseOutputFormat(const std::string& text);

// A JSON value: null, boolean, integer, string, array or object (keys keep their order).
class JsonValue {
 public:
  JsonValue() = default;  // null
  static JsonValue Null() { return {}; }
  static JsonValue Bool(bool b);
  static JsonValue Int(int64_t n);
  static JsonValue Uint(uint64_t n);
  static JsonValue String(std::string s);
  static JsonValue Array();
  static JsonValue Object();

  bool is_null() const { return kind_ == Kind::kNull; }
  // Appends to an array.
  JsonValue& Append(JsonValue v);
  // Adds a member to an object (no check for duplicates: callers own their keys).
  JsonValue& Set(std::string key, JsonValue v);

  // Indented JSON text, ending without a newline. Strings are escaped, and bytes that
  // are not valid UTF-8 become U+FFFD so that the output always parses.
  std::string Dump(int indent = 2) const;
  // A scalar as CSV wants it: strings as is, numbers in decimal, true/false, "" for null;
  // arrays join their scalars with ';'.
  std::string CsvText() const;

 private:
  enum class Kind { kNull, kBool, kInt, kUint, kString, kArray, kObject };
  void DumpTo(std::string& out, int indent, int depth) const;

  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  std::string string_;
  std::vector<std::string> keys_;  // objects
  std::vector<JsonValue> items_;   // array items, or object values beside keys_
};

// One value of a row: `display` for the text table, `value` for JSON and CSV.
struct Cell {
  std::string display;
  JsonValue value;

  static Cell Text(std::string s);               // "" shows as "-" and is "" in JSON
  static Cell OptionalText(std::string s);       // "" shows as "-" and is null in JSON
  static Cell Int(int64_t n);
  static Cell Uint(uint64_t n);
  static Cell Bool(bool b);                      // yes/no; true/false
  static Cell Time(int64_t unix_ms);             // local ISO 8601; 0 is "-" and null
  static Cell Bytes(uint64_t n);                 // "3.8 GiB"; the exact count in data
  static Cell Null();                            // "-" and null
  static Cell List(const std::vector<std::string>& items, const std::string& empty_display);
  // A cell whose table text differs from its data (e.g. "82%" for 82).
  static Cell Custom(std::string display, JsonValue value);
};

// Where a column appears: some columns exist only for people (OS = name + version) and
// some only for scripts (memory_bytes), so the table stays narrow and the data complete.
enum class Shown { kEverywhere, kTableOnly, kDataOnly };

struct Column {
  std::string key;     // snake_case: JSON key and CSV header
  std::string header;  // what people read, e.g. "Last seen" (upper-cased as a table header)
  Shown shown = Shown::kEverywhere;
};

class Table {
 public:
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  // One cell per column, in column order.
  void AddRow(std::vector<Cell> cells);
  size_t size() const { return rows_.size(); }

  // The whole rendering, ending with a newline (an empty JSON listing is "[]\n").
  std::string Render(OutputFormat format) const;
  // Row `i` as a JSON object of the data columns (for commands showing a single item).
  JsonValue RowObject(size_t i) const;
  // Row `i` for a person, one aligned "Header  value" line per data column.
  std::string RenderRecord(size_t i) const;

 private:
  std::string RenderText() const;
  std::string RenderCsv() const;

  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

// RFC 4180: quoted when it holds a comma, a quote or a line break; quotes doubled.
std::string CsvField(const std::string& s);
// `s` as a JSON string literal, quotes included.
std::string JsonString(const std::string& s);
// Terminal-safe text: control characters (escape sequences a device could put in its
// name) become '?'.
std::string Printable(const std::string& s);
// 1536 -> "1.5 KiB".
std::string HumanBytes(uint64_t n);

}  // namespace preau::cli
