// Audit projection.
#include "projections/audit/audit.h"

#include "core/base/bytes.h"
#include <algorithm>

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
    // A batch is stored as it came, once, under its tenant and first record's time: one write per
    // batch, not per request. range() expands it.
    events::AuditBatch b;
    if (!env.payload().UnpackTo(&b)) return error{errc::corruption, "tenancy.audit@" + std::to_string(m.off.get()) + ": not an AuditBatch"};
    if (b.records_size() == 0) return ok();
    std::int64_t first = b.records(0).at_ms();
    for (const auto& r : b.records()) first = std::min(first, r.at_ms());
    const std::string t = env.tenant_id().empty() ? "-" : env.tenant_id();
    return w.put("b/" + t + "/" + be64(static_cast<std::uint64_t>(std::max<std::int64_t>(first, 0))) + "/" + m.topic.get() + "/" +
                     be64(static_cast<std::uint64_t>(m.off.get())),
                 env.payload().value());
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

result<std::vector<nlohmann::json>> audit_view::range(const tenant_id& tenant_, std::int64_t from_ms, std::int64_t to_ms, std::size_t limit) const {
  const std::string& tenant = tenant_.get();
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  using json = nlohmann::json;
  const auto key_of = [](std::int64_t ms) { return be64(static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 0))); };
  // Single records and changes, in time order.
  std::vector<std::pair<std::int64_t, json>> singles;
  {
    const auto prefix = "a/" + tenant + "/";
    const auto lo = key_of(from_ms), hi = key_of(to_ms);
    NF_TRY(r->scan(prefix, [&](std::string_view k, std::string_view v) {
      const auto ts = k.substr(prefix.size(), 8);
      if (ts < lo) return true;
      if (ts >= hi) return false;
      auto j = json::parse(v, nullptr, false);
      if (!j.is_discarded()) singles.emplace_back(j.value("at", std::int64_t{0}), std::move(j));
      return singles.size() < limit;
    }));
  }
  // Batched requests: a batch is keyed by its first record, so one that began before `from` can
  // hold later records; batches span one flush of the audit writer (well under a minute).
  std::vector<std::pair<std::int64_t, json>> batched;
  {
    const auto prefix = "b/" + tenant + "/";
    const auto lo = key_of(from_ms - 60'000), hi = key_of(to_ms);
    std::string damaged;
    NF_TRY(r->scan(prefix, [&](std::string_view k, std::string_view v) {
      const auto ts = k.substr(prefix.size(), 8);
      if (ts < lo) return true;
      if (ts >= hi) return false;
      events::AuditBatch b;
      if (!b.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
        damaged = std::string(k);
        return false;
      }
      for (const auto& a : b.records()) {
        if (a.at_ms() < from_ms || a.at_ms() >= to_ms) continue;
        batched.emplace_back(a.at_ms(), json{{"at", a.at_ms()},     {"kind", "request"},  {"principal", a.principal()},
                                             {"roles", a.roles()},  {"method", a.method()}, {"route", a.route()},
                                             {"target", a.target()}, {"status", a.status()}});
      }
      return batched.size() < limit;
    }));
    if (!damaged.empty()) return error{errc::corruption, "an audit batch of tenant '" + tenant + "' is damaged"};
  }
  std::stable_sort(batched.begin(), batched.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<json> out;
  std::size_t i = 0, j = 0;
  while (out.size() < limit && (i < singles.size() || j < batched.size())) {
    if (j == batched.size() || (i < singles.size() && singles[i].first <= batched[j].first)) out.push_back(std::move(singles[i++].second));
    else out.push_back(std::move(batched[j++].second));
  }
  return out;
}

}  // namespace nf::audit
