// Json: the one small JSON writer of the project (report rows and device exports on the
// server, `-o json` in the CLI). A value is built, then dumped; nothing is parsed here
// (protobuf's JSON support reads what must be read). Objects keep their keys in insertion
// order, so that the same data always prints the same text; bytes that are not valid
// UTF-8 become U+FFFD, so the output always parses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/utf8.h"

namespace preau {

class Json {
 public:
  Json() = default;  // null
  static Json Null() { return {}; }
  static Json Bool(bool b);
  static Json Int(int64_t n);
  static Json Uint(uint64_t n);
  static Json Number(double d);  // non-finite numbers print as null
  static Json String(std::string s);
  // Already-serialized JSON, inserted as is (e.g. a protobuf message's JSON form).
  static Json Raw(std::string json);
  static Json Array();
  static Json Object();

  bool is_null() const { return kind_ == Kind::kNull; }
  size_t size() const { return items_.size(); }
  // Appends to an array.
  Json& Add(Json v);
  // Adds a member to an object (no check for duplicates: callers own their keys).
  Json& Set(std::string key, Json v);

  // JSON text indented by `indent` spaces per level (0: one line), no final newline.
  std::string Dump(int indent = 2) const;
  // A scalar as CSV wants it: strings as is, numbers in decimal, true/false, "" for null;
  // arrays join their scalars with ';', objects are their one-line JSON.
  std::string CsvText() const;
  // Appends the JSON text as it reads nested `depth` levels deep (for a listing that
  // writes its array's items one at a time).
  void DumpTo(std::string& out, int indent, int depth) const;

 private:
  enum class Kind { kNull, kBool, kInt, kUint, kNumber, kString, kRaw, kArray, kObject };

  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  double number_ = 0;
  std::string str_;                // strings and raw JSON
  std::vector<std::string> keys_;  // objects
  std::vector<Json> items_;        // array items, or object values beside keys_
};

// `s` as a JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD.
std::string JsonQuote(const std::string& s);

}  // namespace preau
