// The tenants read model, folded from tenancy.tenants.
//
// In: tenancy.tenant_created, tenancy.tenant_updated, tenancy.key_created, tenancy.key_revoked,
//     tenancy.role_defined, tenancy.reservation_made, tenancy.reservation_released.
// Keys: t/<tenant> -> tenant document {id, name, plan, quotas (overrides), domains, status,
//       createdAt, keys: {keyId: {role, name, createdAt, revokedAt?}}, roles: {name: [perms]},
//       reservations: {reservationId: {kind, amount, createdAt}}};
//       k/<key digest> -> {tenant, role, keyId} for keys not revoked; i/<tenant>/<keyId> -> digest;
//       d/<domain, lowercase> -> tenant. A domain belongs to the tenant whose claim came first in
//       the log: a later claim by another tenant is left out of that tenant's `domains`.
// A second tenant_created for an existing id changes nothing (the first one stands); events for
// unknown tenants are errors that stop the projection with the position.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/tenancy/directory.h"
#include "actors/tenancy/rbac.h"
#include "core/projection/projection.h"
#include "core/projection/touched.h"

namespace nf::tenants {

inline constexpr const char* kTenantsTopic = "tenancy.tenants";

class tenants_projection final : public projection::projection {
 public:
  // Tenants whose events were applied since the last call.
  std::vector<std::string> drain_touched();
  std::string name() const override { return "tenants"; }
  std::vector<std::string> topics() const override { return {kTenantsTopic}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }

 private:
  ::nf::projection::touched_set touched_;
};

class tenants_view {
 public:
  tenants_view(::nf::projection::store& store, const tenants_projection& proj) : store_(store), proj_(proj) {}
  result<std::optional<nlohmann::json>> get(const std::string& tenant_id) const;
  result<std::vector<nlohmann::json>> list() const;
  // The tenant a custom domain belongs to, if any.
  result<std::optional<std::string>> domain_owner(const std::string& domain) const;
  // The tenant's custom roles.
  result<tenancy::roles> roles_of(const std::string& tenant_id) const;
  // Every tenant and active key, into the gateway's directory.
  result<void> load_into(tenancy::directory& dir) const;
  // One tenant and its active keys (or its removal, if unknown), into the directory.
  result<void> load_tenant_into(tenancy::directory& dir, const std::string& tenant_id) const;

 private:
  ::nf::projection::store& store_;
  const tenants_projection& proj_;
};

// Keeps a directory equal to the tenants projection: everything once at start, then after each
// applied batch only the tenants it touched (O(keys of those tenants), not O(all tenants)).
// Both run under one lock, so a full load never overwrites a newer single-tenant load.
class directory_sync {
 public:
  directory_sync(::nf::projection::store& store, tenants_projection& proj, tenancy::directory& dir)
      : proj_(proj), view_(store, proj), dir_(dir) {}
  result<void> load_all();
  // For the feed's on_applied.
  result<void> applied();

 private:
  tenants_projection& proj_;
  tenants_view view_;
  tenancy::directory& dir_;
  std::mutex mu_;
};

}  // namespace nf::tenants
