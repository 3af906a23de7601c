// Tenant administration over HTTP (internal to the gateway library).
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
// Every authenticated request to these routes is recorded on tenancy.audit (tenancy.request_audited).
// Callers are resolved by the tenancy directory (domain, API key, JWT, subdomain): 401 without a
// context, 403 naming the missing permission, 404 for another tenant's resources (no existence
// leak). Nobody grants what they do not hold: a key's role and a custom role's permissions must be
// within the caller's own. Each tenant's requests are rate limited (token bucket at its
// requestsPerMinute): over the limit -> 429 with Retry-After, and nothing is appended. Writes are events on tenancy.tenants; answers wait until the tenants
// projection (and so the directory) shows them.
#pragma once

#include <optional>
#include <string>

#include "actors/gateway/access.h"
#include "actors/gateway/gateway.h"
#include "actors/gateway/http_util.h"
#include "actors/tenancy/directory.h"
#include "actors/tenancy/rbac.h"
#include "actors/tenancy/token_bucket.h"
#include "projections/tenants/tenants.h"
#include "projections/audit/audit.h"
#include "projections/usage/usage.h"

namespace nf::gateway {

class tenancy_api {
 public:
  tenancy_api(bus::event_bus& bus, projection::store& store, const tenancy_options& o, access& acc, const nf::clock& clk,
              std::string region, std::chrono::milliseconds wait);
  std::optional<response> handle(const target& t, const request& req, std::string& route);

 private:
  std::optional<response> dispatch(const target& t, const request& req, std::string& route, const tenancy::context* c,
                                   const response* denied);
  response audit_log(const tenancy::context& c, const std::string& id, const target& t, const request& req);
  // ok when the caller may use `permission` in `tenant` (404 for another tenant, 403 naming it).
  std::optional<response> authorize(const tenancy::context& c, const std::string& tenant, const std::string& permission,
                                    const request& req) const;
  result<bus::append_result> append(const std::string& type, const std::string& tenant, const json& payload);
  void wait(const bus::append_result& r);
  // 409 domain_taken when one of `domains` belongs to another tenant than `tenant`. With
  // must_hold (after the claim was applied), also when `tenant` does not hold it: the log gave it
  // to another tenant first (two writers that both passed the check before appending).
  std::optional<response> domains_taken(const std::string& tenant, const std::vector<std::string>& domains, const request& req,
                                        bool must_hold = false) const;

  response create(const tenancy::context& c, const request& req);
  response list(const tenancy::context& c, const request& req);
  response show(const tenancy::context& c, const std::string& id, const request& req);
  response patch(const tenancy::context& c, const std::string& id, const request& req);
  response create_key(const tenancy::context& c, const std::string& id, const request& req);
  response revoke_key(const tenancy::context& c, const std::string& id, const std::string& key_id, const request& req);
  response define_role(const tenancy::context& c, const std::string& id, const request& req);
  response usage(const tenancy::context& c, const std::string& id, const target& t, const request& req);
  response reserve(const tenancy::context& c, const std::string& id, const request& req);
  response reservations(const tenancy::context& c, const std::string& id, const request& req);
  response release(const tenancy::context& c, const std::string& id, const std::string& reservation_id, const request& req);

  bus::event_bus& bus_;
  tenancy_options opts_;
  access& acc_;
  tenants::tenants_view view_;
  std::optional<usage::usage_view> usage_;
  std::optional<audit::audit_view> audit_;
  const nf::clock& clk_;
  std::string region_;
  std::chrono::milliseconds wait_;
  std::mutex reserve_mu_;  // one reservation decision at a time
};

}  // namespace nf::gateway
