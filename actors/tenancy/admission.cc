// Access control, quotas, metering and audit for every route.
#include "actors/tenancy/admission.h"

#include "core/base/text.h"
#include "core/event/codec.h"
#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "projections/audit/audit.h"
#include "core/http/message.h"
#include "tenancy.pb.h"
#include "projections/usage/usage.h"

namespace nf::tenancy {

using http::json;
using http::request;
using http::response;
using http::error_response;
using http::status_for;
using usage::kUsageTopic;

namespace {
// What access keeps about an admitted caller: its whole tenancy context.
struct admitted final : http::caller_detail {
  explicit admitted(context c) : ctx(std::move(c)) {}
  context ctx;
};

http::caller caller_of(context c) {
  http::caller out;
  out.tenant = c.tenant;
  out.principal = c.principal;
  out.roles = c.roles;
  out.platform_admin = c.platform_admin;
  for (const auto q : kQuotas) out.limits.emplace(std::string(name(q)), c.quota[q]);
  out.detail = std::make_shared<const admitted>(std::move(c));
  return out;
}
}  // namespace

const context& context_of(const http::caller& c) {
  const auto* a = dynamic_cast<const admitted*>(c.detail.get());
  if (!a) throw std::logic_error("the caller was not admitted by the tenancy feature");
  return a->ctx;
}

response auth_error(const error& e, const request& req) {
  if (e.code == errc::unauthenticated) {
    auto res = error_response(http::status::unauthorized, "unauthenticated", e.message, req);
    res.set(http::field::www_authenticate, "Bearer");
    return res;
  }
  if (e.code == errc::permission_denied) return error_response(http::status::forbidden, "forbidden", e.message, req);
  if (e.code == errc::invalid_argument) {
    // A malformed credential, e.g. a JWT whose header field has the wrong type: the message
    // names the field first, in quotes.
    std::string field;
    if (const auto a = e.message.find('\''); a != std::string::npos)
      if (const auto b = e.message.find('\'', a + 1); b != std::string::npos) field = e.message.substr(a + 1, b - a - 1);
    return error_response(http::status::bad_request, "invalid_token", e.message, req, field);
  }
  return error_response(status_for(e.code), "internal", e.message, req);
}

std::string alert_period(quota q, std::int64_t now_ms) {
  const auto day = usage::utc_date(now_ms);
  return q == quota::events_per_day || q == quota::requests_per_minute ? day : day.substr(0, 7);
}

access::access(bus::event_bus& bus, projection::store& store, access_options o, const nf::clock& clk)
    : bus_(bus), opts_(std::move(o)), clk_(clk) {
  if (opts_.usage) usage_.emplace(store, *opts_.usage);
  writer_ = std::thread([this] { run(); });
}

access::~access() { stop(); }

void access::stop() {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  for (const auto& [topic, recs] : retry_) {
    if (recs.empty()) continue;
    nf::log::get("tenancy")->error("{} {} records could not be written before stopping; they are lost", recs.size(), topic);
    metrics::registry::global()
        .get_counter("nf_tenancy_records_lost_total", "Audit, metering and alert records dropped after the bus refused them",
                     {{"topic", topic}})
        .inc(recs.size());
  }
  retry_.clear();
  retained_ = 0;
}

std::variant<http::caller, response> access::admit(const request& req) {
  const auto key = req["X-API-Key"];
  const auto host = req[http::field::host];
  const auto authz = req[http::field::authorization];
  auto c = opts_.dir->resolve({std::string_view(host.data(), host.size()), std::string_view(authz.data(), authz.size()),
                                     std::string_view(key.data(), key.size())},
                                    clk_.now_ms());
  if (!c) return auth_error(c.error(), req);
  if (c->platform_admin) return caller_of(std::move(*c));
  const auto limit = c->quota[quota::requests_per_minute];
  const auto now = clk_.now_ms();
  const auto d = limiter_.take(c->tenant, limit, now);
  if (!d.allowed) {
    observe(c->tenant, quota::requests_per_minute, limit, limit);
    auto res = error_response(http::status::too_many_requests, "rate_limited",
                              "quota requestsPerMinute of tenant '" + c->tenant + "' (" + std::to_string(limit) +
                                  " per minute) is used up; retry in " + std::to_string(d.retry_after_ms) + " ms",
                              req);
    res.set(http::field::retry_after, std::to_string((d.retry_after_ms + 999) / 1000));
    return res;
  }
  // A bucket down to its last fifth: 80 % of the per-minute quota is in use.
  if (limit > 0 && d.remaining >= 0 && d.remaining * 5 <= limit) observe(c->tenant, quota::requests_per_minute, limit, limit - d.remaining);
  meter(c->tenant);
  return caller_of(std::move(*c));
}

std::optional<response> access::require(const http::caller& who, http::permission p, const request& req) {
  if (context_of(who).holds(p.name())) return std::nullopt;
  return error_response(http::status::forbidden, "forbidden", "missing permission '" + std::string(p.name()) + "'", req);
}

bool access::allows(const http::caller& who, http::permission p, std::string_view resource) {
  return context_of(who).allows(p.name(), resource);
}

access::recheck_fn access::recheck(const http::caller& who, const request& req) {
  if (who.platform_admin) return {};
  auto s = [&](auto v) { return std::string(v.data(), v.size()); };
  return [this, host = s(req[http::field::host]), authz = s(req[http::field::authorization]), key = s(req["X-API-Key"])]()
             -> std::optional<std::string> {
    auto c = opts_.dir->resolve({host, authz, key}, clk_.now_ms());
    if (c) return std::nullopt;
    return c.error().message;
  };
}

std::optional<response> access::admit_write(const http::caller& who, std::int64_t events, std::int64_t bytes, std::string_view route_name,
                                            const request& req) {
  const std::string route(route_name);
  const auto& c = context_of(who);
  if (c.platform_admin || c.tenant.empty() || !usage_) return std::nullopt;
  const auto events_limit = c.quota[quota::events_per_day];
  const auto bytes_limit = c.quota[quota::stored_bytes];
  if (events_limit < 0 && bytes_limit < 0) return std::nullopt;
  auto refuse = [&](quota q, const tenancy::admission& a) {
    quota_exceeded(c.tenant, q, a, route, false);
    observe(c.tenant, q, a.limit, a.limit);
    const std::string unit = q == quota::events_per_day ? " events today" : " bytes stored";
    auto res = error_response(http::status::too_many_requests, "quota_exceeded",
                              "quota " + std::string(name(q)) + " of tenant '" + c.tenant + "' is " + std::to_string(a.limit) + unit +
                                  "; " + std::to_string(a.used) + " used, " + std::to_string(a.requested) + " more requested",
                              req, std::string(name(q)));
    if (q == quota::events_per_day) {
      // Until the next UTC midnight.
      const auto now = clk_.now_ms();
      res.set(http::field::retry_after, std::to_string((86'400'000 - now % 86'400'000 + 999) / 1000));
    }
    return res;
  };
  auto used = usage_->for_writes(tenant_id{c.tenant}, usage::utc_date(clk_.now_ms()));
  if (!used) return error_response(status_for(used.error().code), "internal", used.error().message, req);
  if (events_limit >= 0) {
    const auto a = tenancy::admit(events_limit, used->events_today, events);
    if (!a.allowed) return refuse(quota::events_per_day, a);
    observe(c.tenant, quota::events_per_day, events_limit, used->events_today + events);
  }
  if (bytes_limit >= 0) {
    const auto a = tenancy::admit(bytes_limit, used->stored_bytes, bytes);
    if (!a.allowed) return refuse(quota::stored_bytes, a);
    observe(c.tenant, quota::stored_bytes, bytes_limit, used->stored_bytes + bytes);
  }
  return std::nullopt;
}

void access::quota_exceeded(const std::string& tenant, quota q, const tenancy::admission& a, const std::string& route, bool always) {
  const auto now = clk_.now_ms();
  if (!always) {
    std::lock_guard lk(alert_mu_);
    auto& last = refused_at_[tenant + "|" + std::string(name(q))];
    if (last != 0 && now - last < 60'000) return;
    last = now;
  }
  auto e = std::make_shared<events::QuotaExceeded>();
  e->set_tenant_id(tenant);
  e->set_quota(std::string(name(q)));
  e->set_limit(a.limit);
  e->set_used(a.used);
  e->set_requested(a.requested);
  e->set_route(route);
  enqueue(kUsageTopic, "tenancy.quota_exceeded", tenant, std::move(e));
}

void access::observe(const std::string& tenant, quota q, std::int64_t limit, std::int64_t used) {
  if (limit < 0) return;
  const auto thresholds = crossed(limit, 0, used);
  if (thresholds.empty()) return;
  const auto period = alert_period(q, clk_.now_ms());
  for (int t : thresholds) {
    const auto key = tenant + "|" + std::string(name(q)) + "|" + period + "|" + std::to_string(t);
    {
      std::lock_guard lk(alert_mu_);
      if (!alerted_.insert(key).second) continue;
    }
    // Given before this process started?
    if (usage_) {
      auto seen = usage_->alerted(tenant_id{tenant}, period, std::string(name(q)), t);
      if (seen && *seen) continue;
    }
    // The id is derived from what the alert is about, so a second writer's copy is the same event.
    const auto id = event::derive_id(event::event_id{}, "tenancy.usage_alert/" + key, 0);
    auto alert = std::make_shared<events::UsageAlert>();
    alert->set_tenant_id(tenant);
    alert->set_quota(std::string(name(q)));
    alert->set_threshold(t);
    alert->set_period(period);
    alert->set_used(used);
    alert->set_limit(limit);
    enqueue(kUsageTopic, "tenancy.usage_alert", tenant, std::move(alert), id);
  }
}

void access::usage_applied(const std::vector<std::string>& tenants) {
  if (!usage_) return;
  const auto date = usage::utc_date(clk_.now_ms());
  for (const auto& t : tenants) {
    const auto limits = opts_.dir->limits_of(t);
    if (!limits) continue;
    const auto events_limit = (*limits)[quota::events_per_day], bytes_limit = (*limits)[quota::stored_bytes];
    if (events_limit < 0 && bytes_limit < 0) continue;
    auto used = usage_->for_writes(tenant_id{t}, date);
    if (!used) continue;
    observe(t, quota::events_per_day, events_limit, used->events_today);
    observe(t, quota::stored_bytes, bytes_limit, used->stored_bytes);
  }
}

void access::record(const http::caller& c, const request& req, std::string_view route, std::string_view path, unsigned status) {
  if (!opts_.audit) return;
  pending p;
  p.topic = audit::kAuditTopic;
  p.type = "tenancy.request_audited";
  p.tenant = c.tenant;
  p.at = clk_.now_ms();
  p.audit = audit_entry{c.principal, std::string(http::to_string(req.method())), std::string(route), std::string(path), c.roles, status};
  enqueue(std::move(p));
}

void access::meter(const std::string& tenant) {
  const auto day = clk_.now_ms() / 86'400'000;
  std::lock_guard lk(mu_);
  // The date text changes once a day; formatting it per request showed in profiles.
  if (day != meter_day_) {
    meter_day_ = day;
    meter_date_ = usage::utc_date(day * 86'400'000);
  }
  ++requests_[{tenant, meter_date_}];
}

void access::enqueue(const std::string& topic, const std::string& type, const std::string& tenant,
                     std::shared_ptr<const google::protobuf::Message> payload, std::optional<event::event_id> id) {
  pending p;
  p.topic = topic;
  p.type = type;
  p.tenant = tenant;
  p.at = clk_.now_ms();
  p.payload = std::move(payload);
  p.id = id;
  enqueue(std::move(p));
}

void access::enqueue(pending p) {
  {
    std::lock_guard lk(mu_);
    queue_.push_back(std::move(p));
    if (queue_.size() < 512) return;
  }
  cv_.notify_all();
}

void access::write_batch(std::unique_lock<std::mutex>& lk) {
  const auto now = clk_.now_ms();
  for (auto& [key, n] : requests_) {
    pending p;
    p.topic = kUsageTopic;
    p.type = "tenancy.requests_metered";
    p.tenant = key.first;
    p.at = now;
    auto metered = std::make_shared<events::RequestsMetered>();
    metered->set_tenant_id(key.first);
    metered->set_date(key.second);
    metered->set_requests(n);
    p.payload = std::move(metered);
    queue_.push_back(std::move(p));
  }
  requests_.clear();
  if (queue_.empty() && retained_ == 0) return;
  auto batch = std::move(queue_);
  queue_.clear();
  lk.unlock();
  // One append per topic, in queue order. Audit records travel in one event per tenant per
  // batch (tenancy.requests_audited), built as protobuf messages: their cost per request is a
  // copy into the batch, not an event of its own.
  std::map<std::string, std::vector<bus::record>> by_topic;
  std::map<std::string, events::AuditBatch> audits;   // tenant -> this round's records
  std::map<std::string, std::int64_t> first_at;
  for (auto& p : batch) {
    if (p.audit) {
      const auto& a = *p.audit;
      auto& rec = *audits[p.tenant].add_records();
      // Request text is outside input: whatever bytes it held, the record is valid UTF-8.
      rec.set_tenant_id(p.tenant);
      rec.set_principal(sanitize_utf8(a.principal));
      for (const auto& r : a.roles) rec.add_roles(sanitize_utf8(r));
      rec.set_method(a.method);
      rec.set_route(a.route);
      rec.set_target(sanitize_utf8(a.target));
      rec.set_status(static_cast<std::int32_t>(a.status));
      rec.set_at_ms(p.at);
      first_at.try_emplace(p.tenant, p.at);
      continue;
    }
    event::new_event ev;
    ev.type = p.type;
    ev.key = p.tenant;
    ev.tenant = p.tenant;
    ev.region = opts_.region;
    ev.occurred_at = p.at;
    ev.id = p.id;
    auto env = event::build(ev, *p.payload);
    if (!env) {
      nf::log::get("tenancy")->error("cannot build {}: {}; the record is lost", p.type, env.error().message);
      metrics::registry::global()
          .get_counter("nf_tenancy_records_lost_total", "Audit, metering and alert records dropped after the bus refused them",
                       {{"topic", p.topic}})
          .inc();
      continue;
    }
    by_topic[p.topic].push_back(event::to_record(*env));
  }
  for (const auto& [tenant, records] : audits) {
    event::new_event ev;
    ev.type = "tenancy.requests_audited";
    ev.key = tenant;
    ev.tenant = tenant;
    ev.region = opts_.region;
    ev.occurred_at = first_at[tenant];
    auto env = event::build(ev, records);
    if (!env) {
      nf::log::get("tenancy")->error("cannot build an audit batch of {} records: {}; they are lost", records.records_size(), env.error().message);
      metrics::registry::global()
          .get_counter("nf_tenancy_records_lost_total", "Audit, metering and alert records dropped after the bus refused them",
                       {{"topic", audit::kAuditTopic}})
          .inc(static_cast<std::uint64_t>(records.records_size()));
      continue;
    }
    by_topic[audit::kAuditTopic].push_back(event::to_record(*env));
  }
  auto& reg = metrics::registry::global();
  // Records the bus refused before go first, so each topic keeps its order.
  for (auto& [topic, recs] : by_topic) {
    auto& waiting = retry_[topic];
    waiting.insert(waiting.end(), std::make_move_iterator(recs.begin()), std::make_move_iterator(recs.end()));
    retained_ += recs.size();
  }
  for (auto it = retry_.begin(); it != retry_.end();) {
    const auto& topic = it->first;
    std::vector<bus::record> recs(it->second.begin(), it->second.end());
    if (recs.empty()) {
      it = retry_.erase(it);
      continue;
    }
    if (auto r = bus_.append(topic_name{topic}, std::span<const bus::record>(recs)); !r) {
      nf::log::get("tenancy")->error("cannot write {} records to {} (kept for the next try): {}", recs.size(), topic, r.error().message);
      reg.get_counter("nf_gateway_access_records_failed_total", "Audit, metering and alert record appends the bus refused (retried)",
                      {{"topic", topic}})
          .inc(recs.size());
      ++it;
      continue;
    }
    reg.get_counter("nf_gateway_access_records_total", "Audit, metering and alert records appended", {{"topic", topic}}).inc(recs.size());
    retained_ -= recs.size();
    it = retry_.erase(it);
  }
  // Beyond the bound, the oldest records waiting are dropped: logged and counted, never silently.
  while (retained_ > opts_.max_retained) {
    auto it = std::max_element(retry_.begin(), retry_.end(), [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
    const auto drop = std::min(it->second.size(), retained_ - opts_.max_retained);
    it->second.erase(it->second.begin(), it->second.begin() + static_cast<std::ptrdiff_t>(drop));
    retained_ -= drop;
    nf::log::get("tenancy")->error("dropped {} {} records the bus refused: more than {} were waiting", drop, it->first, opts_.max_retained);
    reg.get_counter("nf_tenancy_records_lost_total", "Audit, metering and alert records dropped after the bus refused them",
                    {{"topic", it->first}})
        .inc(drop);
  }
  lk.lock();
}

void access::run() {
  std::unique_lock lk(mu_);
  // A batch that throws is logged and counted (and its records lost); the writer goes on.
  auto batch = [&] {
    if (!nf::log::guarded("audit-writer", [&] { write_batch(lk); }) && !lk.owns_lock()) lk.lock();
  };
  while (true) {
    cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return stopping_ || queue_.size() >= 512; });
    batch();
    if (stopping_) break;
  }
  batch();
}

}  // namespace nf::tenancy
