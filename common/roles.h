// Roles: the names operators' roles go by, on the server and in the CLI alike. A name is
// the proto enum's value name without ROLE_, in lower case, with '-' for '_'
// (ROLE_SCHOOL_HEAD is "school-head"), so adding a role to admin.proto names it
// everywhere. What each role may do is the server's permission table
// (server/admin/permissions.cc).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "preau/v1/admin.pb.h"

namespace preau {

// "school-head"; "none" for ROLE_UNSPECIFIED or an unknown value.
std::string RoleName(v1::Role role);
// The role named `name`; InvalidArgument listing the roles otherwise.
Result<v1::Role> ParseRoleName(const std::string& name);
// Every role, in the enum's order, without ROLE_UNSPECIFIED.
std::vector<v1::Role> AllRoles();
// "admin, teacher, ..." for messages.
std::string RoleNames();

}  // namespace preau
