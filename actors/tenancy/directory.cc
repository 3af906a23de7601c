// Tenant-context resolution.
#include "actors/tenancy/directory.h"

#include <algorithm>
#include <mutex>

namespace nf::tenancy {
namespace {

std::string lower_host(std::string_view host) {
  if (auto colon = host.rfind(':'); colon != std::string_view::npos && host.find(']') == std::string_view::npos) host = host.substr(0, colon);
  std::string out(host);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

void directory::put_tenant(const std::string& id, const std::vector<std::string>& domains, bool active) {
  std::unique_lock lk(mu_);
  auto& t = tenants_[id];
  for (const auto& d : t.domains) domains_.erase(d);
  t.domains.clear();
  for (const auto& d : domains) {
    const auto h = lower_host(d);
    domains_[h] = id;
    t.domains.push_back(h);
  }
  t.active = active;
}

void directory::put_key(const std::string& digest, const std::string& tenant, const std::string& role, const std::string& key_id) {
  std::unique_lock lk(mu_);
  keys_[digest] = key_entry{tenant, role, key_id};
  if (auto t = tenants_.find(tenant); t != tenants_.end()) t->second.key_digests.push_back(digest);
}

void directory::revoke_key(const std::string& digest) {
  std::unique_lock lk(mu_);
  auto k = keys_.find(digest);
  if (k == keys_.end()) return;
  if (auto t = tenants_.find(k->second.tenant); t != tenants_.end()) std::erase(t->second.key_digests, digest);
  keys_.erase(k);
}

void directory::set_platform_admin(const std::string& digest) {
  std::unique_lock lk(mu_);
  admin_digest_ = digest;
}

void directory::replace(const std::vector<tenant_spec>& tenants, const std::vector<key_spec>& keys) {
  std::unordered_map<std::string, tenant_entry> t;
  std::unordered_map<std::string, std::string> d;
  std::unordered_map<std::string, key_entry> k;
  for (const auto& spec : tenants) {
    auto& e = t[spec.id];
    e.active = spec.active;
    e.quota = spec.quota;
    e.refusal = spec.refusal;
    if (!spec.custom_roles.custom().empty()) e.custom_roles = std::make_shared<const roles>(spec.custom_roles);
    for (const auto& dom : spec.domains) {
      const auto h = lower_host(dom);
      d[h] = spec.id;
      e.domains.push_back(h);
    }
  }
  for (const auto& spec : keys) {
    k[spec.digest] = key_entry{spec.tenant, spec.role, spec.key_id};
    if (auto it = t.find(spec.tenant); it != t.end()) it->second.key_digests.push_back(spec.digest);
  }
  std::unique_lock lk(mu_);
  tenants_.swap(t);
  domains_.swap(d);
  keys_.swap(k);
}

void directory::replace_tenant(const std::string& id, const std::optional<tenant_spec>& spec, const std::vector<key_spec>& keys) {
  tenant_entry e;
  if (spec) {
    e.active = spec->active;
    e.quota = spec->quota;
    e.refusal = spec->refusal;
    if (!spec->custom_roles.custom().empty()) e.custom_roles = std::make_shared<const roles>(spec->custom_roles);
    for (const auto& dom : spec->domains) e.domains.push_back(lower_host(dom));
    for (const auto& k : keys) e.key_digests.push_back(k.digest);
  }
  std::unique_lock lk(mu_);
  if (auto old = tenants_.find(id); old != tenants_.end()) {
    for (const auto& d : old->second.domains)
      if (auto it = domains_.find(d); it != domains_.end() && it->second == id) domains_.erase(it);
    for (const auto& digest : old->second.key_digests) keys_.erase(digest);
    tenants_.erase(old);
  }
  if (!spec) return;
  for (const auto& d : e.domains) domains_[d] = id;
  for (const auto& k : keys) keys_[k.digest] = key_entry{id, k.role, k.key_id};
  tenants_.emplace(id, std::move(e));
}

std::optional<limits> directory::limits_of(const std::string& tenant) const {
  std::shared_lock lk(mu_);
  auto it = tenants_.find(tenant);
  if (it == tenants_.end()) return std::nullopt;
  return it->second.quota;
}

std::size_t directory::tenants() const {
  std::shared_lock lk(mu_);
  return tenants_.size();
}

std::size_t directory::keys() const {
  std::shared_lock lk(mu_);
  return keys_.size();
}

// With mu_ held.
std::optional<std::string> directory::tenant_of_host(std::string_view host, bool& from_domain) const {
  from_domain = false;
  if (host.empty()) return std::nullopt;
  const auto h = lower_host(host);
  if (auto it = domains_.find(h); it != domains_.end()) {
    from_domain = true;
    return it->second;
  }
  if (!base_domain_.empty() && h.size() > base_domain_.size() + 1 && h.ends_with(base_domain_) &&
      h[h.size() - base_domain_.size() - 1] == '.') {
    auto sub = h.substr(0, h.size() - base_domain_.size() - 1);
    if (sub.find('.') == std::string::npos && tenants_.count(sub)) return sub;
  }
  return std::nullopt;
}

result<context> directory::resolve(const request_credentials& c, std::int64_t now_ms) const {
  std::string_view bearer;
  if (c.authorization.size() > 7 && (c.authorization.starts_with("Bearer ") || c.authorization.starts_with("bearer ")))
    bearer = c.authorization.substr(7);
  else if (!c.authorization.empty())
    return error{errc::unauthenticated, "the Authorization header must be 'Bearer <API key or JWT>'"};
  std::string_view key = looks_like_key(bearer) ? bearer : c.api_key;
  if (!bearer.empty() && !c.api_key.empty() && looks_like_key(bearer) && bearer != c.api_key)
    return error{errc::unauthenticated, "two different API keys in Authorization and X-API-Key"};

  std::shared_lock lk(mu_);
  bool from_domain = false;
  const auto host_tenant = tenant_of_host(c.host, from_domain);
  context ctx;
  std::optional<std::string> cred_tenant;
  if (!key.empty()) {
    const auto digest = key_digest(key);
    if (!admin_digest_.empty() && digest == admin_digest_) {
      ctx.platform_admin = true;
      ctx.principal = "key:platform-admin";
      ctx.roles = {"owner"};
      ctx.tenant = host_tenant.value_or("");
    } else {
      auto it = keys_.find(digest);
      if (it == keys_.end()) return error{errc::unauthenticated, "unknown or revoked API key"};
      cred_tenant = it->second.tenant;
      ctx.principal = "key:" + it->second.key_id;
      ctx.roles = {it->second.role};
    }
  } else if (!bearer.empty()) {
    if (!jwks_) return error{errc::unauthenticated, "JWT bearer tokens are not configured here (auth.jwks_file); use an API key"};
    lk.unlock();  // signature checks need no lock
    NF_TRY_ASSIGN(auto claims, verify_jwt(bearer, *jwks_, policy_, now_ms));
    lk.lock();
    cred_tenant = claims.tenant;
    ctx.principal = "jwt:" + claims.subject;
    ctx.roles = std::move(claims.roles);
  } else {
    return error{errc::unauthenticated,
                 "no credentials: send 'Authorization: Bearer nfk_...' or 'X-API-Key: nfk_...' (API key), or 'Authorization: Bearer <JWT>'"};
  }
  if (!ctx.platform_admin) {
    if (host_tenant && *host_tenant != *cred_tenant)
      return error{errc::unauthenticated, std::string(from_domain ? "the domain " : "the subdomain ") + lower_host(c.host) +
                                              " belongs to another tenant than the credential"};
    ctx.tenant = *cred_tenant;
    auto t = tenants_.find(ctx.tenant);
    if (t == tenants_.end()) return error{errc::unauthenticated, "the credential names unknown tenant '" + ctx.tenant + "'"};
    if (!t->second.refusal.empty()) return error{errc::permission_denied, t->second.refusal};
    if (!t->second.active) return error{errc::permission_denied, "tenant '" + ctx.tenant + "' is suspended"};
    ctx.quota = t->second.quota;
    ctx.custom_roles = t->second.custom_roles;
  }
  return ctx;
}

namespace {
// The tenant's role definitions (built-in roles only when it has no custom ones).
const ::nf::tenancy::roles& definitions(const context& c) {
  static const ::nf::tenancy::roles none;
  return c.custom_roles ? *c.custom_roles : none;
}
}  // namespace

bool context::holds(std::string_view permission) const {
  // session:read is every credential's: a custom role cannot leave its holder unable to ask who it is.
  if (platform_admin || permission == "session:read") return true;
  const auto& defs = definitions(*this);
  return std::any_of(roles.begin(), roles.end(), [&](const std::string& r) { return bool(defs.check(r, permission)); });
}

bool context::allows(std::string_view permission, std::string_view resource) const {
  if (platform_admin) return true;
  const auto& defs = definitions(*this);
  return std::any_of(roles.begin(), roles.end(), [&](const std::string& r) { return defs.allows(r, permission, resource); });
}

}  // namespace nf::tenancy
