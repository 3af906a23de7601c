// Tenant administration over HTTP: the tenancy feature's routes.
//
//   POST   /tenants                      platform admin: {name, plan, quotas?, domains?, id?} -> 201
//   GET    /tenants                      platform admin: every tenant
//   GET    /tenants/{id}                 tenants:read: limits (plan defaults + overrides), keys, roles
//   PATCH  /tenants/{id}                 plan, quotas, status: platform admin; domains: tenants:write
//   POST   /tenants/{id}/keys            keys:write: {role, name} -> 201 {key (shown once), keyId, role}
//   DELETE /tenants/{id}/keys/{keyId}    keys:write: revoked on the next request
//   POST   /tenants/{id}/roles           roles:write: {name, permissions}
//   GET    /tenants/{id}/usage?period=YYYY-MM[&format=csv]   usage:read: one row per metric per day
//   GET    /tenants/{id}/audit?from=&to=&limit=              audit:read: requests and changes, oldest first
//   POST   /tenants/{id}/reservations {kind, amount}         reservations:write: concurrentRuns, cpuMillicores
//                                                            or memoryMib; beyond the quota -> 409 naming it
//   GET    /tenants/{id}/reservations                        tenants:read
//   DELETE /tenants/{id}/reservations/{reservationId}        reservations:write
// Every authenticated request is recorded on tenancy.audit (tenancy.request_audited) by the admission.
// Callers are resolved by the tenancy directory (domain, API key, JWT, subdomain): 401 without a
// context, 403 naming the missing permission, 404 for another tenant's resources (no existence
// leak). Nobody grants what they do not hold: a key's role and a custom role's permissions must be
// within the caller's own. Each tenant's requests are rate limited (token bucket at its
// requestsPerMinute): over the limit -> 429 with Retry-After, and nothing is appended. Writes are events on tenancy.tenants; answers wait until the tenants
// projection (and so the directory) shows them.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace google::protobuf {
class Message;
}

#include "actors/tenancy/admission.h"
#include "actors/tenancy/directory.h"
#include "core/command/gateway.h"
#include "core/http/routes.h"
#include "projections/audit/audit.h"
#include "projections/tenants/tenants.h"
#include "projections/usage/usage.h"

namespace nf::tenancy {

struct route_options {
  tenants::tenants_projection* tenants = nullptr;   // required
  projection::feed* feed = nullptr;                 // of the tenants projection: answers wait for it
  usage::usage_projection* usage = nullptr;         // null: no usage routes
  audit::audit_projection* audit = nullptr;         // null: no audit route
  directory* dir = nullptr;                         // required (base domain)
  std::string region = "local";
  std::chrono::milliseconds wait{5'000};            // read-your-writes bound, and how long a decision may take
  ::nf::command::gateway* commands = nullptr;       // reservations are decided by their tenant's owner through it
  std::chrono::milliseconds decide{15'000};         // how long a reservation waits for its owner (longer than a rebalance)
  // Every change of a tenant goes through its owner (reservation_owner) as a command, which checks
  // If-Match there: for a bus that cannot check an expected version itself (Kafka).
  bool owner_appends = false;
};

class routes {
 public:
  routes(bus::event_bus& bus, projection::store& store, route_options o, access& acc, const nf::clock& clk);
  void add_to(http::route_table& table);

 private:
  http::response audit_log(const context& c, const std::string& id, const http::target& t, const http::request& req);
  // ok when the caller may use `p` in `tenant` (404 for another tenant, 403 naming it).
  std::optional<http::response> authorize(const context& c, const std::string& tenant, http::permission p, const http::request& req) const;
  // Appends one typed tenancy event (its payload message is the one `type` registers). With
  // `expected`, only while the tenant is at that version (its ETag): errc::wrong_expected_version
  // otherwise, checked by the bus in the same write, or with owner_appends by the tenant's owner
  // (append_through_owner: errc::timeout when it has not decided in time).
  result<bus::append_result> append_through_owner(const std::string& type, const std::string& tenant,
                                                  const google::protobuf::Message& payload, std::optional<std::int64_t> expected);
  result<bus::append_result> append(const std::string& type, const std::string& tenant, const google::protobuf::Message& payload,
                                    std::optional<std::int64_t> expected = std::nullopt);
  // The answer to a failed change: 412 version_mismatch for a stale If-Match, 503 not_decided when
  // the owner has not decided in time, else as append_error.
  http::response change_failed(const error& e, const http::request& req) const;
  // Waits (bounded) until the tenants projection shows the append; false (logged, counted) when
  // it did not in time, and the answer says so with 503.
  bool wait(const bus::append_result& r);
  // 202 with `body`, visible: false, when the change is appended but not yet shown.
  http::response not_visible_yet(const nlohmann::json& body, const http::request& req) const;
  // 409 domain_taken when one of `domains` belongs to another tenant than `tenant`. With
  // must_hold (after the claim was applied), also when `tenant` does not hold it: the log gave it
  // to another tenant first (two writers that both passed the check before appending).
  std::optional<http::response> domains_taken(const std::string& tenant, const std::vector<std::string>& domains, const http::request& req,
                                        bool must_hold = false) const;
  // The tenant's effective limits: plan defaults and overrides. A document whose overrides do not
  // parse is an error (never a fallback to the plan's defaults).
  result<limits> limits_of(const nlohmann::json& doc) const;

  http::response create(const context& c, const http::request& req);
  http::response list(const context& c, const http::request& req);
  http::response session(const context& c, const http::request& req) const;
  http::response show(const context& c, const std::string& id, const http::request& req);
  http::response patch(const context& c, const std::string& id, const http::request& req);
  http::response create_key(const context& c, const std::string& id, const http::request& req);
  http::response revoke_key(const context& c, const std::string& id, const std::string& key_id, const http::request& req);
  http::response define_role(const context& c, const std::string& id, const http::request& req);
  http::response usage(const context& c, const std::string& id, const http::target& t, const http::request& req);
  http::response reserve(const context& c, const std::string& id, const http::request& req);
  http::response reservations(const context& c, const std::string& id, const http::request& req);
  http::response release(const context& c, const std::string& id, const std::string& reservation_id, const http::request& req);

  bus::event_bus& bus_;
  route_options opts_;
  access& acc_;
  tenants::tenants_view view_;
  std::optional<usage::usage_view> usage_;
  std::optional<audit::audit_view> audit_;
  const nf::clock& clk_;
};

}  // namespace nf::tenancy
