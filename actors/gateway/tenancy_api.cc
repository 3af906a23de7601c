// Tenant administration routes.
#include "actors/gateway/tenancy_api.h"

#include <boost/asio/ip/address.hpp>

#include "core/base/text.h"

#include <random>

#include "actors/tenancy/plans.h"
#include "actors/gateway/contracts.h"
#include "core/event/codec.h"
#include "core/log/log.h"

namespace nf::gateway {
namespace {

constexpr const char* kTopic = "tenancy.tenants";

// Totals reserved per kind, from the tenant document's reservations.
json reserved_of(const json& doc) {
  json out{{"concurrentRuns", 0}, {"cpuMillicores", 0}, {"memoryMib", 0}};
  if (doc.contains("reservations") && doc["reservations"].is_object())
    for (const auto& [rid, r] : doc["reservations"].items())
      if (out.contains(r.value("kind", ""))) out[r.value("kind", "")] = out[r.value("kind", "")].get<std::int64_t>() + r.value("amount", std::int64_t{0});
  return out;
}

bool valid_tenant_id(const std::string& id) {
  if (id.empty() || id.size() > 63 || id.front() == '-' || id.back() == '-') return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// A JSON object body (parse_body, plus: an object).
std::optional<response> only_fields(const json& body, std::initializer_list<const char*> allowed, const request& req) {
  for (const auto& item : body.items()) {
    const std::string& k = item.key();
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }) == allowed.end())
      return error_response(http::status::bad_request, "unknown_field", "unknown field '" + k + "'", req, k);
  }
  return std::nullopt;
}

// A custom domain: a DNS name (lowercased, without a trailing dot) that is not an IP literal,
// not localhost and not under the platform's base domain (where subdomains name tenants).
result<std::string> custom_domain(const json& d, const std::string& base_domain) {
  if (!d.is_string()) return error{errc::invalid_argument, "'domains' must be an array of host names"};
  std::string h = d.get<std::string>();
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!h.empty() && h.back() == '.') h.pop_back();
  const auto shown = "'" + sanitize_utf8(d.get<std::string>()) + "'";
  if (h.empty() || h.size() > 253 || h.find('.') == std::string::npos)
    return error{errc::invalid_argument, "domain " + shown + " is not a host name with a dot"};
  for (char c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
      return error{errc::invalid_argument, "domain " + shown + " may hold only a-z, 0-9, '-' and '.'"};
  if (h.front() == '.' || h.find("..") != std::string::npos || h.front() == '-')
    return error{errc::invalid_argument, "domain " + shown + " has an empty or malformed label"};
  boost::system::error_code ec;
  boost::asio::ip::make_address_v4(h, ec);
  const bool digits_only = h.find_first_not_of("0123456789.") == std::string::npos;
  if (!ec || digits_only) return error{errc::invalid_argument, "domain " + shown + " is an IP address; only DNS names can be tenant domains"};
  if (h == "localhost" || h.ends_with(".localhost")) return error{errc::invalid_argument, "localhost is never a tenant domain"};
  if (!base_domain.empty() && (h == base_domain || h.ends_with("." + base_domain)))
    return error{errc::invalid_argument, "domain " + shown + " is under the platform's base domain, whose subdomains name tenants"};
  return h;
}

result<std::vector<std::string>> domains_of(const json& v, const std::string& base_domain) {
  if (!v.is_array()) return error{errc::invalid_argument, "'domains' must be an array of host names"};
  if (v.size() > 100) return error{errc::invalid_argument, "'domains' holds at most 100 host names"};
  std::vector<std::string> out;
  for (const auto& d : v) {
    NF_TRY_ASSIGN(auto h, custom_domain(d, base_domain));
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(std::move(h));
  }
  return out;
}

}  // namespace

tenancy_api::tenancy_api(bus::event_bus& bus, projection::store& store, const tenancy_options& o, access& acc, const nf::clock& clk,
                         std::string region, std::chrono::milliseconds wait)
    : bus_(bus), opts_(o), acc_(acc), view_(store, *o.proj), clk_(clk), region_(std::move(region)), wait_(wait) {
  if (o.usage) usage_.emplace(store, *o.usage);
  if (o.audit) audit_.emplace(store, *o.audit);
}

std::optional<response> tenancy_api::authorize(const tenancy::context& c, const std::string& tenant, const std::string& permission,
                                               const request& req) const {
  if (c.platform_admin) return std::nullopt;
  if (c.tenant != tenant) return error_response(http::status::not_found, "not_found", "unknown tenant '" + tenant + "'", req);
  // The context carries the tenant's custom roles, as current as the directory.
  if (!c.holds(permission))
    return error_response(http::status::forbidden, "forbidden", "missing permission '" + permission + "'", req);
  return std::nullopt;
}

result<bus::append_result> tenancy_api::append(const std::string& type, const std::string& tenant, const json& payload) {
  event::new_event ev;
  ev.type = type;
  ev.key = tenant;
  ev.tenant = tenant;
  ev.region = region_;
  ev.occurred_at = clk_.now_ms();
  ev.payload_json = payload.dump();
  NF_TRY_ASSIGN(auto env, event::build(ev));
  const auto rec = event::to_record(env);
  NF_TRY_ASSIGN(auto res, bus_.append(topic_name{kTopic}, std::span<const bus::record>(&rec, 1)));
  return res[0];
}

void tenancy_api::wait(const bus::append_result& r) {
  if (opts_.feed) (void)opts_.feed->wait_applied({topic_name{kTopic}, r.partition}, r.off, wait_);
}

std::optional<response> tenancy_api::handle(const target& t, const request& req, std::string& route) {
  if (t.segments.empty() || t.segments[0] != "tenants") return std::nullopt;
  auto admitted = acc_.admit(req);
  auto* c = std::get_if<tenancy::context>(&admitted);
  if (!c && std::get<response>(admitted).result() == http::status::too_many_requests) {
    route = "/tenants/*";
    return std::get<response>(std::move(admitted));
  }
  auto res = dispatch(t, req, route, c, c ? nullptr : &std::get<response>(admitted));
  if (res && c) acc_.audit(*c, req, route, t.path, res->result_int());
  return res;
}

std::optional<response> tenancy_api::dispatch(const target& t, const request& req, std::string& route, const tenancy::context* c,
                                              const response* denied) {
  const auto& s = t.segments;
  const auto m = req.method();
  auto not_allowed = [&](const char* allow) {
    auto res = error_response(http::status::method_not_allowed, "method_not_allowed",
                              std::string(http::to_string(m)) + " is not allowed on " + t.path, req);
    res.set(http::field::allow, allow);
    return res;
  };
  if (s.size() == 1) {
    route = "/tenants";
    if (m != http::verb::post && m != http::verb::get) return not_allowed("GET, POST");
    if (!c) return *denied;
    return m == http::verb::post ? create(*c, req) : list(*c, req);
  }
  if (s.size() == 2) {
    route = "/tenants/{id}";
    if (m != http::verb::get && m != http::verb::patch) return not_allowed("GET, PATCH");
    if (!c) return *denied;
    return m == http::verb::get ? show(*c, s[1], req) : patch(*c, s[1], req);
  }
  if (s.size() == 3 && s[2] == "keys") {
    route = "/tenants/{id}/keys";
    if (m != http::verb::post) return not_allowed("POST");
    if (!c) return *denied;
    return create_key(*c, s[1], req);
  }
  if (s.size() == 4 && s[2] == "keys") {
    route = "/tenants/{id}/keys/{keyId}";
    if (m != http::verb::delete_) return not_allowed("DELETE");
    if (!c) return *denied;
    return revoke_key(*c, s[1], s[3], req);
  }
  if (s.size() == 3 && s[2] == "audit" && audit_) {
    route = "/tenants/{id}/audit";
    if (m != http::verb::get) return not_allowed("GET");
    if (!c) return *denied;
    return audit_log(*c, s[1], t, req);
  }
  if (s.size() == 3 && s[2] == "usage" && usage_) {
    route = "/tenants/{id}/usage";
    if (m != http::verb::get) return not_allowed("GET");
    if (!c) return *denied;
    return usage(*c, s[1], t, req);
  }
  if (s.size() == 3 && s[2] == "reservations") {
    route = "/tenants/{id}/reservations";
    if (m != http::verb::post && m != http::verb::get) return not_allowed("GET, POST");
    if (!c) return *denied;
    return m == http::verb::post ? reserve(*c, s[1], req) : reservations(*c, s[1], req);
  }
  if (s.size() == 4 && s[2] == "reservations") {
    route = "/tenants/{id}/reservations/{reservationId}";
    if (m != http::verb::delete_) return not_allowed("DELETE");
    if (!c) return *denied;
    return release(*c, s[1], s[3], req);
  }
  if (s.size() == 3 && s[2] == "roles") {
    route = "/tenants/{id}/roles";
    if (m != http::verb::post) return not_allowed("POST");
    if (!c) return *denied;
    return define_role(*c, s[1], req);
  }
  return std::nullopt;
}

response tenancy_api::create(const tenancy::context& c, const request& req) {
  if (!c.platform_admin) return error_response(http::status::forbidden, "forbidden", "missing permission 'tenants:create' (platform admin only)", req);
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"id", "name", "plan", "quotas", "domains"}, req)) return *bad;
  if (!body->contains("name") || !(*body)["name"].is_string() || (*body)["name"].get<std::string>().empty() ||
      (*body)["name"].get<std::string>().size() > 200)
    return error_response(http::status::bad_request, "invalid_field", "'name' is required: 1..200 characters", req, "name");
  auto plan_name = string_field(*body, "plan");
  if (!plan_name) return wrong_type("plan", "a string (basic, pro or enterprise)", req);
  auto plan = tenancy::parse_plan(plan_name->value_or(""));
  if (!plan) return error_response(http::status::bad_request, "invalid_field", plan.error().message, req, "plan");
  tenancy::overrides quotas;
  if (body->contains("quotas")) {
    auto q = tenancy::parse_overrides((*body)["quotas"]);
    if (!q) return error_response(http::status::bad_request, "invalid_field", q.error().message, req, "quotas");
    quotas = *q;
  }
  std::vector<std::string> domains;
  if (body->contains("domains")) {
    auto d = domains_of((*body)["domains"], opts_.directory->base_domain());
    if (!d) return error_response(http::status::bad_request, "invalid_field", d.error().message, req, "domains");
    domains = *d;
  }
  std::string id;
  if (body->contains("id")) {
    if (!(*body)["id"].is_string() || !valid_tenant_id((*body)["id"].get<std::string>()))
      return error_response(http::status::bad_request, "invalid_field", "'id' must be 1..63 characters of a-z 0-9 - (a DNS label)", req, "id");
    id = (*body)["id"].get<std::string>();
  } else {
    std::random_device rd;
    static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
    id = "t-";
    for (int i = 0; i < 10; ++i) id.push_back(digits[rd() % 36]);
  }
  auto existing = view_.get(id);
  if (!existing) return error_response(status_for(existing.error().code), "internal", existing.error().message, req);
  if (*existing) return error_response(http::status::conflict, "conflict", "tenant '" + id + "' already exists", req, "id");
  if (auto taken = domains_taken(id, domains, req)) return *taken;
  json q = json::object();
  for (const auto& [k, v] : quotas) q[std::string(tenancy::name(k))] = v;
  auto r = append("tenancy.tenant_created", id,
                  json{{"tenantId", id}, {"name", (*body)["name"]}, {"plan", std::string(tenancy::name(*plan))}, {"quotas", q}, {"domains", domains}});
  if (!r) return append_error(r.error(), req);
  wait(*r);
  if (auto lost = domains_taken(id, domains, req, true)) return *lost;
  auto res = show(c, id, req);
  if (res.result() == http::status::ok) res.result(http::status::created);
  return res;
}

std::optional<response> tenancy_api::domains_taken(const std::string& tenant, const std::vector<std::string>& domains, const request& req,
                                                   bool must_hold) const {
  for (const auto& d : domains) {
    auto owner = view_.domain_owner(d);
    if (!owner) return error_response(status_for(owner.error().code), "internal", owner.error().message, req);
    const bool other = *owner ? **owner != tenant : must_hold;
    if (other) return error_response(http::status::conflict, "domain_taken", "domain '" + d + "' belongs to another tenant", req, "domains");
  }
  return std::nullopt;
}

response tenancy_api::list(const tenancy::context& c, const request& req) {
  if (!c.platform_admin) return error_response(http::status::forbidden, "forbidden", "listing tenants is for the platform admin", req);
  auto all = view_.list();
  if (!all) return error_response(status_for(all.error().code), "internal", all.error().message, req);
  json items = json::array();
  for (const auto& d : *all) items.push_back({{"id", d["id"]}, {"name", d["name"]}, {"plan", d["plan"]}, {"status", d["status"]}});
  return json_response(http::status::ok, json{{"items", items}}, req);
}

response tenancy_api::show(const tenancy::context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, "tenants:read", req)) return *denied;
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  auto& d = **doc;
  tenancy::overrides o;
  if (auto q = tenancy::parse_overrides(d["quotas"])) o = *q;
  auto plan = tenancy::parse_plan(d.value("plan", "basic"));
  d["limits"] = tenancy::to_json(tenancy::effective(plan ? *plan : tenancy::plan::basic, o));
  if (usage_) {
    auto today = usage_->day(id, usage::utc_date(clk_.now_ms()));
    auto stored = usage_->stored_bytes(id);
    if (today && stored)
      d["usage"] = json{{"date", today->date},     {"eventsToday", today->events}, {"bytesToday", today->bytes},
                        {"requestsToday", today->requests}, {"storedBytes", *stored},    {"reserved", reserved_of(d)}};
    // Alerts of the current periods: this month's (stored bytes, reservations) and its days'.
    if (auto alerts = usage_->alerts(id, usage::utc_date(clk_.now_ms()).substr(0, 7))) d["alerts"] = *alerts;
  }
  return json_response(http::status::ok, d, req);
}

response tenancy_api::audit_log(const tenancy::context& c, const std::string& id, const target& t, const request& req) {
  if (auto denied = authorize(c, id, "audit:read", req)) return *denied;
  auto time_param = [&](const char* name, std::int64_t dflt) -> std::optional<std::int64_t> {
    auto it = t.query.find(name);
    if (it == t.query.end() || it->second.empty()) return dflt;
    if (auto ms = parse_rfc3339(it->second)) return *ms;
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (*end || v < 0) return std::nullopt;
    return v;
  };
  auto from = time_param("from", 0);
  if (!from) return error_response(http::status::bad_request, "invalid_field", "'from' must be an RFC 3339 time or unix ms", req, "from");
  auto to = time_param("to", clk_.now_ms() + 1);
  if (!to) return error_response(http::status::bad_request, "invalid_field", "'to' must be an RFC 3339 time or unix ms", req, "to");
  if (*from > *to) return error_response(http::status::bad_request, "invalid_field", "'from' is after 'to'", req, "from");
  std::size_t limit = 1000;
  if (auto it = t.query.find("limit"); it != t.query.end()) {
    char* end = nullptr;
    const long v = std::strtol(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end || v < 1 || v > 10'000)
      return error_response(http::status::bad_request, "invalid_field", "'limit' must be from 1 to 10000", req, "limit");
    limit = static_cast<std::size_t>(v);
  }
  auto items = audit_->range(id, *from, *to, limit);
  if (!items) return error_response(status_for(items.error().code), "internal", items.error().message, req);
  return json_response(http::status::ok, json{{"tenantId", id}, {"items", *items}}, req);
}

response tenancy_api::usage(const tenancy::context& c, const std::string& id, const target& t, const request& req) {
  if (auto denied = authorize(c, id, "usage:read", req)) return *denied;
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  auto period_it = t.query.find("period");
  const std::string period = period_it == t.query.end() ? usage::utc_date(clk_.now_ms()).substr(0, 7) : period_it->second;
  if (!usage::valid_period(period)) return error_response(http::status::bad_request, "invalid_field", "'period' must be YYYY-MM", req, "period");
  auto format_it = t.query.find("format");
  const std::string format = format_it == t.query.end() ? "json" : format_it->second;
  if (format != "json" && format != "csv") return error_response(http::status::bad_request, "invalid_field", "'format' must be json or csv", req, "format");
  auto days = usage_->month(id, period);
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

response tenancy_api::patch(const tenancy::context& c, const std::string& id, const request& req) {
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"plan", "quotas", "domains", "status"}, req)) return *bad;
  const bool admin_fields = body->contains("plan") || body->contains("quotas") || body->contains("status");
  if (admin_fields && !c.platform_admin) {
    if (c.tenant != id) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
    return error_response(http::status::forbidden, "forbidden", "plan, quotas and status are changed by the platform admin", req);
  }
  if (auto denied = authorize(c, id, "tenants:write", req)) return *denied;
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  json payload{{"tenantId", id}};
  if (body->contains("plan")) {
    auto p = tenancy::parse_plan((*body)["plan"].is_string() ? (*body)["plan"].get<std::string>() : "");
    if (!p) return error_response(http::status::bad_request, "invalid_field", p.error().message, req, "plan");
    payload["plan"] = std::string(tenancy::name(*p));
  }
  if (body->contains("quotas")) {
    auto q = tenancy::parse_overrides((*body)["quotas"]);
    if (!q) return error_response(http::status::bad_request, "invalid_field", q.error().message, req, "quotas");
    json qj = json::object();
    for (const auto& [k, v] : *q) qj[std::string(tenancy::name(k))] = v;
    payload["quotas"] = qj;
  }
  std::vector<std::string> domains;
  if (body->contains("domains")) {
    auto d = domains_of((*body)["domains"], opts_.directory->base_domain());
    if (!d) return error_response(http::status::bad_request, "invalid_field", d.error().message, req, "domains");
    if (auto taken = domains_taken(id, *d, req)) return *taken;
    domains = *d;
    payload["domains"] = *d;
    payload["domainsSet"] = true;
  }
  if (body->contains("status")) {
    const auto st = (*body)["status"].is_string() ? (*body)["status"].get<std::string>() : "";
    if (st != "active" && st != "suspended")
      return error_response(http::status::bad_request, "invalid_field", "'status' must be active or suspended", req, "status");
    payload["status"] = st;
  }
  auto r = append("tenancy.tenant_updated", id, payload);
  if (!r) return append_error(r.error(), req);
  wait(*r);
  if (auto lost = domains_taken(id, domains, req, true)) return *lost;
  return show(c, id, req);
}

response tenancy_api::create_key(const tenancy::context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, "keys:write", req)) return *denied;
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"role", "name"}, req)) return *bad;
  auto role_field = string_field(*body, "role");
  if (!role_field) return wrong_type("role", "a string naming a role", req);
  auto name_field = string_field(*body, "name");
  if (!name_field) return wrong_type("name", "a string", req);
  const auto role = role_field->value_or("");
  const auto name = name_field->value_or("");
  if (name.size() > 200) return error_response(http::status::bad_request, "invalid_field", "'name' is at most 200 characters", req, "name");
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  auto roles = view_.roles_of(id);
  if (!roles) return error_response(status_for(roles.error().code), "internal", roles.error().message, req);
  auto perms = roles->permissions(role);
  if (!perms) return error_response(http::status::bad_request, "invalid_field", "'role': " + perms.error().message, req, "role");
  for (const auto& p : *perms)
    if (!c.holds(p))
      return error_response(http::status::forbidden, "forbidden", "role '" + role + "' holds '" + p + "', which the caller does not", req, "role");
  const auto key = tenancy::issue_key();
  auto r = append("tenancy.key_created", id, json{{"tenantId", id}, {"keyId", key.key_id}, {"digest", key.digest}, {"role", role}, {"name", name}});
  if (!r) return append_error(r.error(), req);
  wait(*r);
  return json_response(http::status::created, json{{"key", key.secret}, {"keyId", key.key_id}, {"role", role}, {"name", name}, {"tenantId", id}}, req);
}

response tenancy_api::revoke_key(const tenancy::context& c, const std::string& id, const std::string& key_id, const request& req) {
  if (auto denied = authorize(c, id, "keys:write", req)) return *denied;
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc || !(**doc)["keys"].contains(key_id))
    return error_response(http::status::not_found, "not_found", "tenant '" + id + "' has no key '" + key_id + "'", req);
  if ((**doc)["keys"][key_id].contains("revokedAt")) return json_response(http::status::ok, json{{"keyId", key_id}, {"revoked", true}}, req);
  auto r = append("tenancy.key_revoked", id, json{{"tenantId", id}, {"keyId", key_id}});
  if (!r) return append_error(r.error(), req);
  wait(*r);
  return json_response(http::status::ok, json{{"keyId", key_id}, {"revoked", true}}, req);
}

response tenancy_api::define_role(const tenancy::context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, "roles:write", req)) return *denied;
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"name", "permissions"}, req)) return *bad;
  auto name_field = string_field(*body, "name");
  if (!name_field) return wrong_type("name", "a string naming the role", req);
  const auto name = name_field->value_or("");
  if (auto v = tenancy::validate_role_name(name); !v) return error_response(http::status::bad_request, "invalid_field", v.error().message, req, "name");
  if (tenancy::builtin_role(name)) return error_response(http::status::conflict, "conflict", "'" + name + "' is a built-in role", req, "name");
  if (!body->contains("permissions") || !(*body)["permissions"].is_array())
    return error_response(http::status::bad_request, "invalid_field", "'permissions' must be an array", req, "permissions");
  std::vector<std::string> list;
  for (const auto& p : (*body)["permissions"]) {
    if (!p.is_string()) return error_response(http::status::bad_request, "invalid_field", "'permissions' must be strings", req, "permissions");
    list.push_back(p.get<std::string>());
  }
  auto perms = tenancy::parse_permissions(list);
  if (!perms) return error_response(http::status::bad_request, "invalid_field", perms.error().message, req, "permissions");
  for (const auto& p : *perms)
    if (!c.holds(p)) return error_response(http::status::forbidden, "forbidden", "the caller does not hold '" + p + "'", req, "permissions");
  auto r = append("tenancy.role_defined", id, json{{"tenantId", id}, {"role", name}, {"permissions", *perms}});
  if (!r) return append_error(r.error(), req);
  wait(*r);
  return json_response(http::status::created, json{{"name", name}, {"permissions", *perms}}, req);
}

response tenancy_api::reserve(const tenancy::context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, "reservations:write", req)) return *denied;
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"kind", "amount"}, req)) return *bad;
  const auto kind_name = (*body).contains("kind") && (*body)["kind"].is_string() ? (*body)["kind"].get<std::string>() : "";
  const auto kind = tenancy::parse_quota(kind_name);
  if (!kind || (*kind != tenancy::quota::concurrent_runs && *kind != tenancy::quota::cpu_millicores && *kind != tenancy::quota::memory_mib))
    return error_response(http::status::bad_request, "invalid_field", "'kind' must be concurrentRuns, cpuMillicores or memoryMib", req, "kind");
  if (!body->contains("amount") || !(*body)["amount"].is_number_integer() || (*body)["amount"].get<std::int64_t>() < 1 ||
      (*body)["amount"].get<std::int64_t>() > (std::int64_t{1} << 40))
    return error_response(http::status::bad_request, "invalid_field", "'amount' must be a positive integer", req, "amount");
  const auto amount = (*body)["amount"].get<std::int64_t>();
  // One decision at a time, each on the state that includes the previous one.
  std::lock_guard lk(reserve_mu_);
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  tenancy::overrides o;
  if (auto q = tenancy::parse_overrides((**doc)["quotas"])) o = *q;
  auto plan = tenancy::parse_plan((**doc).value("plan", "basic"));
  const auto limit = tenancy::effective(plan ? *plan : tenancy::plan::basic, o)[*kind];
  const auto used = reserved_of(**doc)[kind_name].get<std::int64_t>();
  const auto a = tenancy::admit(limit, used, amount);
  if (!a.allowed) {
    acc_.quota_exceeded(id, *kind, a, "/tenants/{id}/reservations", true);
    acc_.observe(id, *kind, limit, limit);
    return json_response(http::status::conflict,
                         json{{"error",
                               {{"code", "quota_exceeded"},
                                {"message", "quota " + kind_name + " of tenant '" + id + "' is " + std::to_string(limit) + "; " +
                                                std::to_string(used) + " reserved, " + std::to_string(amount) + " more requested"},
                                {"field", kind_name},
                                {"quota", kind_name},
                                {"limit", limit},
                                {"used", used},
                                {"requested", amount}}}},
                         req);
  }
  const auto rid = "r-" + event::new_uuidv7(clk_.now_ms()).to_string();
  auto r = append("tenancy.reservation_made", id, json{{"tenantId", id}, {"reservationId", rid}, {"kind", kind_name}, {"amount", amount}});
  if (!r) return append_error(r.error(), req);
  wait(*r);
  acc_.observe(id, *kind, limit, used + amount);
  return json_response(http::status::created,
                       json{{"reservationId", rid}, {"kind", kind_name}, {"amount", amount}, {"reserved", used + amount}, {"limit", limit}}, req);
}

response tenancy_api::reservations(const tenancy::context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, "tenants:read", req)) return *denied;
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

response tenancy_api::release(const tenancy::context& c, const std::string& id, const std::string& reservation_id, const request& req) {
  if (auto denied = authorize(c, id, "reservations:write", req)) return *denied;
  std::lock_guard lk(reserve_mu_);
  auto doc = view_.get(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc || !(**doc).contains("reservations") || !(**doc)["reservations"].contains(reservation_id))
    return error_response(http::status::not_found, "not_found", "tenant '" + id + "' has no reservation '" + reservation_id + "'", req);
  auto r = append("tenancy.reservation_released", id, json{{"tenantId", id}, {"reservationId", reservation_id}});
  if (!r) return append_error(r.error(), req);
  wait(*r);
  return json_response(http::status::ok, json{{"reservationId", reservation_id}, {"released", true}}, req);
}

}  // namespace nf::gateway
