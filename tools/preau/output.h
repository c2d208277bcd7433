// Output: how every `preau` listing prints, so that all of them read the same way.
//
// A command builds a Table (named columns, rows of Cells) and renders it in the format the
// user chose with `-o`: an aligned text table for people, CSV (RFC 4180 quoting, header
// row) or JSON (an array of objects with snake_case keys) for scripts. A Cell carries both
// what a person reads ("82%", "yes", "-") and the typed value a script gets (82, true,
// null), so one row definition serves the three formats. Json is the small JSON
// model behind it (common/json.h), also used directly for single objects (`devices show -o json`).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace preau::cli {

enum class OutputFormat { kTable, kJson, kCsv };

// "table", "json" or "csv"; anything else is an InvalidArgument naming the choices.
Result<OutputFormat> ParseOutputFormat(const std::string& text);

// One value of a row: `display` for the text table, `value` for JSON and CSV.
struct Cell {
  std::string display;
  Json value;

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
  static Cell Custom(std::string display, Json value);
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
  const std::vector<Column>& columns() const { return columns_; }

  // The whole rendering, ending with a newline (an empty JSON listing is "[]\n").
  std::string Render(OutputFormat format) const;
  // Row `i` as a JSON object of the data columns (for commands showing a single item).
  Json RowObject(size_t i) const;
  // Row `i` for a person, one aligned "Header  value" line per data column.
  std::string RenderRecord(size_t i) const;

 private:
  friend class TableStream;
  std::string RenderText() const;
  // The text rows (and header with `header`), each column at least `width` wide; widens
  // `width` to this table's cells first.
  std::string RenderTextLines(std::vector<size_t>& width, bool header) const;
  std::string RenderCsv(bool header = true) const;

  std::vector<Column> columns_;
  std::vector<std::vector<Cell>> rows_;
};

// TableStream: a listing printed page by page as its pages arrive, so that a fleet of any
// size is listed in bounded memory and reads as if it had been rendered whole: one header,
// one JSON array across the pages, text columns as wide as the widest cell so far (a later
// page may widen them, never narrow them).
class TableStream {
 public:
  TableStream(std::vector<Column> columns, OutputFormat format, std::ostream& out);
  // Prints `page`'s rows (a Table with this stream's columns), flushed.
  void Write(const Table& page);
  // Ends the listing (JSON's closing bracket; a header alone for an empty table).
  void Finish();

 private:
  std::vector<Column> columns_;
  OutputFormat format_;
  std::ostream& out_;
  std::vector<size_t> width_;
  size_t rows_ = 0;
};

// RFC 4180: quoted when it holds a comma, a quote or a line break; quotes doubled.
std::string CsvField(const std::string& s);
// Terminal-safe text: control characters (escape sequences a device could put in its
// name) become '?'.
std::string Printable(const std::string& s);
// 1536 -> "1.5 KiB".
std::string HumanBytes(uint64_t n);

}  // namespace preau::cli
