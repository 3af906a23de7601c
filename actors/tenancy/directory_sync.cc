// Directory loading from the tenants read model, with the tenancy policy applied.
#include "actors/tenancy/directory_sync.h"

#include "actors/tenancy/plans.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::tenancy {

namespace {

using json = nlohmann::json;

void count_damage(const std::string& tenant, const std::string& what) {
  nf::log::get("tenancy")->error("tenant '{}': {}; its requests are refused until the document is corrected", tenant, what);
  metrics::registry::global().get_counter("nf_tenancy_damaged_documents_total", "Tenant documents that could not be read as policy").inc();
}

std::vector<std::string> strings_of(const json& v) {
  std::vector<std::string> out;
  if (!v.is_array()) return out;
  for (const auto& x : v)
    if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}

}  // namespace

directory::tenant_spec spec_of(const json& j) {
  directory::tenant_spec spec;
  spec.id = j.value("id", std::string());
  spec.domains = strings_of(j.value("domains", json::array()));
  spec.active = j.value("status", "active") == "active";
  auto refuse = [&](const std::string& what) {
    count_damage(spec.id, what);
    spec.refusal = "tenant '" + spec.id + "' cannot be served: " + what;
  };
  overrides o;
  if (j.contains("quotas")) {
    if (auto q = parse_overrides(j["quotas"])) o = *q;
    else refuse("its quota overrides are damaged (" + q.error().message + ")");
  }
  auto p = parse_plan(j.value("plan", "basic"));
  if (!p) refuse("its plan is damaged (" + p.error().message + ")");
  spec.quota = effective(p ? *p : plan::basic, o);
  if (j.contains("roles") && j["roles"].is_object())
    for (const auto& [name, perms] : j["roles"].items()) {
      auto parsed = parse_permissions(strings_of(perms));
      auto defined = parsed ? spec.custom_roles.define(name, std::move(*parsed)) : result<void>(parsed.error());
      // A role that cannot be defined grants nothing: its keys are refused, nothing else is.
      if (!defined) count_damage(spec.id, "custom role '" + name + "' is damaged (" + defined.error().message + ")");
    }
  return spec;
}

result<roles> roles_of(const tenants::tenants_view& view, const std::string& tenant_id) {
  NF_TRY_ASSIGN(auto doc, view.get(tenant_id));
  if (!doc) return roles{};
  return spec_of(*doc).custom_roles;
}

result<void> load_into(const tenants::tenants_view& view, directory& dir) {
  std::vector<directory::tenant_spec> tenants;
  NF_TRY(view.for_each_tenant([&](const json& j) { tenants.push_back(spec_of(j)); }));
  NF_TRY_ASSIGN(auto keys, view.active_keys());
  std::vector<directory::key_spec> specs;
  specs.reserve(keys.size());
  for (auto& k : keys) specs.push_back({std::move(k.digest), std::move(k.tenant), std::move(k.role), std::move(k.key_id)});
  dir.replace(tenants, specs);
  return ok();
}

result<void> load_tenant_into(const tenants::tenants_view& view, directory& dir, const std::string& tenant_id) {
  NF_TRY_ASSIGN(auto doc, view.get(tenant_id));
  if (!doc) {
    dir.replace_tenant(tenant_id, std::nullopt, {});
    return ok();
  }
  NF_TRY_ASSIGN(auto keys, view.active_keys(tenant_id));
  std::vector<directory::key_spec> specs;
  for (auto& k : keys) specs.push_back({std::move(k.digest), std::move(k.tenant), std::move(k.role), std::move(k.key_id)});
  dir.replace_tenant(tenant_id, spec_of(*doc), specs);
  return ok();
}

result<void> directory_sync::load_all() {
  std::lock_guard lk(mu_);
  (void)proj_.drain_touched();  // the full load covers every tenant the drained list named
  return load_into(view_, dir_);
}

result<void> directory_sync::applied() {
  std::lock_guard lk(mu_);
  for (const auto& t : proj_.drain_touched()) NF_TRY(load_tenant_into(view_, dir_, t));
  return ok();
}

}  // namespace nf::tenancy
