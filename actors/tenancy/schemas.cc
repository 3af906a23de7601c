// JSON Schemas of the tenancy routes; they say what routes.cc and its siblings enforce.
#include "actors/tenancy/schemas.h"

namespace nf::tenancy::schemas {

using json = nlohmann::json;

namespace {
json obj(json props, json required, bool closed = false) {
  json j{{"type", "object"}, {"properties", std::move(props)}, {"required", std::move(required)}};
  if (closed) j["additionalProperties"] = false;
  return j;
}
json str() { return json{{"type", "string"}}; }
json integer() { return json{{"type", "integer"}}; }
json quotas() {
  return json{{"type", "object"},
              {"description", "quota overrides: eventsPerDay, storedBytes, requestsPerMinute, concurrentRuns, cpuMillicores, "
                              "memoryMib, ... (-1: unlimited)"},
              {"additionalProperties", {{"type", "integer"}, {"minimum", -1}}}};
}
json domains() {
  return json{{"type", "array"}, {"maxItems", 100}, {"items", {{"type", "string"}, {"minLength", 1}, {"maxLength", 253}}}};
}
json plan() { return json{{"type", "string"}, {"enum", {"basic", "pro", "enterprise"}}}; }
}  // namespace

json pending() {
  return obj({{"visible", {{"type", "boolean"}, {"const", false}}}, {"message", str()}}, {"visible", "message"});
}

json tenant_create() {
  return obj({{"id", {{"type", "string"}, {"pattern", "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"}}},
              {"name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}}},
              {"plan", plan()},
              {"quotas", quotas()},
              {"domains", domains()}},
             {"name", "plan"}, true);
}

json tenant_patch() {
  return obj({{"plan", plan()},
              {"quotas", quotas()},
              {"domains", domains()},
              {"status", {{"type", "string"}, {"enum", {"active", "suspended"}}}}},
             json::array(), true);
}

json tenant() {
  return obj({{"id", str()},
              {"name", str()},
              {"plan", str()},
              {"status", str()},
              {"domains", {{"type", "array"}, {"items", str()}}},
              {"quotas", {{"type", "object"}}},
              {"limits", {{"type", "object"}}},
              {"keys", {{"type", "object"}}},
              {"roles", {{"type", "object"}}},
              {"reservations", {{"type", "object"}}},
              {"usage", {{"type", "object"}}},
              {"alerts", {{"type", "array"}}},
              {"version", {{"type", "integer"}, {"minimum", 0}, {"description", "events about the tenant so far; also its ETag"}}}},
             {"id", "name", "plan", "status", "limits"});
}

json tenant_list() {
  return obj({{"items", {{"type", "array"}, {"items", obj({{"id", str()}, {"name", str()}, {"plan", str()}, {"status", str()}}, {"id"})}}}},
             {"items"});
}

json session() {
  const json strings = {{"type", "array"}, {"items", {{"type", "string"}}}};
  return obj({{"tenant", {{"type", "string"}, {"description", "empty for the platform admin outside any tenant"}}},
              {"principal", str()},
              {"roles", strings},
              {"platformAdmin", {{"type", "boolean"}}},
              {"permissions", {{"type", "array"}, {"items", {{"type", "string"}}},
                               {"description", "every catalogue permission the caller holds (a scoped one appears as permission@pattern)"}}}},
             {"tenant", "principal", "roles", "platformAdmin", "permissions"});
}

json key_create() {
  return obj({{"role", {{"type", "string"}, {"description", "viewer, auditor, developer, admin, owner or a custom role"}}},
              {"name", {{"type", "string"}, {"maxLength", 200}}}},
             {"role"}, true);
}

json key_created() {
  return obj({{"key", {{"type", "string"}, {"description", "the secret, shown once"}}},
              {"keyId", str()},
              {"role", str()},
              {"name", str()},
              {"tenantId", str()}},
             {"key", "keyId", "role", "tenantId"});
}

json key_revoked() { return obj({{"keyId", str()}, {"revoked", {{"type", "boolean"}}}}, {"keyId", "revoked"}); }

json role_define() {
  return obj({{"name", {{"type", "string"}, {"pattern", "^[a-z0-9_-]{1,64}$"}}},
              {"permissions", {{"type", "array"}, {"minItems", 1}, {"items", str()}}}},
             {"name", "permissions"}, true);
}

json role() { return obj({{"name", str()}, {"permissions", {{"type", "array"}, {"items", str()}}}}, {"name", "permissions"}); }

json audit_page() {
  return obj({{"tenantId", str()}, {"items", {{"type", "array"}, {"items", {{"type", "object"}}}}}}, {"tenantId", "items"});
}

json usage_page() {
  return obj({{"tenantId", str()},
              {"period", str()},
              {"rows", {{"type", "array"},
                        {"items", obj({{"date", str()}, {"metric", str()}, {"quantity", integer()}}, {"date", "metric", "quantity"})}}}},
             {"tenantId", "period", "rows"});
}

json reservation_request() {
  return obj({{"kind", {{"type", "string"}, {"enum", {"concurrentRuns", "cpuMillicores", "memoryMib"}}}},
              {"amount", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1099511627776LL}}}},
             {"kind", "amount"}, true);
}

json reservation() {
  return obj({{"reservationId", str()}, {"kind", str()}, {"amount", integer()}, {"reserved", integer()}, {"limit", integer()}},
             {"reservationId", "kind", "amount"});
}

json reservation_list() {
  return obj({{"items", {{"type", "array"}, {"items", {{"type", "object"}}}}}, {"reserved", {{"type", "object"}}}}, {"items", "reserved"});
}

json released() { return obj({{"reservationId", str()}, {"released", {{"type", "boolean"}}}}, {"reservationId", "released"}); }

}  // namespace nf::tenancy::schemas
