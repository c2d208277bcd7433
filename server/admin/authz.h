// Authz: the role and scope rules of the operators' API, in one place.
//
// Roles: an admin may do everything within its scopes (no scope: the whole authority); a
// teacher may run class commands on the groups of its scopes only; a reviewer may review
// apps. Scopes are group paths; a scope covers its group and every group below it.
// Every call goes through Authorize, and its refusals are audited by the caller.
#pragma once

#include <initializer_list>
#include <string>

#include "common/status.h"
#include "server/store/store.h"

namespace preau::server {

std::string RoleName(v1::Role role);
Result<v1::Role> ParseRole(const std::string& name);

// Ok if `op` has one of `roles`.
Status RequireRole(const OperatorRecord& op, std::initializer_list<v1::Role> roles,
                   const std::string& action);
// Ok if `group` lies within one of `op`'s scopes (an admin without scopes covers all).
Status RequireScope(const OperatorRecord& op, const std::string& group);

}  // namespace preau::server
