#include "server/admin/permissions.h"

namespace preau::server {

namespace {
using P = Permission;

struct PermissionText {
  Permission permission;
  const char* name;
  const char* what;  // "may not ..."
  const char* what_fr;  // the same in French, for the console ("ne peut pas ...")
};

const std::vector<PermissionText>& PermissionNames() {
  static const std::vector<PermissionText> kNames = {
      {P::kWhoAmI, "whoami", "see itself", "se voir elle-même"},
      {P::kSeeGroups, "see-groups", "see groups", "voir les groupes"},
      {P::kManageGroups, "manage-groups", "create groups", "créer des groupes"},
      {P::kEnrollDevices, "enroll-devices", "create enrollment tokens", "créer des jetons d'inscription"},
      {P::kSeeDevices, "see-devices", "see devices", "voir les appareils"},
      {P::kManageDevices, "manage-devices", "move or retire devices", "déplacer ou retirer des appareils"},
      {P::kSupportDevices, "support-devices", "resend policies or restart agents", "renvoyer les politiques ou redémarrer les agents"},
      {P::kSeeAudit, "see-audit", "read the audit log", "lire le journal d'audit"},
      {P::kSeeOperators, "see-operators", "see operators", "voir les opérateurs"},
      {P::kManageOperators, "manage-operators", "manage operators", "gérer les opérateurs"},
      {P::kApplyPolicies, "apply-policies", "apply policies", "appliquer des politiques"},
      {P::kSeePolicyStatus, "see-policy-status", "see policy status", "voir l'état des politiques"},
      {P::kUploadApps, "upload-apps", "upload apps", "déposer des applis"},
      {P::kAssignApps, "assign-apps", "assign apps", "attribuer des applis"},
      {P::kReviewApps, "review-apps", "review apps", "relire des applis"},
      {P::kSeeApps, "see-apps", "see apps", "voir les applis"},
      {P::kSeeAppStatus, "see-app-status", "see devices' apps", "voir les applis des appareils"},
      {P::kImportFilters, "import-filters", "import filter lists", "importer des listes de filtrage"},
      {P::kSeeFilters, "see-filters", "see filter lists", "voir les listes de filtrage"},
      {P::kTestFilters, "test-filters", "test the filter", "tester le filtre"},
      {P::kClassCommands, "class-commands", "run class commands", "lancer des commandes de classe"},
      {P::kDeviceReports, "device-reports", "see reports per device", "voir les rapports par appareil"},
      {P::kCountReports, "count-reports", "build reports", "produire des rapports"},
      {P::kExportDevice, "export-device", "export a device's data", "exporter les données d'un appareil"},
      {P::kImportStock, "import-stock", "import stock-taking", "importer un inventaire"},
      {P::kRetention, "retention", "see or change retention", "voir ou changer les durées de conservation"},
  };
  return kNames;
}

std::vector<Permission> AllBut(std::initializer_list<Permission> except) {
  std::vector<Permission> out;
  for (const auto& t : PermissionNames()) {
    bool skip = false;
    for (auto e : except) skip |= e == t.permission;
    if (!skip) out.push_back(t.permission);
  }
  return out;
}
}  // namespace

const std::vector<RoleSpec>& Roles() {
  // An admin does not review apps: the academic services do (separation of duties).
  static const std::vector<RoleSpec> kRoles = {
      {v1::ROLE_ADMIN, "the authority's IT staff (of its scope: a commune, an EPCI)",
       AllBut({P::kReviewApps}), false, false},
      {v1::ROLE_HOTLINE, "the help desk: looks devices up, re-applies, restarts",
       {P::kWhoAmI, P::kSeeGroups, P::kSeeDevices, P::kSupportDevices, P::kSeeAudit,
        P::kSeePolicyStatus, P::kSeeApps, P::kSeeAppStatus, P::kDeviceReports,
        P::kCountReports},
       false, false},
      {v1::ROLE_SCHOOL_HEAD, "a school head: every class of the school, and its reports",
       {P::kWhoAmI, P::kSeeGroups, P::kSeeDevices, P::kClassCommands, P::kSeeApps,
        P::kDeviceReports, P::kCountReports},
       true, false},
      {v1::ROLE_REFERENT, "the school's digital referent: every class, and the filter",
       {P::kWhoAmI, P::kSeeGroups, P::kSeeDevices, P::kClassCommands, P::kSeeApps,
        P::kSeeFilters, P::kTestFilters},
       true, false},
      {v1::ROLE_TEACHER, "a teacher: the classes of its scopes",
       {P::kWhoAmI, P::kSeeGroups, P::kSeeDevices, P::kClassCommands, P::kSeeApps}, true,
       false},
      {v1::ROLE_PERISCOLAIRE, "after-school staff: class commands in its hours only",
       {P::kWhoAmI, P::kSeeGroups, P::kSeeDevices, P::kClassCommands}, true, true},
      {v1::ROLE_VIEWER, "elected officials, finance: counts of its scope, never a device",
       {P::kWhoAmI, P::kSeeGroups, P::kCountReports}, false, false},
      {v1::ROLE_REVIEWER, "academic services: approve or reject apps",
       {P::kWhoAmI, P::kReviewApps, P::kSeeApps}, false, false},
  };
  return kRoles;
}

const std::vector<RpcRule>& RpcRules() {
  static const std::vector<RpcRule> kRules = {
      {"AdminService.WhoAmI", P::kWhoAmI, "whoami", false, "whoami"},
      {"AdminService.CreateGroup", P::kManageGroups, "group.create", true, "groups create"},
      {"AdminService.RenameGroup", P::kManageGroups, "group.rename", true, "groups rename"},
      {"AdminService.DeleteGroup", P::kManageGroups, "group.delete", true, "groups delete"},
      {"AdminService.ListGroups", P::kSeeGroups, "group.list", false, "groups list"},
      {"AdminService.CreateToken", P::kEnrollDevices, "token.create", true, "token create"},
      {"AdminService.ListDevices", P::kSeeDevices, "device.list", false, "devices list"},
      {"AdminService.GetDevice", P::kSeeDevices, "device.show", false, "devices show"},
      {"AdminService.MoveDevice", P::kManageDevices, "device.move", true, "devices move"},
      {"AdminService.RetireDevice", P::kManageDevices, "device.retire", true, "devices retire"},
      {"AdminService.ResendPolicy", P::kSupportDevices, "device.resend", true, "devices resend"},
      {"AdminService.RestartAgent", P::kSupportDevices, "device.restart", true, "devices restart"},
      {"AdminService.CreateOperator", P::kManageOperators, "operator.create", true,
       "operators create"},
      {"AdminService.ListOperators", P::kSeeOperators, "operator.list", false, "operators list"},
      {"AdminService.GetOperator", P::kSeeOperators, "operator.show", false, "operators show"},
      {"AdminService.RevokeOperator", P::kManageOperators, "operator.revoke", true,
       "operators revoke"},
      // One's own credentials; another operator's needs manage-operators on its scope.
      {"AdminService.RenewOperator", P::kWhoAmI, "operator.renew", true, "operators renew"},
      {"AdminService.ListAudit", P::kSeeAudit, "audit.list", false, "audit list"},
      {"PolicyService.Apply", P::kApplyPolicies, "policy.apply", true, "policy apply"},
      {"PolicyService.GetStatus", P::kSeePolicyStatus, "policy.status", false, "policy status"},
      {"ClassService.Run", P::kClassCommands, "class", true, "class lock/unlock/focus/open/allow/..."},
      {"ConsoleService.CreateLink", P::kManageOperators, "operator.link", true, "operators link"},
      {"ConsoleService.SetPassword", P::kManageOperators, "operator.password", true,
       "operators password"},
      {"CatalogService.Upload", P::kUploadApps, "app.upload", true, "apps upload"},
      {"CatalogService.Review", P::kReviewApps, "app.review", true, "apps review"},
      {"CatalogService.Assign", P::kAssignApps, "app.assign", true, "apps assign"},
      {"CatalogService.Unassign", P::kAssignApps, "app.unassign", true, "apps unassign"},
      {"CatalogService.List", P::kSeeApps, "app.list", false, "apps list"},
      {"CatalogService.DeviceStatus", P::kSeeAppStatus, "app.status", false, "apps status"},
      {"FilterService.Import", P::kImportFilters, "filter.import", true, "filter import"},
      {"FilterService.Rollback", P::kImportFilters, "filter.rollback", true, "filter rollback"},
      {"FilterService.List", P::kSeeFilters, "filter.list", false, "filter list"},
      {"FilterService.Test", P::kTestFilters, "filter.test", false, "filter test"},
      // Counts for everyone allowed; a row per device needs device-reports too.
      {"ReportService.Build", P::kCountReports, "report.build", false,
       "report inventory/usage/compliance"},
      {"ReportService.ExportDevice", P::kExportDevice, "device.export", true, "devices export"},
      {"ReportService.ImportStock", P::kImportStock, "stock.import", true, "devices import"},
      // Reading it changes nothing; setting it writes, and its audit row goes with it.
      {"ReportService.Retention", P::kRetention, "usage.retention", false, "report retention"},
  };
  return kRules;
}

const RoleSpec* FindRole(v1::Role role) {
  for (const auto& r : Roles()) {
    if (r.role == role) return &r;
  }
  return nullptr;
}

const RpcRule* FindRpcRule(std::string_view rpc) {
  for (const auto& r : RpcRules()) {
    if (rpc == r.rpc) return &r;
  }
  return nullptr;
}

bool RoleHas(v1::Role role, Permission p) {
  const RoleSpec* spec = FindRole(role);
  if (!spec) return false;
  for (auto q : spec->permissions) {
    if (q == p) return true;
  }
  return false;
}

std::string PermissionName(Permission p) {
  for (const auto& t : PermissionNames()) {
    if (t.permission == p) return t.name;
  }
  return "unknown";
}

std::string PermissionWhat(Permission p) {
  for (const auto& t : PermissionNames()) {
    if (t.permission == p) return t.what;
  }
  return "do this";
}

std::optional<std::string> PermissionWhatInFrench(const std::string& what) {
  for (const auto& t : PermissionNames()) {
    if (what == t.what) return std::string(t.what_fr);
  }
  return std::nullopt;
}

std::string PermissionTableMarkdown() {
  std::string out = "| command | RPC |";
  std::string rule = "|---|---|";
  for (const auto& r : Roles()) {
    out += " " + RoleName(r.role) + " |";
    rule += ":-:|";
  }
  out += "\n" + rule + "\n";
  for (const auto& rpc : RpcRules()) {
    out += std::string("| `") + rpc.cli + "` | " + rpc.rpc + " |";
    for (const auto& r : Roles()) {
      bool yes = RoleHas(r.role, rpc.permission);
      if (rpc.permission == Permission::kCountReports && yes &&
          !RoleHas(r.role, Permission::kDeviceReports)) {
        out += " counts |";
      } else if (rpc.permission == Permission::kWhoAmI && std::string_view(rpc.rpc) != "AdminService.WhoAmI" &&
                 !RoleHas(r.role, Permission::kManageOperators)) {
        out += " own |";  // renewing one's own credentials
      } else {
        out += yes ? (r.needs_hours && rpc.permission != Permission::kWhoAmI ? " in hours |" : " yes |")
                   : " |";
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace preau::server
