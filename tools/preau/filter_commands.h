// Filter commands: the FilterService side of the CLI — import a UT1-layout folder (read
// here and streamed: the server never reads the operator's disk), list the imported
// versions and categories, and test a domain or URL against a group's profile.
//
// Same shape as the other areas: plain functions over the shared CliContext; results go
// to ctx.out in ctx.format; a failure comes back as a Status saying what and why.
#pragma once

#include <string>

#include "common/status.h"
#include "tools/preau/cli_context.h"

namespace preau::cli {

struct FilterImportOptions {
  std::string dir;  // the UT1 folder: one sub-folder per category, global_usage at the top
  bool force = false;  // import even an empty set, or one where categories lose most domains
};
// Prints, per category, the entries loaded and the lines skipped with their reasons.
Status FilterImport(const CliContext& ctx, const FilterImportOptions& o);

// Imported versions (newest first) and the current version's categories with counts.
Status FilterList(const CliContext& ctx);

// Makes the lists of an earlier version current again (as a new version).
Status FilterRollback(const CliContext& ctx, uint64_t version);

struct FilterTestOptions {
  std::string target;  // a domain or a URL
  std::string group;   // whose profile; empty: the default profile
};
// Prints the decision and the rule that made it.
Status FilterTest(const CliContext& ctx, const FilterTestOptions& o);

}  // namespace preau::cli
