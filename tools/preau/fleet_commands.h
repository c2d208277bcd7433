// Fleet commands: the AdminService side of the CLI (groups, enrolment tokens, devices,
// operators, the audit log, whoami).
//
// Each command is a plain function taking the shared CliContext and its own options, so
// main.cc only wires flags to fields, and tests or other tools can call them directly.
// Results go to ctx.out in ctx.format; failures come back as a Status whose message says
// what failed and why (main prints it and exits 1). Flag values are expected to have
// been checked by the command line already (durations, roles); they are checked again
// here so that direct callers get a clear InvalidArgument rather than a surprise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/preau/cli_context.h"

namespace preau::cli {

// Every listing pages (devices, groups, operators, audit): the CLI follows the server's
// pages by itself, printing each as it comes, unless `limit` stops it after that many
// items; then the token that resumes is printed on ctx.err for `--page-token`.
struct PageOptions {
  uint32_t limit = 0;       // at most this many items; 0: all
  std::string page_token;   // resume where a listing stopped
};

// --- groups -------------------------------------------------------------------------------
struct GroupsCreateOptions {
  std::string path;  // authority/school/class
};
Status GroupsCreate(const CliContext& ctx, const GroupsCreateOptions& o);
Status GroupsList(const CliContext& ctx, const PageOptions& page);
struct GroupsRenameOptions {
  std::string path;
  std::string new_path;
};
Status GroupsRename(const CliContext& ctx, const GroupsRenameOptions& o);
Status GroupsDelete(const CliContext& ctx, const GroupsCreateOptions& o);  // o.path

// --- enrolment tokens -----------------------------------------------------------------------
struct TokenCreateOptions {
  std::string group;
  uint32_t uses = 1;
  std::string expires = "24h";  // a duration
};
// Prints the token alone on a line (table format) or an object (json/csv); a note with
// its group, uses and expiry goes to ctx.err.
Status TokenCreate(const CliContext& ctx, const TokenCreateOptions& o);

// --- devices --------------------------------------------------------------------------------
struct DevicesListOptions {
  std::string group;  // this group and those below it; empty: all the caller may see
  bool online_only = false;
  bool include_retired = false;
  PageOptions page;
};
Status DevicesList(const CliContext& ctx, const DevicesListOptions& o);

struct DeviceIdOptions {
  std::string id;
};
// Every field, inventory included (disks, interfaces, battery, apps); json: one object.
Status DevicesShow(const CliContext& ctx, const DeviceIdOptions& o);

struct DevicesMoveOptions {
  std::string id;
  std::string group;
};
Status DevicesMove(const CliContext& ctx, const DevicesMoveOptions& o);
// Revokes the device's certificate: it can no longer connect.
Status DevicesRetire(const CliContext& ctx, const DeviceIdOptions& o);
// The hotline's two gestures: send a connected device its policy (and filter, catalogue)
// again; close its connection so that its agent starts over.
Status DevicesResend(const CliContext& ctx, const DeviceIdOptions& o);
Status DevicesRestart(const CliContext& ctx, const DeviceIdOptions& o);

// --- operators --------------------------------------------------------------------------------
struct OperatorsCreateOptions {
  std::string name;
  std::string role;                 // one of RoleNames() (common/roles.h)
  std::vector<std::string> scopes;  // group paths; none: the whole authority
  std::string hours;                // periscolaire: "mon,tue,thu,fri 16:30-18:00"
  std::string out;                  // credentials file to create (never overwritten)
  // Address written into the new file; empty: the one in the caller's credentials file
  // (or, if it names none, the address this call used).
  std::string server_address;
};
// The key is generated here and only a CSR is sent; the new credentials file (mode 0600)
// is reserved before the server is asked, so a file that cannot be written never leaves
// behind an operator whose key is lost.
Status OperatorsCreate(const CliContext& ctx, const OperatorsCreateOptions& o);
Status OperatorsList(const CliContext& ctx, const PageOptions& page);
Status OperatorsShow(const CliContext& ctx, const std::string& name);
// Revoked at once: the server ends its open calls and refuses its credentials.
Status OperatorsRevoke(const CliContext& ctx, const std::string& name);
struct OperatorsRenewOptions {
  std::string name;
  std::string out;  // the new credentials file (never overwritten)
};
// New credentials (a new key made here, a CSR sent), while the old ones still work.
Status OperatorsRenew(const CliContext& ctx, const OperatorsRenewOptions& o);

// --- audit ------------------------------------------------------------------------------------
struct AuditListOptions {
  std::string since;   // a duration back from now; empty: the whole log
  PageOptions page;
};
Status AuditList(const CliContext& ctx, const AuditListOptions& o);

// --- whoami -----------------------------------------------------------------------------------
// The caller's name, role and scopes as the server sees them, and where it connected.
Status WhoAmI(const CliContext& ctx);


}  // namespace preau::cli
