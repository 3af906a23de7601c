// Tenants projection.
#include "projections/tenants/tenants.h"

#include <algorithm>

#include "core/base/number.h"
#include "core/event/codec.h"
#include "tenancy.pb.h"

namespace nf::tenants {
namespace {

using json = nlohmann::json;

result<json> load_doc(::nf::projection::state_writer& w, const std::string& tenant, const std::string& where) {
  NF_TRY_ASSIGN(auto v, w.get("t/" + tenant));
  if (!v) return error{errc::corruption, where + ": tenant '" + tenant + "' does not exist"};
  auto j = json::parse(*v, nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "the document of tenant '" + tenant + "' is damaged"};
  return j;
}

std::string decided_key(partition_id p) { return "c/" + std::to_string(p.get()); }

result<void> save_doc(::nf::projection::state_writer& w, const json& doc) {
  return w.put("t/" + doc["id"].get<std::string>(), doc.dump());
}


}  // namespace

std::vector<std::string> tenants_projection::drain_touched() { return touched_.drain(); }

namespace {

std::string domain_key(const std::string& domain) {
  std::string d = domain;
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return "d/" + d;
}

// The domains of `claimed` that are free or already `tenant`'s: a domain belongs to the tenant
// whose claim reached the log first, so two writers that both passed a check cannot both win.
result<json> grant_domains(::nf::projection::state_writer& w, const std::string& tenant,
                           const google::protobuf::RepeatedPtrField<std::string>& claimed) {
  json granted = json::array();
  for (const auto& d : claimed) {
    NF_TRY_ASSIGN(auto owner, w.get(domain_key(d)));
    if (owner && *owner != tenant) continue;
    NF_TRY(w.put(domain_key(d), tenant));
    granted.push_back(d);
  }
  return granted;
}

result<void> release_domains(::nf::projection::state_writer& w, const std::string& tenant, const json& doc) {
  if (!doc.contains("domains") || !doc["domains"].is_array()) return ok();
  for (const auto& d : doc["domains"]) {
    if (!d.is_string()) continue;
    NF_TRY_ASSIGN(auto owner, w.get(domain_key(d.get<std::string>())));
    if (owner && *owner == tenant) NF_TRY(w.del(domain_key(d.get<std::string>())));
  }
  return ok();
}

}  // namespace

result<void> tenants_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  NF_TRY_ASSIGN(auto env, event::from_message(m));
  if (auto d = env.headers().find(kDecidesHeader); d != env.headers().end()) {
    auto command = parse_number<std::int64_t>(d->second, kDecidesHeader);
    if (!command || *command < 0)
      return error{errc::corruption, to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get()) + ": header " +
                                         kDecidesHeader + " is '" + d->second + "', not a command offset"};
    const auto key = decided_key(m.partition);
    NF_TRY_ASSIGN(auto before, w.get(key));
    auto prior = before ? parse_number<std::int64_t>(*before, key) : result<std::int64_t>(-1);
    if (!prior) return error{errc::corruption, "projection tenants: " + key + " is '" + *before + "'"};
    if (*command > *prior) NF_TRY(w.put(key, std::to_string(*command)));
  }
  if (!env.tenant_id().empty() || !env.key().empty()) touched_.add(env.tenant_id().empty() ? env.key() : env.tenant_id());
  const auto where = to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get());
  const auto& type = env.type();
  const auto at = env.occurred_at();
  if (type == "tenancy.tenant_created") {
    events::TenantCreated e;
    if (!env.payload().UnpackTo(&e)) return error{errc::corruption, where + ": not a TenantCreated"};
    NF_TRY_ASSIGN(auto existing, w.get("t/" + e.tenant_id()));
    if (existing) return ok();
    json quotas = json::object();
    for (const auto& [k, v] : e.quotas()) quotas[k] = v;
    NF_TRY_ASSIGN(auto domains, grant_domains(w, e.tenant_id(), e.domains()));
    json doc{{"id", e.tenant_id()}, {"name", e.name()},          {"plan", e.plan()},         {"quotas", quotas},
             {"domains", domains}, {"status", "active"}, {"createdAt", at},         {"keys", json::object()},
             {"roles", json::object()}};
    return save_doc(w, doc);
  }
  if (type == "tenancy.tenant_updated") {
    events::TenantUpdated e;
    if (!env.payload().UnpackTo(&e)) return error{errc::corruption, where + ": not a TenantUpdated"};
    NF_TRY_ASSIGN(auto doc, load_doc(w, e.tenant_id(), where));
    if (!e.plan().empty()) doc["plan"] = e.plan();
    for (const auto& [k, v] : e.quotas()) doc["quotas"][k] = v;
    if (e.domains_set()) {
      NF_TRY(release_domains(w, e.tenant_id(), doc));
      NF_TRY_ASSIGN(doc["domains"], grant_domains(w, e.tenant_id(), e.domains()));
    }
    if (!e.status().empty()) doc["status"] = e.status();
    return save_doc(w, doc);
  }
  if (type == "tenancy.key_created") {
    events::ApiKeyCreated e;
    if (!env.payload().UnpackTo(&e)) return error{errc::corruption, where + ": not an ApiKeyCreated"};
    NF_TRY_ASSIGN(auto doc, load_doc(w, e.tenant_id(), where));
    if (doc["keys"].contains(e.key_id())) return ok();
    doc["keys"][e.key_id()] = json{{"role", e.role()}, {"name", e.name()}, {"createdAt", at}};
    NF_TRY(w.put("k/" + e.digest(), json{{"tenant", e.tenant_id()}, {"role", e.role()}, {"keyId", e.key_id()}}.dump()));
    NF_TRY(w.put("i/" + e.tenant_id() + "/" + e.key_id(), e.digest()));
    return save_doc(w, doc);
  }
  if (type == "tenancy.key_revoked") {
    events::ApiKeyRevoked e;
    if (!env.payload().UnpackTo(&e)) return error{errc::corruption, where + ": not an ApiKeyRevoked"};
    NF_TRY_ASSIGN(auto doc, load_doc(w, e.tenant_id(), where));
    if (!doc["keys"].contains(e.key_id())) return error{errc::corruption, where + ": tenant '" + e.tenant_id() + "' has no key " + e.key_id()};
    if (doc["keys"][e.key_id()].contains("revokedAt")) return ok();
    doc["keys"][e.key_id()]["revokedAt"] = at;
    NF_TRY_ASSIGN(auto digest, w.get("i/" + e.tenant_id() + "/" + e.key_id()));
    if (digest) NF_TRY(w.del("k/" + *digest));
    return save_doc(w, doc);
  }
  if (type == "tenancy.role_defined") {
    events::RoleDefined e;
    if (!env.payload().UnpackTo(&e)) return error{errc::corruption, where + ": not a RoleDefined"};
    NF_TRY_ASSIGN(auto doc, load_doc(w, e.tenant_id(), where));
    doc["roles"][e.role()] = e.permissions();
    return save_doc(w, doc);
  }
  if (type == "tenancy.reservation_made") {
    events::ReservationMade e;
    if (!env.payload().UnpackTo(&e)) return error{errc::corruption, where + ": not a ReservationMade"};
    NF_TRY_ASSIGN(auto doc, load_doc(w, e.tenant_id(), where));
    if (!doc.contains("reservations")) doc["reservations"] = json::object();
    if (doc["reservations"].contains(e.reservation_id())) return ok();
    doc["reservations"][e.reservation_id()] = json{{"kind", e.kind()}, {"amount", e.amount()}, {"createdAt", at}};
    return save_doc(w, doc);
  }
  if (type == "tenancy.reservation_released") {
    events::ReservationReleased e;
    if (!env.payload().UnpackTo(&e)) return error{errc::corruption, where + ": not a ReservationReleased"};
    NF_TRY_ASSIGN(auto doc, load_doc(w, e.tenant_id(), where));
    if (!doc.contains("reservations") || !doc["reservations"].contains(e.reservation_id())) return ok();
    doc["reservations"].erase(e.reservation_id());
    return save_doc(w, doc);
  }
  return ok();
}

result<std::optional<nlohmann::json>> tenants_view::get(const std::string& tenant_id) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get("t/" + tenant_id));
  if (!v) return std::optional<json>{};
  auto j = json::parse(*v, nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "the document of tenant '" + tenant_id + "' is damaged"};
  return std::optional<json>{std::move(j)};
}

result<std::optional<tenants_view::versioned>> tenants_view::get_versioned(const std::string& tenant_id) const {
  const std::string keys[] = {"t/" + tenant_id, ::nf::projection::key_version_key(kTenantsTopic, tenant_id)};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  if (!got[0]) return std::optional<versioned>{};
  auto j = json::parse(*got[0], nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "the document of tenant '" + tenant_id + "' is damaged"};
  NF_TRY_ASSIGN(auto version, ::nf::projection::parse_key_version(got[1]));
  return std::optional<versioned>{versioned{std::move(j), version}};
}

result<std::int64_t> tenants_view::version(const std::string& tenant_id) const {
  const std::string keys[] = {::nf::projection::key_version_key(kTenantsTopic, tenant_id)};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  return ::nf::projection::parse_key_version(got[0]);
}

result<std::optional<std::int64_t>> tenants_view::decided_through(partition_id partition) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  const auto key = decided_key(partition);
  NF_TRY_ASSIGN(auto v, r->get(key));
  if (!v) return std::optional<std::int64_t>{};
  auto n = parse_number<std::int64_t>(*v, key);
  if (!n) return error{errc::corruption, "projection tenants: " + key + " is '" + *v + "'"};
  return std::optional<std::int64_t>{*n};
}

result<std::optional<std::string>> tenants_view::domain_owner(const std::string& domain) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  return r->get(domain_key(domain));
}

result<std::vector<nlohmann::json>> tenants_view::list() const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  NF_TRY(r->scan("t/", [&](std::string_view, std::string_view v) {
    auto j = json::parse(v, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return true;
  }));
  return out;
}

result<void> tenants_view::for_each_tenant(const std::function<void(const json&)>& fn) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::string damaged;
  NF_TRY(r->scan("t/", [&](std::string_view k, std::string_view v) {
    auto j = json::parse(v, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      damaged = std::string(k.substr(2));
      return false;
    }
    fn(j);
    return true;
  }));
  if (!damaged.empty()) return error{errc::corruption, "the document of tenant '" + damaged + "' is damaged"};
  return ok();
}

result<std::vector<tenants_view::key_record>> tenants_view::active_keys(const std::optional<std::string>& tenant_id) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<key_record> out;
  std::string damaged;
  auto parse = [&](const std::string& digest, std::string_view v) -> bool {
    auto j = json::parse(v, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j["tenant"].is_string() || !j["role"].is_string() || !j["keyId"].is_string()) {
      damaged = digest;
      return false;
    }
    out.push_back({digest, j["tenant"].get<std::string>(), j["role"].get<std::string>(), j["keyId"].get<std::string>()});
    return true;
  };
  if (tenant_id) {
    std::vector<std::string> digests;
    NF_TRY(r->scan("i/" + *tenant_id + "/", [&](std::string_view, std::string_view digest) {
      digests.emplace_back(digest);
      return true;
    }));
    for (const auto& d : digests) {
      NF_TRY_ASSIGN(auto k, r->get("k/" + d));
      if (!k) continue;  // revoked
      if (!parse(d, *k)) break;
    }
  } else {
    NF_TRY(r->scan("k/", [&](std::string_view k, std::string_view v) { return parse(std::string(k.substr(2)), v); }));
  }
  if (!damaged.empty()) return error{errc::corruption, "the key record " + damaged.substr(0, 12) + "... is damaged"};
  return out;
}

}  // namespace nf::tenants
