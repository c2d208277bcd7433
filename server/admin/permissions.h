// Permissions: who may do what, as one table in code. Each role is a fixed set of
// permissions; each operators' RPC needs one permission, on the group it acts on when it
// acts on one (an operator's scopes: a group and everything below it). The server checks
// every call against this table (RunAdminCall, authz.h), an RPC that has no row is refused,
// and the README's roles table is generated from it (`PermissionTableMarkdown`, checked
// by tests/integration/roles_test.cc). Adding an RPC is adding one row to kRpcRules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/roles.h"
#include "preau/v1/admin.pb.h"

namespace preau::server {

enum class Permission {
  kWhoAmI,            // see oneself; renew one's own credentials
  kSeeGroups,
  kManageGroups,
  kEnrollDevices,     // enrolment tokens
  kSeeDevices,        // devices, their inventory and compliance
  kManageDevices,     // move, retire
  kSupportDevices,    // resend a device's policy, restart its agent
  kSeeAudit,
  kSeeOperators,
  kManageOperators,   // create, revoke, renew others
  kApplyPolicies,
  kSeePolicyStatus,
  kUploadApps,
  kAssignApps,
  kReviewApps,
  kSeeApps,
  kSeeAppStatus,      // which device holds which app
  kImportFilters,
  kSeeFilters,
  kTestFilters,
  kClassCommands,
  kDeviceReports,     // reports with a row per device
  kCountReports,      // reports of counts only: no device id, serial or per-device usage
  kExportDevice,      // GDPR export of one device's data
  kImportStock,
  kRetention,
};

struct RoleSpec {
  v1::Role role;     // named by RoleName (common/roles.h)
  const char* who;   // who it is for
  std::vector<Permission> permissions;
  bool needs_scope;  // must be given at least one --scope
  bool needs_hours;  // must be given --hours, and acts only inside them
};

struct RpcRule {
  const char* rpc;     // "Service.Method", as in the .proto
  Permission permission;
  const char* action;  // the audit log's name for it
  bool changes_state;  // audited when it succeeds too (refusals are always audited)
  const char* cli;     // the command that calls it
};

const std::vector<RoleSpec>& Roles();
const std::vector<RpcRule>& RpcRules();
// Null for a role or an RPC the table does not know (refused).
const RoleSpec* FindRole(v1::Role role);
const RpcRule* FindRpcRule(std::string_view rpc);

bool RoleHas(v1::Role role, Permission p);
std::string PermissionName(Permission p);  // "manage-operators"
std::string PermissionWhat(Permission p);  // "manage operators"
// The French of a PermissionWhat text (the console's refusals); nullopt for another text.
std::optional<std::string> PermissionWhatInFrench(const std::string& what);

// The README's table: one row per RPC, one column per role, "yes" where allowed.
std::string PermissionTableMarkdown();

}  // namespace preau::server
