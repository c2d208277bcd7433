// Json: a small JSON value for what the reports domain writes (report rows, a device's
// export). Objects keep their keys in insertion order so that exports read the same way
// every time; strings that are not valid UTF-8 have their bad bytes replaced, so the text
// always parses.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace preau::server {

class Json {
 public:
  Json() = default;  // null
  static Json Bool(bool b);
  static Json Int(int64_t n);
  static Json Number(double d);
  static Json Str(std::string s);
  static Json Array();
  static Json Object();
  // Already-serialized JSON, inserted as is (e.g. a protobuf message's JSON form).
  static Json Raw(std::string json);

  Json& Add(Json v);                  // to an array
  Json& Set(std::string key, Json v);  // to an object
  bool is_null() const { return kind_ == Kind::kNull; }
  size_t size() const { return items_.size(); }

  std::string Dump(int indent = 2) const;

 private:
  enum class Kind { kNull, kBool, kInt, kNumber, kString, kRaw, kArray, kObject };
  void DumpTo(std::string& out, int indent, int depth) const;

  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  int64_t int_ = 0;
  double number_ = 0;
  std::string str_;
  std::vector<std::string> keys_;
  std::vector<Json> items_;
};

// `s` as a JSON string literal (quotes included), invalid UTF-8 replaced by U+FFFD.
std::string JsonQuote(const std::string& s);

}  // namespace preau::server
