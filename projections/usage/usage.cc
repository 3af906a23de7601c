// Usage projection.
#include "projections/usage/usage.h"

#include <chrono>
#include <cstdio>
#include <map>

#include "core/base/bytes.h"
#include "core/event/codec.h"
#include "tenancy.pb.h"

namespace nf::usage {
namespace {

std::int64_t get_be64(std::string_view s) { return static_cast<std::int64_t>(from_be64(s)); }
std::string put_be64(std::int64_t v) { return be64(static_cast<std::uint64_t>(v)); }

}  // namespace

std::vector<std::string> usage_projection::drain_touched() { return touched_.drain(); }

result<void> usage_projection::apply_usage_record(const events::Envelope& env, ::nf::projection::state_writer& w) {
  const auto& tenant = env.tenant_id();
  if (env.type() == "tenancy.requests_metered") {
    events::RequestsMetered r;
    if (!env.payload().UnpackTo(&r) || r.date().size() != 10 || r.requests() < 0)
      return error{errc::corruption, "tenancy.requests_metered for '" + tenant + "' is malformed"};
    const auto key = "r/" + tenant + "/" + r.date();
    NF_TRY_ASSIGN(auto cur, w.get(key));
    return w.put(key, put_be64((cur && cur->size() == 8 ? get_be64(*cur) : 0) + r.requests()));
  }
  if (env.type() == "tenancy.usage_alert") {
    events::UsageAlert a;
    if (!env.payload().UnpackTo(&a)) return error{errc::corruption, "tenancy.usage_alert for '" + tenant + "' is malformed"};
    const auto key = "al/" + tenant + "/" + a.period() + "/" + a.quota() + "/" + std::to_string(a.threshold());
    NF_TRY_ASSIGN(auto cur, w.get(key));
    if (cur) return ok();  // once per period: a second writer's copy changes nothing
    return w.put(key, nlohmann::json{{"quota", a.quota()}, {"threshold", a.threshold()}, {"period", a.period()}, {"used", a.used()},
                                     {"limit", a.limit()}, {"at", env.occurred_at()}}
                          .dump());
  }
  return ok();
}

std::string utc_date(std::int64_t unix_ms) {
  const std::chrono::sys_days d = std::chrono::floor<std::chrono::days>(std::chrono::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(unix_ms)));
  const std::chrono::year_month_day ymd(d);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

bool valid_period(const std::string& p) {
  if (p.size() != 7 || p[4] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6})
    if (p[i] < '0' || p[i] > '9') return false;
  const int month = (p[5] - '0') * 10 + (p[6] - '0');
  return month >= 1 && month <= 12;
}

result<void> usage_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  // The platform's own audit trail of a tenant's requests is not the tenant's usage.
  if (m.topic.get() == "tenancy.audit") return ok();
  events::Envelope env;
  if (m.topic.get() == "tenancy.usage") {
    if (!env.ParseFromString(m.value) || env.tenant_id().empty()) return ok();
    return apply_usage_record(env, w);
  }
  // Only the tenant is needed: the nf-tenant header every envelope's record carries names it
  // without decoding the event. A record without it (another Kafka client's) is decoded; records
  // that are not envelopes belong to no tenant.
  std::string tenant;
  if (const auto* h = m.find_header(event::kTenantHeader)) tenant = *h;
  else if (env.ParseFromString(m.value)) tenant = env.tenant_id();
  if (tenant.empty()) return ok();
  const std::int64_t bytes = static_cast<std::int64_t>(m.key.size() + m.value.size());
  const auto key = "d/" + tenant + "/" + utc_date(m.timestamp_ms);
  NF_TRY_ASSIGN(auto cur, w.get(key));
  std::int64_t events = 1, total = bytes;
  if (cur) {
    if (cur->size() != 16) return error{errc::corruption, "usage counter " + key + " is damaged"};
    events += get_be64(*cur);
    total += get_be64(std::string_view(*cur).substr(8));
  }
  NF_TRY(w.put(key, put_be64(events) + put_be64(total)));
  touched_.add(tenant);
  NF_TRY_ASSIGN(auto stored, w.get("s/" + tenant));
  return w.put("s/" + tenant, put_be64((stored && stored->size() == 8 ? get_be64(*stored) : 0) + bytes));
}

result<std::vector<day_usage>> usage_view::month(const tenant_id& tenant_, const std::string& period) const {
  const std::string& tenant = tenant_.get();
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::map<std::string, day_usage> days;
  for (const char* kind : {"d/", "r/"}) {
    const auto prefix = kind + tenant + "/" + period + "-";
    NF_TRY(r->scan(prefix, [&](std::string_view k, std::string_view v) {
      if (k.size() != prefix.size() + 2) return true;
      const std::string date(k.substr(prefix.size() - 8));
      auto& d = days[date];
      d.date = date;
      if (kind[0] == 'd' && v.size() == 16) {
        d.events = get_be64(v);
        d.bytes = get_be64(v.substr(8));
      } else if (kind[0] == 'r' && v.size() == 8) {
        d.requests = get_be64(v);
      }
      return true;
    }));
  }
  std::vector<day_usage> out;
  for (auto& [date, d] : days) out.push_back(std::move(d));
  return out;
}

result<std::vector<nlohmann::json>> usage_view::alerts(const tenant_id& tenant_, const std::string& period_prefix) const {
  const std::string& tenant = tenant_.get();
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<nlohmann::json> out;
  NF_TRY(r->scan("al/" + tenant + "/" + period_prefix, [&](std::string_view, std::string_view v) {
    auto j = nlohmann::json::parse(v, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
    return true;
  }));
  return out;
}

result<bool> usage_view::alerted(const tenant_id& tenant_, const std::string& period, const std::string& quota, int threshold) const {
  const std::string& tenant = tenant_.get();
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get("al/" + tenant + "/" + period + "/" + quota + "/" + std::to_string(threshold)));
  return v.has_value();
}

result<day_usage> usage_view::day(const tenant_id& tenant_, const std::string& date) const {
  const std::string& tenant = tenant_.get();
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get("d/" + tenant + "/" + date));
  day_usage d{date, 0, 0, 0};
  if (v && v->size() == 16) {
    d.events = get_be64(*v);
    d.bytes = get_be64(std::string_view(*v).substr(8));
  }
  NF_TRY_ASSIGN(auto req, r->get("r/" + tenant + "/" + date));
  if (req && req->size() == 8) d.requests = get_be64(*req);
  return d;
}

result<usage_view::write_usage> usage_view::for_writes(const tenant_id& tenant_, const std::string& date) const {
  const std::string& tenant = tenant_.get();
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  write_usage u;
  NF_TRY_ASSIGN(auto d, r->get("d/" + tenant + "/" + date));
  if (d && d->size() == 16) u.events_today = get_be64(*d);
  NF_TRY_ASSIGN(auto s, r->get("s/" + tenant));
  if (s && s->size() == 8) u.stored_bytes = get_be64(*s);
  return u;
}

result<std::int64_t> usage_view::stored_bytes(const tenant_id& tenant_) const {
  const std::string& tenant = tenant_.get();
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get("s/" + tenant));
  return v && v->size() == 8 ? get_be64(*v) : std::int64_t{0};
}

}  // namespace nf::usage
