// Class commands: a teacher's class control from the command line (`preau class lock|
// unlock|focus|open|allow PATH`), over ClassService.
//
// The call returns once every connected device acked or --wait passed. The command then
// prints one line per device that did not act and why, and the summary line of CLI.md:
//   28/30 locked, 2 offline (will lock when they reconnect, until 10:45)
// With -o json or csv it prints one row per device instead (device_id, device_name,
// outcome, detail). Exit 0 once the server took the command, whatever devices answered:
// the lines say who did not act.
#pragma once

#include <string>

#include "common/status.h"
#include "preau/v1/command.pb.h"
#include "tools/preau/cli_context.h"

namespace preau::cli {

struct ClassCommandOptions {
  std::string verb;          // lock, unlock, focus, open, allow, message, wifi
  std::string group;         // authority/school/class
  std::string message;       // lock
  std::string app;           // focus
  std::string url;           // focus, open
  std::string site;          // allow
  bool wifi_on = false;      // wifi --on
  bool wifi_off = false;     // wifi --off
  std::string for_duration;  // e.g. 45m; empty: until lifted
  std::string wait = "5s";   // how long to wait for the devices' acks
};
Status ClassRun(const CliContext& ctx, const ClassCommandOptions& o);

}  // namespace preau::cli
