// PolicyParser: reads a policy written in YAML (see docs/policy.md and policies/) into a
// PolicySpec, or explains everything that is wrong with it.
//
// The parser is strict because a typo in a school's policy silently does nothing: unknown
// keys are refused (with the closest known key as a suggestion), times and slots must be
// well formed, and the compiled spec then goes through ValidateSpec for impossible
// schedules and conflicting rules. Every error carries file, line and key path, and all of
// them are returned at once so that one `preau policy check` shows the whole list.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/policy_error.h"
#include "common/policy/policy_validator.h"
#include "preau/v1/policy_spec.pb.h"

namespace preau::policy {

// The largest policy file a group accepts.
inline constexpr size_t kMaxPolicySourceBytes = 256 * 1024;

struct ParseOptions {
  // kFragment for one level of a chain (a class that overrides two keys); kEffective for a
  // policy meant to stand alone on a device.
  Completeness completeness = Completeness::kFragment;
  // Also what applying the file to a group requires: a name of 1 to 64 letters, digits,
  // '-', '_' or '.', and at most kMaxPolicySourceBytes. `policy check` and the server's
  // apply both ask for it, so that check passes exactly what apply accepts.
  bool for_apply = false;
};

struct ParsedPolicy {
  v1::PolicySpec spec;
  std::string file;  // as given, used in error messages
  SourceMap lines;   // key path -> line, to locate later errors (inheritance)
};

struct ParseResult {
  std::optional<ParsedPolicy> policy;  // set only when there is no error
  std::vector<PolicyError> errors;     // sorted by line
  bool ok() const { return errors.empty(); }
};

// An app id as policies and class commands name apps ("fr.lumni.app", "org.mozilla.firefox"):
// letters, digits, '.', '_' and '-', starting with a letter or digit, no "..", so that it
// can never be read as a path.
bool ValidAppId(const std::string& s);

// `file` names the source in errors ("eni.yaml"); the text is not read from it.
ParseResult ParsePolicy(std::string_view yaml, const std::string& file,
                        const ParseOptions& options = {});
// Reads `path` and parses it; errors name `path` as given.
ParseResult ParsePolicyFile(const std::string& path, const ParseOptions& options = {});

// Turns validation issues (key paths) into located errors for `file` through `lines`.
std::vector<PolicyError> LocateIssues(const std::vector<ValidationIssue>& issues,
                                      const std::string& file, const SourceMap& lines);

}  // namespace preau::policy
