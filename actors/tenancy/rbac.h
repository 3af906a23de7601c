// Roles and permissions. A permission is "resource:action"; every route declares the one it
// needs. Built-in roles:
//   viewer    missions:read events:read marketplace:read workflows:read ledger:read tenants:read usage:read
//   auditor   viewer + audit:read
//   developer viewer + missions:write events:write marketplace:publish marketplace:install
//             workflows:write ledger:write reservations:write
//   admin     developer + keys:read keys:write roles:write audit:read topics:write (tenant.<id>.* topics)
//   owner     admin + tenants:write
// Custom roles are named sets of catalogue permissions, defined per tenant. A custom role may hold
// events:write for some topics only: "events:write@<topic pattern>" ('*' matches any run of
// characters), as often as needed. The platform admin
// is not a role: it holds every permission in every tenant, and tenants:create.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace nf::tenancy {

// Every permission a route may ask for.
const std::vector<std::string>& permission_catalogue();
bool known_permission(std::string_view p);
bool builtin_role(std::string_view role);
// The permissions of a built-in role; nullopt for others.
std::optional<std::set<std::string>> builtin_permissions(std::string_view role);

// Role names: 1..64 of a-z 0-9 _ -.
result<void> validate_role_name(std::string_view name);
// Permissions that take a scope ("<permission>@<pattern>").
bool scopable(std::string_view p);
// A custom role's permission list: non-empty, every entry in the catalogue or a scope of a
// scopable one (errors name it).
result<std::set<std::string>> parse_permissions(const std::vector<std::string>& perms);

class roles {
 public:
  // Defines (or redefines) a custom role; built-in names cannot be redefined.
  result<void> define(const std::string& name, std::set<std::string> perms);
  // The permissions a role holds in this tenant; not_found for an unknown role.
  result<std::set<std::string>> permissions(std::string_view role) const;
  // ok, or permission_denied naming the missing permission. A scope of the permission counts:
  // the route then asks allows() for the resource.
  result<void> check(std::string_view role, std::string_view permission) const;
  // Whether the role holds `permission` for `resource`: unscoped, or through a scope matching it.
  bool allows(std::string_view role, std::string_view permission, std::string_view resource) const;
  const std::map<std::string, std::set<std::string>, std::less<>>& custom() const { return custom_; }

 private:
  std::map<std::string, std::set<std::string>, std::less<>> custom_;
};

}  // namespace nf::tenancy
