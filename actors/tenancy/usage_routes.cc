// Tenant routes for usage, the audit log and reservations.
#include "actors/tenancy/permissions.h"
#include "actors/tenancy/routes.h"
#include "actors/tenancy/reservation_owner.h"
#include "actors/tenancy/route_helpers.h"
#include "core/base/number.h"
#include "core/base/rfc3339.h"
#include "core/event/ids.h"
#include "tenancy.pb.h"

namespace nf::tenancy {

response routes::audit_log(const context& c, const std::string& id, const http::target& t, const request& req) {
  if (auto denied = authorize(c, id, perm::audit_read, req)) return *denied;
  auto time_param = [&](const char* name, std::int64_t dflt) -> std::optional<std::int64_t> {
    auto v = t.param(name);
    if (!v) return dflt;
    if (auto ms = parse_rfc3339(*v)) return *ms;
    auto n = parse_number<std::int64_t>(*v, name, 0);
    return n ? std::optional<std::int64_t>(*n) : std::nullopt;
  };
  auto from = time_param("from", 0);
  if (!from) return error_response(http::status::bad_request, "invalid_field", "'from' must be an RFC 3339 time or unix ms", req, "from");
  auto to = time_param("to", clk_.now_ms() + 1);
  if (!to) return error_response(http::status::bad_request, "invalid_field", "'to' must be an RFC 3339 time or unix ms", req, "to");
  if (*from > *to) return error_response(http::status::bad_request, "invalid_field", "'from' is after 'to'", req, "from");
  std::size_t limit = 1000;
  if (auto it = t.query.find("limit"); it != t.query.end()) {
    auto v = parse_number<std::size_t>(it->second, "'limit'", 1, 10'000);
    if (!v) return error_response(http::status::bad_request, "invalid_field", "'limit' must be from 1 to 10000", req, "limit");
    limit = *v;
  }
  auto items = audit_->range(tenant_id{id}, *from, *to, limit);
  if (!items) return error_response(status_for(items.error().code), "internal", items.error().message, req);
  return json_response(http::status::ok, json{{"tenantId", id}, {"items", *items}}, req);
}


response routes::usage(const context& c, const std::string& id, const http::target& t, const request& req) {
  if (auto denied = authorize(c, id, perm::usage_read, req)) return *denied;
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  auto period_it = t.query.find("period");
  const std::string period = period_it == t.query.end() ? usage::utc_date(clk_.now_ms()).substr(0, 7) : period_it->second;
  if (!usage::valid_period(period)) return error_response(http::status::bad_request, "invalid_field", "'period' must be YYYY-MM", req, "period");
  auto format_it = t.query.find("format");
  const std::string format = format_it == t.query.end() ? "json" : format_it->second;
  if (format != "json" && format != "csv") return error_response(http::status::bad_request, "invalid_field", "'format' must be json or csv", req, "format");
  auto days = usage_->month(tenant_id{id}, period);
  if (!days) return error_response(status_for(days.error().code), "internal", days.error().message, req);
  if (format == "csv") {
    std::string csv = "tenant_id,date,metric,quantity\n";
    for (const auto& d : *days) {
      csv += id + "," + d.date + ",events_appended," + std::to_string(d.events) + "\n";
      csv += id + "," + d.date + ",bytes_appended," + std::to_string(d.bytes) + "\n";
      csv += id + "," + d.date + ",api_requests," + std::to_string(d.requests) + "\n";
    }
    response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/csv; charset=utf-8");
    res.set(http::field::content_disposition, "attachment; filename=\"usage-" + id + "-" + period + ".csv\"");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(csv);
    res.prepare_payload();
    return res;
  }
  json rows = json::array();
  for (const auto& d : *days) {
    rows.push_back({{"date", d.date}, {"metric", "events_appended"}, {"quantity", d.events}});
    rows.push_back({{"date", d.date}, {"metric", "bytes_appended"}, {"quantity", d.bytes}});
    rows.push_back({{"date", d.date}, {"metric", "api_requests"}, {"quantity", d.requests}});
  }
  return json_response(http::status::ok, json{{"tenantId", id}, {"period", period}, {"rows", rows}}, req);
}


response routes::reserve(const context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, perm::reservations_write, req)) return *denied;
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"kind", "amount"}, req)) return *bad;
  const auto kind_name = (*body).contains("kind") && (*body)["kind"].is_string() ? (*body)["kind"].get<std::string>() : "";
  const auto kind = parse_quota(kind_name);
  if (!kind || (*kind != quota::concurrent_runs && *kind != quota::cpu_millicores && *kind != quota::memory_mib))
    return error_response(http::status::bad_request, "invalid_field", "'kind' must be concurrentRuns, cpuMillicores or memoryMib", req, "kind");
  if (!body->contains("amount") || !(*body)["amount"].is_number_integer() || (*body)["amount"].get<std::int64_t>() < 1 ||
      (*body)["amount"].get<std::int64_t>() > (std::int64_t{1} << 40))
    return error_response(http::status::bad_request, "invalid_field", "'amount' must be a positive integer", req, "amount");
  const auto amount = (*body)["amount"].get<std::int64_t>();
  {
    auto doc = view_.get(id);
    if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
    if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  }
  // The decision is the tenant's owner's (reservation_owner), on whichever instance that is: each
  // decision sees every earlier one, whichever instance took the request.
  const auto rid = "r-" + event::new_uuidv7(clk_.now_ms()).to_string();
  events::ReservationMade asked;
  asked.set_tenant_id(id);
  asked.set_reservation_id(rid);
  asked.set_kind(kind_name);
  asked.set_amount(amount);
  event::new_event cmd;
  cmd.type = kReservationRequested;
  cmd.key = id;
  cmd.tenant = id;
  cmd.message = &asked;
  cmd.region = opts_.region;
  cmd.occurred_at = clk_.now_ms();
  if (!opts_.commands) return error_response(http::status::service_unavailable, "unavailable", "reservations are not decided here", req);
  auto d = opts_.commands->submit(topic_name{kCommandsTopic}, cmd, opts_.decide);
  if (!d && d.error().code == errc::timeout) {
    auto res = error_response(http::status::service_unavailable, "not_decided",
                              "the owner of tenant '" + id + "' has not decided within " + std::to_string(opts_.decide.count()) +
                                  " ms; the request is kept and will be decided (see GET /tenants/" + id + "/reservations)",
                              req);
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (!d) return append_error(d.error(), req);
  if (d->outcome_event.type() == kReservationRefused) {
    events::ReservationRefused why;
    (void)d->outcome_event.payload().UnpackTo(&why);
    if (why.reason() == "unknown_tenant") return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
    admission a;
    a.allowed = false;
    a.limit = why.limit();
    a.used = why.used();
    a.requested = amount;
    acc_.quota_exceeded(id, *kind, a, "/tenants/{id}/reservations", true);
    acc_.observe(id, *kind, why.limit(), why.limit());
    return json_response(http::status::conflict,
                         json{{"error",
                               {{"code", "quota_exceeded"},
                                {"message", "quota " + kind_name + " of tenant '" + id + "' is " + std::to_string(why.limit()) + "; " +
                                                std::to_string(why.used()) + " reserved, " + std::to_string(amount) + " more requested"},
                                {"field", kind_name},
                                {"quota", kind_name},
                                {"limit", why.limit()},
                                {"used", why.used()},
                                {"requested", amount}}}},
                         req);
  }
  const bus::append_result at{d->outcome.partition, d->outcome.off, d->outcome.timestamp_ms};
  const bool visible = wait(at);
  json answer{{"reservationId", rid}, {"kind", kind_name}, {"amount", amount}};
  if (visible) {
    auto doc = view_.get(id);
    if (doc && *doc) {
      auto lim = limits_of(**doc);
      const auto reserved = reserved_of(**doc)[kind_name].get<std::int64_t>();
      answer["reserved"] = reserved;
      if (lim) {
        answer["limit"] = (*lim)[*kind];
        acc_.observe(id, *kind, (*lim)[*kind], reserved);
      }
    }
  }
  if (!visible) return not_visible_yet(answer, req);
  return json_response(http::status::created, answer, req);
}


response routes::reservations(const context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, perm::tenants_read, req)) return *denied;
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  json items = json::array();
  if ((**doc).contains("reservations"))
    for (const auto& [rid, r] : (**doc)["reservations"].items()) {
      json item = r;
      item["reservationId"] = rid;
      items.push_back(std::move(item));
    }
  return json_response(http::status::ok, json{{"items", items}, {"reserved", reserved_of(**doc)}}, req);
}


response routes::release(const context& c, const std::string& id, const std::string& reservation_id, const request& req) {
  if (auto denied = authorize(c, id, perm::reservations_write, req)) return *denied;
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc || !(**doc).contains("reservations") || !(**doc)["reservations"].contains(reservation_id))
    return error_response(http::status::not_found, "not_found", "tenant '" + id + "' has no reservation '" + reservation_id + "'", req);
  events::ReservationReleased released;
  released.set_tenant_id(id);
  released.set_reservation_id(reservation_id);
  auto r = append("tenancy.reservation_released", id, released);
  if (!r) return append_error(r.error(), req);
  if (!wait(*r)) return not_visible_yet(json{{"reservationId", reservation_id}, {"released", true}}, req);
  return json_response(http::status::ok, json{{"reservationId", reservation_id}, {"released", true}}, req);
}


}  // namespace nf::tenancy
