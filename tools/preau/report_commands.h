// Report commands: the ReportService side of the CLI — `preau report inventory|usage|
// compliance`, `preau report retention`, `preau devices export ID` and
// `preau devices import FILE.csv`.
//
// Reports are built on the server (one implementation for every client) and come back as
// a document in the format asked for: a text table for the terminal, CSV for a
// spreadsheet, JSON for scripts, or one self-contained HTML file with charts for people
// who are not technical. With --out the document goes to that file (written atomically),
// otherwise to ctx.out.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tools/preau/cli_context.h"

namespace preau::cli {

struct ReportOptions {
  std::string kind;            // inventory, usage or compliance
  std::string group;           // empty: everything the caller may see
  std::string since = "30d";   // usage window, a duration
  std::string format = "table";  // table, csv, json or html
  std::string out;             // file to write; empty: ctx.out
};
Status Report(const CliContext& ctx, const ReportOptions& o);

struct RetentionOptions {
  uint32_t usage_months = 0;  // 0: unchanged
  int64_t retired_days = -1;  // -1: unchanged
};
// Prints the retention settings, after changing them when a value is given.
Status ReportRetention(const CliContext& ctx, const RetentionOptions& o);

struct DeviceExportOptions {
  std::string id;
  std::string out;  // file to write; empty: ctx.out
};
// Everything the server holds about one device, as JSON (GDPR right of access).
Status DevicesExport(const CliContext& ctx, const DeviceExportOptions& o);

struct DeviceImportOptions {
  std::string file;  // CSV: serial, model, state (+ name, group, purchased, ...)
};
// Stock-taking of devices without an agent; prints how many were added and updated.
Status DevicesImport(const CliContext& ctx, const DeviceImportOptions& o);

}  // namespace preau::cli
