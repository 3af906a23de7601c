// Audit projection.
#include "projections/audit/audit.h"

#include "core/base/bytes.h"
#include "core/event/codec.h"
#include "tenancy.pb.h"

namespace nf::audit {
result<void> audit_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  NF_TRY_ASSIGN(auto env, event::from_message(m));
  using json = nlohmann::json;
  json rec;
  std::string tenant;
  std::int64_t at = env.occurred_at();
  if (env.type() == "tenancy.requests_audited") {
    events::AuditBatch b;
    if (!env.payload().UnpackTo(&b)) return error{errc::corruption, "tenancy.audit@" + std::to_string(m.off.get()) + ": not an AuditBatch"};
    for (int i = 0; i < b.records_size(); ++i) {
      const auto& a = b.records(i);
      const std::string t = a.tenant_id().empty() ? "-" : a.tenant_id();
      const json r{{"at", a.at_ms()},     {"kind", "request"},  {"principal", a.principal()}, {"roles", a.roles()},
                   {"method", a.method()}, {"route", a.route()}, {"target", a.target()},       {"status", a.status()}};
      NF_TRY(w.put("a/" + t + "/" + be64(static_cast<std::uint64_t>(a.at_ms())) + "/" + m.topic.get() + "/" +
                       be64(static_cast<std::uint64_t>(m.off.get())) + "/" + be64(static_cast<std::uint64_t>(i)),
                   r.dump()));
    }
    return ok();
  }
  if (env.type() == "tenancy.request_audited") {
    events::AuditRecord a;
    if (!env.payload().UnpackTo(&a)) return error{errc::corruption, "tenancy.audit@" + std::to_string(m.off.get()) + ": not an AuditRecord"};
    tenant = a.tenant_id();
    at = a.at_ms();
    rec = json{{"at", at},           {"kind", "request"},     {"principal", a.principal()}, {"roles", a.roles()},
               {"method", a.method()}, {"route", a.route()}, {"target", a.target()},       {"status", a.status()}};
  } else if (env.type().rfind("tenancy.", 0) == 0 && m.topic.get() == "tenancy.tenants") {
    tenant = env.tenant_id();
    auto payload = event::payload_json(env);
    rec = json{{"at", at}, {"kind", "change"}, {"type", env.type()}, {"event", payload ? *payload : json(nullptr)}};
    if (rec["event"].is_object()) rec["event"].erase("digest");  // key digests stay out of the audit view
  } else {
    return ok();
  }
  if (tenant.empty()) tenant = "-";  // the platform admin outside any tenant
  return w.put("a/" + tenant + "/" + be64(static_cast<std::uint64_t>(at)) + "/" + m.topic.get() + "/" + be64(static_cast<std::uint64_t>(m.off.get())),
               rec.dump());
}

result<std::vector<nlohmann::json>> audit_view::range(const std::string& tenant, std::int64_t from_ms, std::int64_t to_ms, std::size_t limit) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<nlohmann::json> out;
  const auto prefix = "a/" + tenant + "/";
  const auto lo = be64(static_cast<std::uint64_t>(std::max<std::int64_t>(from_ms, 0)));
  const auto hi = be64(static_cast<std::uint64_t>(std::max<std::int64_t>(to_ms, 0)));
  NF_TRY(r->scan(prefix, [&](std::string_view k, std::string_view v) {
    const auto ts = k.substr(prefix.size(), 8);
    if (ts < lo) return true;
    if (ts >= hi) return false;
    auto j = nlohmann::json::parse(v, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return out.size() < limit;
  }));
  return out;
}

}  // namespace nf::audit
