// The tenants read model, folded from tenancy.tenants.
//
// In: tenancy.tenant_created, tenancy.tenant_updated, tenancy.key_created, tenancy.key_revoked,
//     tenancy.role_defined, tenancy.reservation_made, tenancy.reservation_released.
// Keys: t/<tenant> -> tenant document {id, name, plan, quotas (overrides), domains, status,
//       createdAt, keys: {keyId: {role, name, createdAt, revokedAt?}}, roles: {name: [perms]},
//       reservations: {reservationId: {kind, amount, createdAt}}};
//       k/<key digest> -> {tenant, role, keyId} for keys not revoked; i/<tenant>/<keyId> -> digest;
//       c/<partition> -> the highest command offset decided (kDecidesHeader);
//       d/<domain, lowercase> -> tenant. A domain belongs to the tenant whose claim came first in
//       the log: a later claim by another tenant is left out of that tenant's `domains`.
// The projection stores facts: plan names, overrides and role definitions as they were given;
// their meaning (effective limits, permissions) is the tenancy feature's.
// A second tenant_created for an existing id changes nothing (the first one stands); events for
// unknown tenants are errors that stop the projection with the position.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <functional>

#include "core/projection/projection.h"
#include "core/projection/touched.h"

namespace nf::tenants {

inline constexpr const char* kTenantsTopic = "tenancy.tenants";
// On an outcome the tenant's owner appended: the offset, in the same partition of
// commands.tenancy, of the command it decides. The projection keeps the highest per partition
// (key c/<partition>), so an owner handed a command again (a lost commit, a rebalance) sees that
// it was decided and appends nothing twice.
inline constexpr const char* kDecidesHeader = "nf-decides";

class tenants_projection final : public projection::projection {
 public:
  // Tenants whose events were applied since the last call.
  std::vector<std::string> drain_touched();
  std::string name() const override { return "tenants"; }
  std::vector<std::string> topics() const override { return {kTenantsTopic}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }
  // A tenant's version (its ETag) is the number of records on tenancy.tenants keyed by its id.
  bool counts_key_versions() const override { return true; }

 private:
  ::nf::projection::touched_set touched_;
};

class tenants_view {
 public:
  tenants_view(::nf::projection::store& store, const tenants_projection& proj) : store_(store), proj_(proj) {}
  result<std::optional<nlohmann::json>> get(const std::string& tenant_id) const;
  struct versioned {
    nlohmann::json doc;
    std::int64_t version = 0;  // records keyed by the tenant's id on tenancy.tenants, as applied
  };
  // The document and its version from one consistent read.
  result<std::optional<versioned>> get_versioned(const std::string& tenant_id) const;
  // The tenant's version alone (0 when nothing is keyed by its id), as applied.
  result<std::int64_t> version(const std::string& tenant_id) const;
  // The highest command offset of `partition` of commands.tenancy that an applied outcome decides
  // (kDecidesHeader), if any.
  result<std::optional<std::int64_t>> decided_through(partition_id partition) const;
  result<std::vector<nlohmann::json>> list() const;
  // The tenant a custom domain belongs to, if any.
  result<std::optional<std::string>> domain_owner(const std::string& domain) const;
  // Every tenant document, in id order; corruption for a document that does not parse.
  result<void> for_each_tenant(const std::function<void(const nlohmann::json&)>& fn) const;
  struct key_record {
    std::string digest, tenant, role, key_id;
  };
  // Every key not revoked; of one tenant when `tenant_id` is given.
  result<std::vector<key_record>> active_keys(const std::optional<std::string>& tenant_id = std::nullopt) const;

 private:
  ::nf::projection::store& store_;
  const tenants_projection& proj_;
};


}  // namespace nf::tenants
