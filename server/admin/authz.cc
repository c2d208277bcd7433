#include "server/admin/authz.h"

namespace preau::server {

std::string RoleName(v1::Role role) {
  switch (role) {
    case v1::ROLE_ADMIN: return "admin";
    case v1::ROLE_TEACHER: return "teacher";
    case v1::ROLE_REVIEWER: return "reviewer";
    default: return "none";
  }
}

Result<v1::Role> ParseRole(const std::string& name) {
  if (name == "admin") return v1::ROLE_ADMIN;
  if (name == "teacher") return v1::ROLE_TEACHER;
  if (name == "reviewer") return v1::ROLE_REVIEWER;
  return InvalidArgument("role '" + name + "': expected admin, teacher or reviewer");
}

Status RequireRole(const OperatorRecord& op, std::initializer_list<v1::Role> roles,
                   const std::string& action) {
  for (auto r : roles) {
    if (op.role == r) return Status::Ok();
  }
  return PermissionDenied("operator '" + op.name + "' (" + RoleName(op.role) +
                          ") may not " + action);
}

Status RequireScope(const OperatorRecord& op, const std::string& group) {
  if (op.role == v1::ROLE_ADMIN && op.scopes.empty()) return Status::Ok();
  for (const auto& s : op.scopes) {
    if (PathWithin(group, s)) return Status::Ok();
  }
  if (group.empty()) {
    return PermissionDenied("operator '" + op.name + "' is limited to its scopes and may not act on the whole authority");
  }
  return PermissionDenied("operator '" + op.name + "' has no rights on group '" + group + "'");
}

}  // namespace preau::server
