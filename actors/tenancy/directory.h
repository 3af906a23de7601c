// The gateway's in-memory view of tenants, domains and API keys, and tenant-context resolution.
//
// A request's tenant comes from, in this order: its custom domain (Host), its API key
// (Authorization: Bearer nfk_... or X-API-Key), its JWT (Authorization: Bearer <jwt>), or the
// subdomain <tenant>.<base domain>. Every request needs a credential (API key or JWT) for its
// roles; when two sources name different tenants the request is refused. The platform admin key
// acts in the tenant its host names, or across tenants.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "actors/tenancy/credentials.h"
#include "actors/tenancy/plans.h"
#include "actors/tenancy/rbac.h"
#include "core/base/result.h"

namespace nf::tenancy {

struct context {
  std::string tenant;               // empty: the platform admin outside any tenant
  std::string principal;            // "key:<key id>" or "jwt:<sub>"
  std::vector<std::string> roles;
  bool platform_admin = false;
  limits quota = unlimited();       // the tenant's effective limits; all -1 (unlimited) for the platform admin
  std::shared_ptr<const ::nf::tenancy::roles> custom_roles;  // the tenant's custom roles (null: none)
  // Whether the caller holds `permission` in its own tenant (the platform admin holds all).
  bool holds(std::string_view permission) const;
  // Whether it holds `permission` for `resource`, unscoped or through a scope (rbac.h).
  bool allows(std::string_view permission, std::string_view resource) const;
  // Whether the caller may see a resource of `tenant_id`.
  bool sees(std::string_view tenant_id) const { return platform_admin || tenant_id == tenant; }
};

struct request_credentials {
  std::string_view host;            // Host header (a port is ignored)
  std::string_view authorization;   // Authorization header
  std::string_view api_key;         // X-API-Key header
};

class directory {
 public:
  explicit directory(std::string base_domain = "", const jwks* keys = nullptr, jwt_policy policy = {})
      : base_domain_(std::move(base_domain)), jwks_(keys), policy_(std::move(policy)) {}
  // Tenants are also reached as <tenant>.<base_domain>; empty when not configured.
  const std::string& base_domain() const { return base_domain_; }

  void put_tenant(const std::string& id, const std::vector<std::string>& domains, bool active = true);
  void put_key(const std::string& digest, const std::string& tenant, const std::string& role, const std::string& key_id);
  void revoke_key(const std::string& digest);
  void set_platform_admin(const std::string& digest);

  struct tenant_spec {
    std::string id;
    std::vector<std::string> domains;
    bool active = true;
    limits quota = unlimited();
    roles custom_roles;
    std::string refusal = {};          // non-empty: every request of the tenant is refused with it (a damaged document)
  };
  struct key_spec {
    std::string digest, tenant, role, key_id;
  };
  // Replaces every tenant and key at once (readers see the old set or the new one).
  void replace(const std::vector<tenant_spec>& tenants, const std::vector<key_spec>& keys);
  // Replaces one tenant and all its keys (`keys` are its active ones); nullopt spec removes it.
  void replace_tenant(const std::string& id, const std::optional<tenant_spec>& spec, const std::vector<key_spec>& keys);
  std::size_t tenants() const;
  std::size_t keys() const;
  // A tenant's effective limits; nullopt for an unknown tenant.
  std::optional<limits> limits_of(const std::string& tenant) const;

  // unauthenticated (401) or permission_denied (403, suspended tenant) with a message that says
  // what to send.
  result<context> resolve(const request_credentials& c, std::int64_t now_ms) const;

 private:
  struct tenant_entry {
    std::vector<std::string> domains;
    bool active = true;
    limits quota = unlimited();
    std::shared_ptr<const roles> custom_roles;
    std::string refusal;
    std::vector<std::string> key_digests;  // its active keys
  };
  struct key_entry {
    std::string tenant, role, key_id;
  };
  std::optional<std::string> tenant_of_host(std::string_view host, bool& from_domain) const;

  std::string base_domain_;
  const jwks* jwks_;
  jwt_policy policy_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, tenant_entry> tenants_;
  std::unordered_map<std::string, std::string> domains_;  // lowercase host -> tenant
  std::unordered_map<std::string, key_entry> keys_;       // digest -> key
  std::string admin_digest_;
};

}  // namespace nf::tenancy
