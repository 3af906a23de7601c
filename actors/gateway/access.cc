// Access control, quotas, metering and audit for the gateway's routes.
#include "actors/gateway/access.h"

#include "core/base/text.h"
#include "core/event/codec.h"
#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "projections/audit/audit.h"
#include "projections/usage/usage.h"

namespace nf::gateway {
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

std::string alert_period(tenancy::quota q, std::int64_t now_ms) {
  const auto day = usage::utc_date(now_ms);
  return q == tenancy::quota::events_per_day || q == tenancy::quota::requests_per_minute ? day : day.substr(0, 7);
}

access::access(bus::event_bus& bus, projection::store& store, const tenancy_options& o, const nf::clock& clk, std::string region)
    : bus_(bus), opts_(o), clk_(clk), region_(std::move(region)) {
  if (o.usage) usage_.emplace(store, *o.usage);
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
}

std::variant<tenancy::context, response> access::admit(const request& req) {
  const auto key = req["X-API-Key"];
  const auto host = req[http::field::host];
  const auto authz = req[http::field::authorization];
  auto c = opts_.directory->resolve({std::string_view(host.data(), host.size()), std::string_view(authz.data(), authz.size()),
                                     std::string_view(key.data(), key.size())},
                                    clk_.now_ms());
  if (!c) return auth_error(c.error(), req);
  if (c->platform_admin) return std::move(*c);
  const auto limit = c->quota[tenancy::quota::requests_per_minute];
  const auto now = clk_.now_ms();
  const auto d = limiter_.take(c->tenant, limit, now);
  if (!d.allowed) {
    observe(c->tenant, tenancy::quota::requests_per_minute, limit, limit);
    auto res = error_response(http::status::too_many_requests, "rate_limited",
                              "quota requestsPerMinute of tenant '" + c->tenant + "' (" + std::to_string(limit) +
                                  " per minute) is used up; retry in " + std::to_string(d.retry_after_ms) + " ms",
                              req);
    res.set(http::field::retry_after, std::to_string((d.retry_after_ms + 999) / 1000));
    return res;
  }
  // A bucket down to its last fifth: 80 % of the per-minute quota is in use.
  if (limit > 0 && d.remaining >= 0 && d.remaining * 5 <= limit) observe(c->tenant, tenancy::quota::requests_per_minute, limit, limit - d.remaining);
  meter(c->tenant);
  return std::move(*c);
}

std::optional<response> access::require(const tenancy::context& c, std::string_view permission, const request& req) const {
  if (c.holds(permission)) return std::nullopt;
  return error_response(http::status::forbidden, "forbidden", "missing permission '" + std::string(permission) + "'", req);
}

std::optional<response> access::admit_write(const tenancy::context& c, std::int64_t bytes, const std::string& route, const request& req) {
  if (c.platform_admin || c.tenant.empty() || !usage_) return std::nullopt;
  const auto events_limit = c.quota[tenancy::quota::events_per_day];
  const auto bytes_limit = c.quota[tenancy::quota::stored_bytes];
  if (events_limit < 0 && bytes_limit < 0) return std::nullopt;
  auto refuse = [&](tenancy::quota q, const tenancy::admission& a) {
    quota_exceeded(c.tenant, q, a, route, false);
    observe(c.tenant, q, a.limit, a.limit);
    const std::string unit = q == tenancy::quota::events_per_day ? " events today" : " bytes stored";
    auto res = error_response(http::status::too_many_requests, "quota_exceeded",
                              "quota " + std::string(tenancy::name(q)) + " of tenant '" + c.tenant + "' is " + std::to_string(a.limit) + unit +
                                  "; " + std::to_string(a.used) + " used, " + std::to_string(a.requested) + " more requested",
                              req, std::string(tenancy::name(q)));
    if (q == tenancy::quota::events_per_day) {
      // Until the next UTC midnight.
      const auto now = clk_.now_ms();
      res.set(http::field::retry_after, std::to_string((86'400'000 - now % 86'400'000 + 999) / 1000));
    }
    return res;
  };
  auto used = usage_->for_writes(c.tenant, usage::utc_date(clk_.now_ms()));
  if (!used) return error_response(status_for(used.error().code), "internal", used.error().message, req);
  if (events_limit >= 0) {
    const auto a = tenancy::admit(events_limit, used->events_today, 1);
    if (!a.allowed) return refuse(tenancy::quota::events_per_day, a);
    observe(c.tenant, tenancy::quota::events_per_day, events_limit, used->events_today + 1);
  }
  if (bytes_limit >= 0) {
    const auto a = tenancy::admit(bytes_limit, used->stored_bytes, bytes);
    if (!a.allowed) return refuse(tenancy::quota::stored_bytes, a);
    observe(c.tenant, tenancy::quota::stored_bytes, bytes_limit, used->stored_bytes + bytes);
  }
  return std::nullopt;
}

void access::quota_exceeded(const std::string& tenant, tenancy::quota q, const tenancy::admission& a, const std::string& route, bool always) {
  const auto now = clk_.now_ms();
  if (!always) {
    std::lock_guard lk(alert_mu_);
    auto& last = refused_at_[tenant + "|" + std::string(tenancy::name(q))];
    if (last != 0 && now - last < 60'000) return;
    last = now;
  }
  enqueue(kUsageTopic, "tenancy.quota_exceeded", tenant,
          json{{"tenantId", tenant}, {"quota", std::string(tenancy::name(q))}, {"limit", a.limit}, {"used", a.used},
               {"requested", a.requested}, {"route", route}});
}

void access::observe(const std::string& tenant, tenancy::quota q, std::int64_t limit, std::int64_t used) {
  if (limit < 0) return;
  const auto thresholds = tenancy::crossed(limit, 0, used);
  if (thresholds.empty()) return;
  const auto period = alert_period(q, clk_.now_ms());
  for (int t : thresholds) {
    const auto key = tenant + "|" + std::string(tenancy::name(q)) + "|" + period + "|" + std::to_string(t);
    {
      std::lock_guard lk(alert_mu_);
      if (!alerted_.insert(key).second) continue;
    }
    // Given before this process started?
    if (usage_) {
      auto seen = usage_->alerted(tenant, period, std::string(tenancy::name(q)), t);
      if (seen && *seen) continue;
    }
    // The id is derived from what the alert is about, so a second writer's copy is the same event.
    const auto id = event::derive_id(event::event_id{}, "tenancy.usage_alert/" + key, 0);
    enqueue(kUsageTopic, "tenancy.usage_alert", tenant,
            json{{"tenantId", tenant}, {"quota", std::string(tenancy::name(q))}, {"threshold", t}, {"period", period}, {"used", used},
                 {"limit", limit}},
            id);
  }
}

void access::usage_applied(const std::vector<std::string>& tenants) {
  if (!usage_) return;
  const auto date = usage::utc_date(clk_.now_ms());
  for (const auto& t : tenants) {
    const auto limits = opts_.directory->limits_of(t);
    if (!limits) continue;
    const auto events_limit = (*limits)[tenancy::quota::events_per_day], bytes_limit = (*limits)[tenancy::quota::stored_bytes];
    if (events_limit < 0 && bytes_limit < 0) continue;
    auto used = usage_->for_writes(t, date);
    if (!used) continue;
    observe(t, tenancy::quota::events_per_day, events_limit, used->events_today);
    observe(t, tenancy::quota::stored_bytes, bytes_limit, used->stored_bytes);
  }
}

void access::audit(const tenancy::context& c, const request& req, const std::string& route, const std::string& path, unsigned status) {
  if (!opts_.audit) return;
  pending p;
  p.topic = audit::kAuditTopic;
  p.type = "tenancy.request_audited";
  p.tenant = c.tenant;
  p.at = clk_.now_ms();
  p.audit = audit_entry{c.principal, std::string(http::to_string(req.method())), route, path, c.roles, status};
  enqueue(std::move(p));
}

void access::meter(const std::string& tenant) {
  const auto date = usage::utc_date(clk_.now_ms());
  std::lock_guard lk(mu_);
  ++requests_[{tenant, date}];
}

void access::enqueue(const std::string& topic, const std::string& type, const std::string& tenant, json payload,
                     std::optional<event::event_id> id) {
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
    p.payload = json{{"tenantId", key.first}, {"date", key.second}, {"requests", n}};
    queue_.push_back(std::move(p));
  }
  requests_.clear();
  if (queue_.empty()) return;
  auto batch = std::move(queue_);
  queue_.clear();
  lk.unlock();
  // One append per topic, in queue order.
  std::map<std::string, std::vector<bus::record>> by_topic;
  for (auto& p : batch) {
    if (p.audit) {
      const auto& a = *p.audit;
      // Request text is outside input: whatever bytes it held, the record is valid UTF-8.
      p.payload = json{{"tenantId", p.tenant}, {"principal", sanitize_utf8(a.principal)}, {"roles", a.roles},
                       {"method", a.method},   {"route", a.route},
                       {"target", sanitize_utf8(a.target)},                 {"status", a.status}, {"atMs", p.at}};
    }
    event::new_event ev;
    ev.type = p.type;
    ev.key = p.tenant;
    ev.tenant = p.tenant;
    ev.region = region_;
    ev.occurred_at = p.at;
    ev.payload_json = p.payload.dump(-1, ' ', false, json::error_handler_t::replace);
    ev.id = p.id;
    auto env = event::build(ev);
    if (!env) {
      nf::log::get("gateway")->error("cannot build {}: {}", p.type, env.error().message);
      continue;
    }
    by_topic[p.topic].push_back(event::to_record(*env));
  }
  auto& reg = metrics::registry::global();
  for (const auto& [topic, recs] : by_topic) {
    if (auto r = bus_.append(topic_name{topic}, std::span<const bus::record>(recs)); !r) {
      nf::log::get("gateway")->error("cannot write {} records to {}: {}", recs.size(), topic, r.error().message);
      reg.get_counter("nf_gateway_access_records_failed_total", "Audit, metering and alert records the gateway could not append",
                      {{"topic", topic}})
          .inc(recs.size());
      continue;
    }
    reg.get_counter("nf_gateway_access_records_total", "Audit, metering and alert records the gateway appended", {{"topic", topic}})
        .inc(recs.size());
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

}  // namespace nf::gateway
