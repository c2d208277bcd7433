// PolicyError: one thing wrong with a policy, located where a person can fix it.
//
// Policies are written by hand, so every error names the file, the line and the key path
// ("eni.yaml:14: schedule.curfew.start: '25:00' is not a time HH:MM"). Checks that work on
// a compiled PolicySpec (validation, inheritance) only know key paths; a SourceMap, filled
// by the parser, turns a key path back into a line.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace preau::policy {

struct PolicyError {
  std::string file;  // empty when the policy did not come from a file
  int line = 0;      // 1-based; 0 when unknown
  std::string key;   // dotted path, list items as [i]: "apps.blocked[2]"
  std::string message;

  std::string ToString() const;  // "file:line: key: message"
};

// Where each key path was written: path -> 1-based line. Holds maps' keys and list items.
class SourceMap {
 public:
  void Set(const std::string& key_path, int line) { lines_[key_path] = line; }
  // The line of `key_path`, or of its closest written ancestor ("apps.blocked[3]" falls back
  // to "apps.blocked", then "apps"); 0 if none.
  int LineOf(const std::string& key_path) const;
  bool Has(const std::string& key_path) const { return lines_.count(key_path) > 0; }

 private:
  std::map<std::string, int> lines_;
};

// All errors, one per line, in order.
std::string FormatErrors(const std::vector<PolicyError>& errors);
// Ok when `errors` is empty, else InvalidArgument with FormatErrors as the message.
Status ErrorsToStatus(const std::vector<PolicyError>& errors);

}  // namespace preau::policy
