// CliContext: what every `preau` command needs besides its own flags: where and as whom to
// connect, the output format, and where to print. Command areas (fleet, policy, class,
// apps, filter, report) expose plain functions `Status Xxx(const CliContext&, const
// XxxOptions&)`; main.cc fills the context from the global flags and maps the returned
// Status to the exit code and the "preau: ..." message.
#pragma once

#include <iostream>
#include <ostream>
#include <string>

#include "tools/preau/admin_client.h"
#include "tools/preau/output.h"

namespace preau::cli {

struct CliContext {
  ConnectionOptions connection;
  OutputFormat format = OutputFormat::kTable;
  std::ostream* out = &std::cout;  // results: what scripts capture
  std::ostream* err = &std::cerr;  // notes for people (e.g. a token's expiry)
};

// Writes a command's result to the context's output, flushed (scripts may read it live).
inline void Print(const CliContext& ctx, const std::string& text) {
  *ctx.out << text << std::flush;
}

}  // namespace preau::cli
