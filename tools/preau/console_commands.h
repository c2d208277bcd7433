// Console commands: `preau operators link NAME [--until HH:MM]` — a one-time sign-in link
// to the teachers' console in the browser (ConsoleService.CreateLink, admins only,
// audited), valid 10 minutes, printed with a QR code to scan with a phone or the ENI's
// camera. The session it opens ends at --until (default: the end of the day).
// `preau operators password NAME [--clear]` sets the console password, read from the
// first line of standard input (never from the command line, which others can see).
#pragma once

#include <istream>
#include <string>

#include "common/status.h"
#include "tools/preau/cli_context.h"

namespace preau::cli {

struct OperatorsLinkOptions {
  std::string name;
  std::string until;  // HH:MM today, local time; empty: the end of the day
  bool no_qr = false;
};
Status OperatorsLink(const CliContext& ctx, const OperatorsLinkOptions& o);

struct OperatorsPasswordOptions {
  std::string name;
  bool clear = false;
};
Status OperatorsPassword(const CliContext& ctx, const OperatorsPasswordOptions& o,
                         std::istream& in);

// The QR code of `text` as terminal text (two modules per character, with its quiet
// zone), dark modules as spaces on a light ground so that it scans on dark terminals.
Result<std::string> QrCodeText(const std::string& text);

}  // namespace preau::cli
