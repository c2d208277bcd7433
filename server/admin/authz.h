// Authz: the checks of the operators' API, in one place, driven by the permission table
// (permissions.h). RunAdminCall authorizes every call against its RPC's row (role and, for
// the periscolaire role, hours); handlers then check the group they act on with
// RequireScope. Scopes are group paths; a scope covers its group and every group below
// it; an operator without scopes covers the whole authority (only roles that do not need
// a scope). Every refusal is audited by the caller, with its reason.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "server/admin/permissions.h"
#include "server/store/store.h"

namespace preau::server {

// Ok if `op`'s role has `p`; otherwise PermissionDenied saying what `op` may not do.
Status RequirePermission(const OperatorRecord& op, Permission p, const std::string& what);
// The table's check of one call: the role has the RPC's permission and, for a role with
// hours, `now_ms` is inside them.
Status Authorize(const OperatorRecord& op, const RpcRule& rule, int64_t now_ms);

// Whether `group` lies within one of `op`'s scopes ("" is the whole authority).
bool InScope(const OperatorRecord& op, const std::string& group);
// InScope as a Status; the first group a call checks is the group its audit row names.
Status RequireScope(const OperatorRecord& op, const std::string& group);
// The device `id` if `op` may see it. Outside the scope the answer is the same as for a
// device that does not exist (nothing leaks); the audit keeps the real reason.
Result<DeviceRecord> DeviceInScope(Store& store, const OperatorRecord& op, const std::string& id);

// Whether `viewer` may see or act on `other`: every scope of `other` lies within its own
// (an operator of the whole authority only for one of the whole authority).
bool Covers(const OperatorRecord& viewer, const OperatorRecord& other);
// The operator `name` if `op` may see it; outside its scope, the same answer as for an
// operator that does not exist (the audit keeps the real reason).
Result<OperatorRecord> OperatorInScope(Store& store, const OperatorRecord& op,
                                       const std::string& name);

// Separation of duties at creation: nobody creates an operator with a permission it does
// not hold itself or a scope wider than its own. A reviewer is the one exception to the
// permission rule (an admin may appoint one), made safe by the review rule: nobody
// approves a version that they, or the operator who created them, uploaded.
Status RequireNoWiderThan(const OperatorRecord& creator, v1::Role role,
                          const std::vector<std::string>& scopes);

}  // namespace preau::server
