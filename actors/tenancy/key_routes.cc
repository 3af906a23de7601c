// Tenant routes for API keys and custom roles: nobody grants what they do not hold.
#include "actors/tenancy/permissions.h"
#include "actors/tenancy/routes.h"
#include "actors/tenancy/route_helpers.h"
#include "actors/tenancy/directory_sync.h"
#include "tenancy.pb.h"

namespace nf::tenancy {

namespace {

// The tenant's version after a change, where the bus counts it (0: it does not, as on Kafka).
response with_version(response res, const bus::append_result& r) {
  if (r.version > 0) res.set(http::field::etag, http::etag(r.version));
  return res;
}

}  // namespace

response routes::create_key(const context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, perm::keys_write, req)) return *denied;
  auto expected = http::if_match(req);
  if (!expected) return error_response(http::status::bad_request, "invalid_header", expected.error().message, req, "If-Match");
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"role", "name"}, req)) return *bad;
  auto role_field = string_field(*body, "role");
  if (!role_field) return wrong_type("role", "a string naming a role", req);
  auto name_field = string_field(*body, "name");
  if (!name_field) return wrong_type("name", "a string", req);
  const auto role = role_field->value_or("");
  const auto name = name_field->value_or("");
  if (name.size() > 200) return error_response(http::status::bad_request, "invalid_field", "'name' is at most 200 characters", req, "name");
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  auto roles = roles_of(view_, id);
  if (!roles) return error_response(status_for(roles.error().code), "internal", roles.error().message, req);
  auto perms = roles->permissions(role);
  if (!perms) return error_response(http::status::bad_request, "invalid_field", "'role': " + perms.error().message, req, "role");
  for (const auto& p : *perms)
    if (!c.holds(p))
      return error_response(http::status::forbidden, "forbidden", "role '" + role + "' holds '" + p + "', which the caller does not", req, "role");
  const auto key = issue_key();
  events::ApiKeyCreated created;
  created.set_tenant_id(id);
  created.set_key_id(key.key_id);
  created.set_digest(key.digest);
  created.set_role(role);
  created.set_name(name);
  auto r = append("tenancy.key_created", id, created, *expected);
  if (!r) return change_failed(r.error(), req);
  const json answer{{"key", key.secret}, {"keyId", key.key_id}, {"role", role}, {"name", name}, {"tenantId", id}};
  if (!wait(*r)) return not_visible_yet(answer, req);
  return with_version(json_response(http::status::created, answer, req), *r);
}


response routes::revoke_key(const context& c, const std::string& id, const std::string& key_id, const request& req) {
  if (auto denied = authorize(c, id, perm::keys_write, req)) return *denied;
  auto expected = http::if_match(req);
  if (!expected) return error_response(http::status::bad_request, "invalid_header", expected.error().message, req, "If-Match");
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc || !(**doc)["keys"].contains(key_id))
    return error_response(http::status::not_found, "not_found", "tenant '" + id + "' has no key '" + key_id + "'", req);
  if ((**doc)["keys"][key_id].contains("revokedAt")) return json_response(http::status::ok, json{{"keyId", key_id}, {"revoked", true}}, req);
  events::ApiKeyRevoked revoked;
  revoked.set_tenant_id(id);
  revoked.set_key_id(key_id);
  auto r = append("tenancy.key_revoked", id, revoked, *expected);
  if (!r) return change_failed(r.error(), req);
  if (!wait(*r)) return not_visible_yet(json{{"keyId", key_id}, {"revoked", true}}, req);
  return with_version(json_response(http::status::ok, json{{"keyId", key_id}, {"revoked", true}}, req), *r);
}


response routes::define_role(const context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, perm::roles_write, req)) return *denied;
  auto expected = http::if_match(req);
  if (!expected) return error_response(http::status::bad_request, "invalid_header", expected.error().message, req, "If-Match");
  // The platform admin passes authorize() for any id: a role of a tenant that does not exist
  // would be an event the tenants read model cannot fold.
  {
    auto doc = view_.get(id);
    if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
    if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  }
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"name", "permissions"}, req)) return *bad;
  auto name_field = string_field(*body, "name");
  if (!name_field) return wrong_type("name", "a string naming the role", req);
  const auto name = name_field->value_or("");
  if (auto v = validate_role_name(name); !v) return error_response(http::status::bad_request, "invalid_field", v.error().message, req, "name");
  if (builtin_role(name)) return error_response(http::status::conflict, "conflict", "'" + name + "' is a built-in role", req, "name");
  if (!body->contains("permissions") || !(*body)["permissions"].is_array())
    return error_response(http::status::bad_request, "invalid_field", "'permissions' must be an array", req, "permissions");
  std::vector<std::string> list;
  for (const auto& p : (*body)["permissions"]) {
    if (!p.is_string()) return error_response(http::status::bad_request, "invalid_field", "'permissions' must be strings", req, "permissions");
    list.push_back(p.get<std::string>());
  }
  auto perms = parse_permissions(list);
  if (!perms) return error_response(http::status::bad_request, "invalid_field", perms.error().message, req, "permissions");
  for (const auto& p : *perms)
    if (!c.holds(p)) return error_response(http::status::forbidden, "forbidden", "the caller does not hold '" + p + "'", req, "permissions");
  events::RoleDefined defined;
  defined.set_tenant_id(id);
  defined.set_role(name);
  for (const auto& p : *perms) defined.add_permissions(p);
  auto r = append("tenancy.role_defined", id, defined, *expected);
  if (!r) return change_failed(r.error(), req);
  if (!wait(*r)) return not_visible_yet(json{{"name", name}, {"permissions", *perms}}, req);
  return with_version(json_response(http::status::created, json{{"name", name}, {"permissions", *perms}}, req), *r);
}


}  // namespace nf::tenancy
