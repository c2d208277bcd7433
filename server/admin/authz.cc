#include "server/admin/authz.h"

#include "server/admin/hours.h"
#include "server/admin/refusal_texts.h"

namespace preau::server {

namespace {
std::string Who(const OperatorRecord& op) {
  return Say(refusal::kOperator, {op.name, RoleName(op.role)});
}
}  // namespace

Status RequirePermission(const OperatorRecord& op, Permission p, const std::string& what) {
  if (RoleHas(op.role, p)) return Status::Ok();
  return PermissionDenied(Who(op) + " may not " + what + " (needs " + PermissionName(p) + ")");
}

Status Authorize(const OperatorRecord& op, const RpcRule& rule, int64_t now_ms) {
  if (!RoleHas(op.role, rule.permission)) {
    return PermissionDenied(Say(refusal::kRoleMayNot, {Who(op), PermissionWhat(rule.permission),
                                                       rule.rpc, PermissionName(rule.permission)}));
  }
  const RoleSpec* spec = FindRole(op.role);
  // Seeing oneself and renewing one's credentials are not acts on the fleet.
  if (spec && spec->needs_hours && rule.permission != Permission::kWhoAmI) {
    PREAU_RETURN_IF_ERROR(CheckHours(op.name, op.hours, now_ms));
  }
  return Status::Ok();
}

bool InScope(const OperatorRecord& op, const std::string& group) {
  if (op.scopes.empty()) {
    const RoleSpec* spec = FindRole(op.role);
    return spec && !spec->needs_scope;
  }
  for (const auto& s : op.scopes) {
    if (PathWithin(group, s)) return true;
  }
  return false;
}

Status RequireScope(const OperatorRecord& op, const std::string& group) {
  if (auto* audit = PendingAudit::Current()) audit->NoteGroup(group);
  if (InScope(op, group)) return Status::Ok();
  if (group.empty()) {
    return PermissionDenied(Say(refusal::kNotWholeAuthority, {Who(op)}));
  }
  return PermissionDenied(Say(refusal::kNoRightsOnGroup, {Who(op), group}));
}

Result<DeviceRecord> DeviceInScope(Store& store, const OperatorRecord& op, const std::string& id) {
  auto d = store.GetDevice(id);
  Status hidden = NotFound("no device with id '" + id + "'");
  if (!d.ok()) return d.status().code() == Code::kNotFound ? hidden : d.status();
  if (auto* audit = PendingAudit::Current()) audit->NoteGroup(d->group);
  if (!InScope(op, d->group)) {
    if (auto* audit = PendingAudit::Current()) {
      audit->NoteHiddenRefusal(Who(op) + " has no rights on group '" + d->group +
                               "' (answered as an unknown device)");
    }
    return hidden;
  }
  return d;
}

bool Covers(const OperatorRecord& viewer, const OperatorRecord& other) {
  if (other.scopes.empty()) return InScope(viewer, "");
  for (const auto& s : other.scopes) {
    if (!InScope(viewer, s)) return false;
  }
  return true;
}

Result<OperatorRecord> OperatorInScope(Store& store, const OperatorRecord& op,
                                       const std::string& name) {
  auto other = store.GetOperator(name);
  Status hidden = NotFound("no operator named '" + name + "'");
  if (!other.ok()) return other.status().code() == Code::kNotFound ? hidden : other.status();
  if (!Covers(op, *other)) {
    if (auto* audit = PendingAudit::Current()) {
      audit->NoteHiddenRefusal("operator '" + name + "' is outside the scopes of '" + op.name +
                               "' (answered as unknown)");
    }
    return hidden;
  }
  return other;
}

Status RequireNoWiderThan(const OperatorRecord& creator, v1::Role role,
                          const std::vector<std::string>& scopes) {
  const RoleSpec* spec = FindRole(role);
  if (!spec) return InvalidArgument("unknown role: expected one of " + RoleNames());
  if (role != v1::ROLE_REVIEWER) {
    for (auto p : spec->permissions) {
      if (!RoleHas(creator.role, p)) {
        return PermissionDenied(Who(creator) + " may not create a " + RoleName(role) +
                                ": that role may " + PermissionName(p) + ", which " +
                                creator.name + " may not");
      }
    }
  }
  if (scopes.empty()) {
    if (!InScope(creator, "")) {
      return PermissionDenied(Who(creator) + " may not create an operator for the whole "
                              "authority: its own scope is narrower");
    }
  }
  for (const auto& s : scopes) {
    if (!InScope(creator, s)) {
      return PermissionDenied(Who(creator) + " may not create an operator on '" + s +
                              "': it is outside its own scopes");
    }
  }
  return Status::Ok();
}

}  // namespace preau::server
