#include "common/roles.h"

#include <cctype>

namespace preau {

std::string RoleName(v1::Role role) {
  if (role == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(role)) return "none";
  std::string name = v1::Role_Name(role).substr(5);  // past "ROLE_"
  for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::vector<v1::Role> AllRoles() {
  std::vector<v1::Role> out;
  const auto* e = v1::Role_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    auto r = static_cast<v1::Role>(e->value(i)->number());
    if (r != v1::ROLE_UNSPECIFIED) out.push_back(r);
  }
  return out;
}

std::string RoleNames() {
  std::string out;
  for (auto r : AllRoles()) out += (out.empty() ? "" : ", ") + RoleName(r);
  return out;
}

Result<v1::Role> ParseRoleName(const std::string& name) {
  for (auto r : AllRoles()) {
    if (RoleName(r) == name) return r;
  }
  return InvalidArgument("role '" + name + "': expected one of " + RoleNames());
}

}  // namespace preau
