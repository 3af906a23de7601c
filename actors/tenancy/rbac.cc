// Roles and permissions.
#include "actors/tenancy/rbac.h"

#include <algorithm>

#include "core/bus/bus.h"

namespace nf::tenancy {
namespace {

const std::set<std::string>& viewer() {
  static const std::set<std::string> s = {"missions:read", "events:read", "marketplace:read", "workflows:read",
                                          "ledger:read",   "tenants:read", "usage:read",      "session:read"};
  return s;
}

std::set<std::string> with(std::set<std::string> base, std::initializer_list<const char*> more) {
  for (const auto* p : more) base.insert(p);
  return base;
}

// Permissions no tenant role can hold: the platform admin's alone.
bool platform_only(std::string_view p) {
  return p == "tenants:create" || p == "cluster:read" || p == "cluster:write" || p == "regions:read" || p == "regions:write";
}

const std::map<std::string, std::set<std::string>, std::less<>>& builtins() {
  static const auto m = [] {
    std::map<std::string, std::set<std::string>, std::less<>> r;
    r["viewer"] = viewer();
    r["auditor"] = with(viewer(), {"audit:read"});
    r["developer"] = with(viewer(), {"missions:write", "events:write", "marketplace:publish", "marketplace:install", "workflows:write",
                                     "ledger:write", "reservations:write"});
    r["admin"] = with(r["developer"], {"keys:read", "keys:write", "roles:write", "audit:read", "topics:write", "deadletters:read", "marketplace:review",
                                        "deadletters:write", "workflows:approve"});
    r["owner"] = with(r["admin"], {"tenants:write"});
    return r;
  }();
  return m;
}

}  // namespace

const std::vector<std::string>& permission_catalogue() {
  static const std::vector<std::string> c = [] {
    std::set<std::string> all;
    for (const auto& [_, perms] : builtins()) all.insert(perms.begin(), perms.end());
    all.insert("tenants:create");  // platform admin only
    all.insert("cluster:read");    // platform admin only: the instances and their addresses, read models
    all.insert("cluster:write");   // platform admin only: rebuilding read models
    all.insert("regions:read");    // platform admin only: regions, links, their lag, offset translation
    all.insert("regions:write");   // platform admin only: failover and recovery
    return std::vector<std::string>(all.begin(), all.end());
  }();
  return c;
}

bool known_permission(std::string_view p) {
  const auto& c = permission_catalogue();
  return std::binary_search(c.begin(), c.end(), p, std::less<>{});
}

bool builtin_role(std::string_view role) { return builtins().count(role) > 0; }

std::optional<std::set<std::string>> builtin_permissions(std::string_view role) {
  auto it = builtins().find(role);
  if (it == builtins().end()) return std::nullopt;
  return it->second;
}

result<void> validate_role_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return error{errc::invalid_argument, "a role name is 1..64 characters"};
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return error{errc::invalid_argument, "a role name may only contain a-z 0-9 _ -"};
  return ok();
}

bool scopable(std::string_view p) { return p == "events:write"; }

namespace {
// "<permission>@<pattern>": the pattern, or nullopt when `p` has no scope.
std::optional<std::pair<std::string_view, std::string_view>> split_scope(std::string_view p) {
  const auto at = p.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  return std::pair{p.substr(0, at), p.substr(at + 1)};
}

result<void> validate_scope(std::string_view p, std::string_view base, std::string_view pattern) {
  if (!scopable(base)) return error{errc::invalid_argument, "permission '" + std::string(p) + "': only events:write takes a scope (@<topic pattern>)"};
  // A pattern is a topic name in which '*' stands for any run of characters.
  std::string as_name(pattern);
  std::replace(as_name.begin(), as_name.end(), '*', 'x');
  if (auto v = bus::validate_topic_name(as_name); !v)
    return error{errc::invalid_argument, "permission '" + std::string(p) + "': the topic pattern after '@' is not valid (a topic name, '*' "
                                         "matching any run of characters)"};
  return ok();
}

// The permissions of a built-in role or of one of `r`'s custom roles; null for an unknown role.
const std::set<std::string>* permissions_of(const roles& r, std::string_view role) {
  if (auto b = builtins().find(role); b != builtins().end()) return &b->second;
  if (auto it = r.custom().find(role); it != r.custom().end()) return &it->second;
  return nullptr;
}
}  // namespace

result<std::set<std::string>> parse_permissions(const std::vector<std::string>& perms) {
  if (perms.empty()) return error{errc::invalid_argument, "a role needs at least one permission"};
  std::set<std::string> out;
  for (const auto& p : perms) {
    if (auto scoped = split_scope(p)) {
      NF_TRY(validate_scope(p, scoped->first, scoped->second));
    } else if (!known_permission(p) || platform_only(p)) {
      return error{errc::invalid_argument, "unknown permission '" + p + "'"};
    }
    out.insert(p);
  }
  return out;
}

result<void> roles::define(const std::string& name, std::set<std::string> perms) {
  NF_TRY(validate_role_name(name));
  if (builtin_role(name)) return error{errc::conflict, "'" + name + "' is a built-in role"};
  if (!perms.empty()) NF_TRY(parse_permissions(std::vector<std::string>(perms.begin(), perms.end())));
  custom_[name] = std::move(perms);
  return ok();
}

result<std::set<std::string>> roles::permissions(std::string_view role) const {
  if (auto b = builtin_permissions(role)) return *b;
  auto it = custom_.find(role);
  if (it == custom_.end()) return error{errc::not_found, "unknown role '" + std::string(role) + "'"};
  return it->second;
}

result<void> roles::check(std::string_view role, std::string_view permission) const {
  const auto* perms = permissions_of(*this, role);
  if (!perms) return error{errc::permission_denied, "role '" + std::string(role) + "' is not defined in this tenant"};
  if (perms->count(std::string(permission))) return ok();
  // A scope of it: "events:write@..." sorts right after "events:write".
  const std::string scoped = std::string(permission) + "@";
  if (auto it = perms->lower_bound(scoped); it != perms->end() && it->starts_with(scoped)) return ok();
  return error{errc::permission_denied, "missing permission '" + std::string(permission) + "' (role '" + std::string(role) + "')"};
}

bool roles::allows(std::string_view role, std::string_view permission, std::string_view resource) const {
  const auto* perms = permissions_of(*this, role);
  if (!perms) return false;
  if (perms->count(std::string(permission))) return true;
  const std::string scoped = std::string(permission) + "@";
  for (auto it = perms->lower_bound(scoped); it != perms->end() && it->starts_with(scoped); ++it)
    if (bus::topic_matches(std::string_view(*it).substr(scoped.size()), resource)) return true;
  return false;
}

}  // namespace nf::tenancy
