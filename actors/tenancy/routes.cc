// Tenant administration routes: registration, tenants, keys and roles.
#include "actors/tenancy/routes.h"

#include <boost/asio/ip/address.hpp>

#include "core/base/number.h"
#include "core/base/rfc3339.h"
#include "core/base/text.h"

#include <algorithm>
#include <random>

#include "actors/tenancy/permissions.h"
#include "actors/tenancy/rbac.h"
#include "actors/tenancy/reservation_owner.h"
#include "actors/tenancy/route_helpers.h"
#include "actors/tenancy/plans.h"
#include "actors/tenancy/schemas.h"
#include "core/metrics/metrics.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "tenancy.pb.h"

namespace nf::tenancy {

namespace {

// Totals reserved per kind, from the tenant document's reservations.

bool valid_tenant_id(const std::string& id) {
  if (id.empty() || id.size() > 63 || id.front() == '-' || id.back() == '-') return false;
  for (char c : id)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

// A JSON object body (parse_body, plus: an object).

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

// Shared by the tenancy route files (route_helpers.h).
json reserved_of(const json& doc) {
  json out{{"concurrentRuns", 0}, {"cpuMillicores", 0}, {"memoryMib", 0}};
  if (doc.contains("reservations") && doc["reservations"].is_object())
    for (const auto& [rid, r] : doc["reservations"].items())
      if (out.contains(r.value("kind", ""))) out[r.value("kind", "")] = out[r.value("kind", "")].get<std::int64_t>() + r.value("amount", std::int64_t{0});
  return out;
}

std::optional<http::response> only_fields(const json& body, std::initializer_list<const char*> allowed, const http::request& req) {
  for (const auto& item : body.items()) {
    const std::string& k = item.key();
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }) == allowed.end())
      return error_response(http::status::bad_request, "unknown_field", "unknown field '" + k + "'", req, k);
  }
  return std::nullopt;
}

routes::routes(bus::event_bus& bus, projection::store& store, route_options o, access& acc, const nf::clock& clk)
    : bus_(bus), opts_(std::move(o)), acc_(acc), view_(store, *opts_.tenants), clk_(clk) {
  if (opts_.usage) usage_.emplace(store, *opts_.usage);
  if (opts_.audit) audit_.emplace(store, *opts_.audit);
}

namespace {
// The request a tenancy handler is serving on this thread, so the one place that waits for an
// append (routes::wait) can report its position (NF-Position) for every write route.
thread_local const http::route_context* serving = nullptr;
}  // namespace

void routes::add_to(http::route_table& t) {
  using http::verb;
  // Each handler checks the permission itself, in the tenant the path names: another tenant's
  // resources answer 404 before any 403, so nothing says whether they exist.
  auto on = [&](verb m, const char* path, http::permission p, const char* summary, std::optional<json> body,
                std::map<unsigned, http::response_doc> responses, std::vector<http::param_doc> params,
                std::function<response(const context&, const http::route_context&)> fn) {
    t.add({.method = m, .path = path, .perm = p, .summary = summary, .tag = "tenancy", .params = std::move(params),
           .body = std::move(body), .responses = std::move(responses),
           .handler =
               [fn = std::move(fn)](const http::route_context& rc) {
                 serving = &rc;
                 struct done {
                   ~done() { serving = nullptr; }
                 } reset;
                 return fn(context_of(rc.who), rc);
               },
           .blocking = true, .authorize_in_handler = true});
  };
  const http::response_doc not_found{"unknown tenant (or another tenant's)", http::schema::ref("Error")};
  const http::response_doc stale{"If-Match names an older version of the tenant: someone changed it since (version_mismatch)",
                                 http::schema::ref("Error")};
  const http::response_doc undecided{"the tenant's owner has not decided in time (Kafka: changes go through it); the change is kept "
                                     "and will be decided (not_decided, Retry-After)",
                                     http::schema::ref("Error")};
  const http::param_doc if_match{.name = "If-Match",
                                 .description = "the tenant's ETag as read: change it only if nobody changed it since (412 otherwise)",
                                 .schema = json{{"type", "string"}},
                                 .in = "header"};
  const http::response_doc pending{"appended; the read model has not shown it yet", schemas::pending()};
  on(verb::post, "/tenants", perm::tenants_create, "Create a tenant (platform admin)", schemas::tenant_create(),
     {{201, {"the tenant", schemas::tenant()}}, {202, pending}, {409, {"the id or a domain is taken", http::schema::ref("Error")}}}, {},
     [this](const context& c, const http::route_context& rc) { return create(c, rc.req); });
  on(verb::get, "/tenants", perm::tenants_create, "Every tenant (platform admin)", std::nullopt,
     {{200, {"the tenants", schemas::tenant_list()}}}, {},
     [this](const context& c, const http::route_context& rc) { return list(c, rc.req); });
  on(verb::get, "/session", perm::session_read, "Who this credential is: tenant, principal, roles and the permissions it holds (any valid credential)",
     std::nullopt, {{200, {"the caller", schemas::session()}}}, {},
     [this](const context& c, const http::route_context& rc) { return session(c, rc.req); });
  on(verb::get, "/tenants/{id}", perm::tenants_read, "A tenant: plan, effective limits, usage, keys and roles", std::nullopt,
     {{200, {.description = "the tenant; its ETag is its version", .schema = schemas::tenant(), .etag = true}}, {404, not_found}}, {},
     [this](const context& c, const http::route_context& rc) { return show(c, rc.path_param("id"), rc.req); });
  on(verb::patch, "/tenants/{id}", perm::tenants_write, "Change domains (tenants:write); plan, quotas, status (platform admin)",
     schemas::tenant_patch(),
     {{200, {.description = "the tenant as changed", .schema = schemas::tenant(), .etag = true}}, {202, pending}, {404, not_found},
      {409, {"a domain is taken", http::schema::ref("Error")}}, {412, stale}, {503, undecided}},
     {if_match}, [this](const context& c, const http::route_context& rc) { return patch(c, rc.path_param("id"), rc.req); });
  on(verb::post, "/tenants/{id}/keys", perm::keys_write, "Create an API key (the secret is in this answer only)", schemas::key_create(),
     {{201, {.description = "the key", .schema = schemas::key_created(), .etag = true}},
      {202, {"the key; the read model has not shown it yet", schemas::key_created()}}, {404, not_found}, {412, stale}, {503, undecided}},
     {if_match}, [this](const context& c, const http::route_context& rc) { return create_key(c, rc.path_param("id"), rc.req); });
  on(verb::delete_, "/tenants/{id}/keys/{keyId}", perm::keys_write, "Revoke an API key (effective on its next request)", std::nullopt,
     {{200, {.description = "revoked", .schema = schemas::key_revoked(), .etag = true}},
      {202, {"revoked; the read model has not shown it yet", schemas::key_revoked()}}, {404, not_found}, {412, stale}, {503, undecided}},
     {if_match}, [this](const context& c, const http::route_context& rc) { return revoke_key(c, rc.path_param("id"), rc.path_param("keyId"), rc.req); });
  on(verb::post, "/tenants/{id}/roles", perm::roles_write, "Define a custom role", schemas::role_define(),
     {{201, {.description = "the role", .schema = schemas::role(), .etag = true}},
      {202, {"the role; the read model has not shown it yet", schemas::role()}}, {404, not_found},
      {409, {"a built-in role name", http::schema::ref("Error")}}, {412, stale}, {503, undecided}},
     {if_match}, [this](const context& c, const http::route_context& rc) { return define_role(c, rc.path_param("id"), rc.req); });
  if (audit_)
    on(verb::get, "/tenants/{id}/audit", perm::audit_read, "The audit log: requests and changes, oldest first", std::nullopt,
       {{200, {"audit records", schemas::audit_page()}}, {404, not_found}},
       {{"from", "RFC 3339 time or unix ms (default: the beginning)", http::schema::string()},
        {"to", "RFC 3339 time or unix ms (default: now)", http::schema::string()},
        {"limit", "1..10000 (default 1000)", json{{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}}}},
       [this](const context& c, const http::route_context& rc) { return audit_log(c, rc.path_param("id"), rc.t, rc.req); });
  if (usage_)
    on(verb::get, "/tenants/{id}/usage", perm::usage_read, "Metered usage of a month, one row per metric per day (JSON or CSV)",
       std::nullopt, {{200, {"usage rows", schemas::usage_page()}}, {404, not_found}},
       {{"period", "YYYY-MM (default: this month, UTC)", json{{"type", "string"}, {"pattern", "^[0-9]{4}-[0-9]{2}$"}}},
        {"format", "json (default) or csv", json{{"type", "string"}, {"enum", {"json", "csv"}}}}},
       [this](const context& c, const http::route_context& rc) { return usage(c, rc.path_param("id"), rc.t, rc.req); });
  on(verb::post, "/tenants/{id}/reservations", perm::reservations_write, "Reserve concurrentRuns, cpuMillicores or memoryMib",
     schemas::reservation_request(),
     {{201, {"the reservation", schemas::reservation()}}, {202, {"the reservation; the read model has not shown it yet", schemas::reservation()}},
      {404, not_found}, {409, {"beyond the quota (names it, its limit and use)", http::schema::ref("Error")}}},
     {}, [this](const context& c, const http::route_context& rc) { return reserve(c, rc.path_param("id"), rc.req); });
  on(verb::get, "/tenants/{id}/reservations", perm::tenants_read, "A tenant's reservations", std::nullopt,
     {{200, {"reservations", schemas::reservation_list()}}, {404, not_found}}, {},
     [this](const context& c, const http::route_context& rc) { return reservations(c, rc.path_param("id"), rc.req); });
  on(verb::delete_, "/tenants/{id}/reservations/{reservationId}", perm::reservations_write, "Release a reservation", std::nullopt,
     {{200, {"released", schemas::released()}}, {202, {"released; the read model has not shown it yet", schemas::released()}}, {404, not_found}},
     {}, [this](const context& c, const http::route_context& rc) {
       return release(c, rc.path_param("id"), rc.path_param("reservationId"), rc.req);
     });
}

std::optional<http::response> routes::authorize(const context& c, const std::string& tenant, http::permission p,
                                                const http::request& req) const {
  if (c.platform_admin) return std::nullopt;
  if (c.tenant != tenant) return error_response(http::status::not_found, "not_found", "unknown tenant '" + tenant + "'", req);
  // The context carries the tenant's custom roles, as current as the directory.
  if (!c.holds(p.name()))
    return error_response(http::status::forbidden, "forbidden", "missing permission '" + std::string(p.name()) + "'", req);
  return std::nullopt;
}

result<bus::append_result> routes::append(const std::string& type, const std::string& tenant, const google::protobuf::Message& payload,
                                          std::optional<std::int64_t> expected) {
  if (opts_.owner_appends) return append_through_owner(type, tenant, payload, expected);
  event::new_event ev;
  ev.type = type;
  ev.key = tenant;
  ev.tenant = tenant;
  ev.region = opts_.region;
  ev.occurred_at = clk_.now_ms();
  NF_TRY_ASSIGN(auto env, event::build(ev, payload));
  auto rec = event::to_record(env);
  rec.expected_version = expected;
  NF_TRY_ASSIGN(auto res, bus_.append(topic_name{tenants::kTenantsTopic}, std::span<const bus::record>(&rec, 1)));
  return res[0];
}

// Where the bus cannot check an expected version (Kafka), every change is the tenant's owner's
// to append: one writer per tenant, which checks the version against the read model it has
// caught up, so a change never lands between another's check and its append.
result<bus::append_result> routes::append_through_owner(const std::string& type, const std::string& tenant,
                                                        const google::protobuf::Message& payload, std::optional<std::int64_t> expected) {
  if (!opts_.commands) return error{errc::unavailable, "changes of tenants are decided by their owner, and this instance reaches none"};
  events::TenantChangeRequested change;
  change.set_tenant_id(tenant);
  change.set_type(type);
  change.mutable_change()->PackFrom(payload);
  if (expected) {
    change.set_conditional(true);
    change.set_expected_version(*expected);
  }
  event::new_event cmd;
  cmd.type = kChangeRequested;
  cmd.key = tenant;
  cmd.tenant = tenant;
  cmd.message = &change;
  cmd.region = opts_.region;
  cmd.occurred_at = clk_.now_ms();
  NF_TRY_ASSIGN(auto d, opts_.commands->submit(topic_name{kCommandsTopic}, cmd, opts_.decide));
  if (d.outcome_event.type() == kChangeRefused) {
    events::TenantChangeRefused why;
    (void)d.outcome_event.payload().UnpackTo(&why);
    return error{errc::wrong_expected_version, "tenant '" + tenant + "' is at version " + std::to_string(why.actual_version()) +
                                                   ", not the expected " + std::to_string(why.expected_version())};
  }
  bus::append_result r{d.outcome.partition, d.outcome.off, d.outcome.timestamp_ms};
  if (auto v = d.outcome_event.headers().find(kVersionHeader); v != d.outcome_event.headers().end())
    if (auto n = parse_number<std::int64_t>(v->second, kVersionHeader)) r.version = *n;
  return r;
}

http::response routes::change_failed(const error& e, const http::request& req) const {
  if (e.code == errc::wrong_expected_version) return http::version_mismatch(e, req);
  if (e.code == errc::timeout) {
    auto res = error_response(http::status::service_unavailable, "not_decided",
                              "the owner of the tenant has not decided within " + std::to_string(opts_.decide.count()) +
                                  " ms; the change is kept and will be decided: read the tenant again before retrying",
                              req);
    res.set(http::field::retry_after, "1");
    return res;
  }
  return append_error(e, req);
}

bool routes::wait(const bus::append_result& r) {
  if (serving) serving->wrote({topic_name{tenants::kTenantsTopic}, r.partition}, r.off);
  if (!opts_.feed) return true;
  if (opts_.feed->wait_applied({topic_name{tenants::kTenantsTopic}, r.partition}, r.off, opts_.wait)) return true;
  nf::log::get("tenancy")->warn("the tenants projection did not show {}/{}@{} within {} ms", tenants::kTenantsTopic, r.partition.get(),
                                r.off.get(), opts_.wait.count());
  metrics::registry::global()
      .get_counter("nf_tenancy_not_visible_total", "Tenant changes answered 202 because the read model had not shown them in time")
      .inc();
  return false;
}

http::response routes::not_visible_yet(const json& body, const http::request& req) const {
  json b = body;
  b["visible"] = false;
  b["message"] = "appended, but the read model has not shown it within " + std::to_string(opts_.wait.count()) + " ms; read it again shortly";
  return json_response(http::status::accepted, b, req);
}

result<limits> routes::limits_of(const json& doc) const { return limits_of_doc(doc); }

result<limits> limits_of_doc(const json& doc) {
  overrides o;
  if (doc.contains("quotas")) {
    auto q = parse_overrides(doc["quotas"]);
    if (!q) return error{errc::corruption, "the quota overrides of tenant '" + doc.value("id", std::string()) + "' are damaged: " + q.error().message};
    o = *q;
  }
  auto p = parse_plan(doc.value("plan", "basic"));
  if (!p) return error{errc::corruption, "the plan of tenant '" + doc.value("id", std::string()) + "' is damaged: " + p.error().message};
  return effective(*p, o);
}

response routes::create(const context& c, const request& req) {
  if (!c.platform_admin) return error_response(http::status::forbidden, "forbidden", "missing permission 'tenants:create' (platform admin only)", req);
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"id", "name", "plan", "quotas", "domains"}, req)) return *bad;
  if (!body->contains("name") || !(*body)["name"].is_string() || (*body)["name"].get<std::string>().empty() ||
      (*body)["name"].get<std::string>().size() > 200)
    return error_response(http::status::bad_request, "invalid_field", "'name' is required: 1..200 characters", req, "name");
  auto plan_name = string_field(*body, "plan");
  if (!plan_name) return wrong_type("plan", "a string (basic, pro or enterprise)", req);
  auto plan = parse_plan(plan_name->value_or(""));
  if (!plan) return error_response(http::status::bad_request, "invalid_field", plan.error().message, req, "plan");
  overrides quotas;
  if (body->contains("quotas")) {
    auto q = parse_overrides((*body)["quotas"]);
    if (!q) return error_response(http::status::bad_request, "invalid_field", q.error().message, req, "quotas");
    quotas = *q;
  }
  std::vector<std::string> domains;
  if (body->contains("domains")) {
    auto d = domains_of((*body)["domains"], opts_.dir->base_domain());
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
  events::TenantCreated created;
  created.set_tenant_id(id);
  created.set_name((*body)["name"].get<std::string>());
  created.set_plan(std::string(name(*plan)));
  for (const auto& [k, v] : quotas) (*created.mutable_quotas())[std::string(name(k))] = v;
  for (const auto& d : domains) created.add_domains(d);
  auto r = append("tenancy.tenant_created", id, created);
  if (!r) return append_error(r.error(), req);
  if (!wait(*r)) return not_visible_yet(json{{"id", id}}, req);
  if (auto lost = domains_taken(id, domains, req, true)) return *lost;
  auto res = show(c, id, req);
  if (res.result() == http::status::ok) res.result(http::status::created);
  return res;
}

std::optional<response> routes::domains_taken(const std::string& tenant, const std::vector<std::string>& domains, const request& req,
                                                   bool must_hold) const {
  for (const auto& d : domains) {
    auto owner = view_.domain_owner(d);
    if (!owner) return error_response(status_for(owner.error().code), "internal", owner.error().message, req);
    const bool other = *owner ? **owner != tenant : must_hold;
    if (other) return error_response(http::status::conflict, "domain_taken", "domain '" + d + "' belongs to another tenant", req, "domains");
  }
  return std::nullopt;
}

response routes::session(const context& c, const request& req) const {
  json perms = json::array();
  for (const auto& p : permission_catalogue())
    if (c.holds(p)) perms.push_back(p);
  // Scoped grants of custom roles ("events:write@orders.*"), as their roles define them.
  if (c.custom_roles)
    for (const auto& r : c.roles)
      if (auto held = c.custom_roles->permissions(r))
        for (const auto& p : *held)
          if (p.find('@') != std::string::npos && std::find(perms.begin(), perms.end(), p) == perms.end()) perms.push_back(p);
  return json_response(http::status::ok,
                       json{{"tenant", c.tenant}, {"principal", c.principal}, {"roles", c.roles}, {"platformAdmin", c.platform_admin},
                            {"permissions", perms}},
                       req);
}

response routes::list(const context& c, const request& req) {
  if (!c.platform_admin) return error_response(http::status::forbidden, "forbidden", "listing tenants is for the platform admin", req);
  auto all = view_.list();
  if (!all) return error_response(status_for(all.error().code), "internal", all.error().message, req);
  json items = json::array();
  for (const auto& d : *all) items.push_back({{"id", d["id"]}, {"name", d["name"]}, {"plan", d["plan"]}, {"status", d["status"]}});
  return json_response(http::status::ok, json{{"items", items}}, req);
}

response routes::show(const context& c, const std::string& id, const request& req) {
  if (auto denied = authorize(c, id, perm::tenants_read, req)) return *denied;
  auto got = view_.get_versioned(id);
  if (!got) return error_response(status_for(got.error().code), "internal", got.error().message, req);
  if (!*got) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  auto& d = (*got)->doc;
  d["version"] = (*got)->version;
  auto lim = limits_of(d);
  if (!lim) return http::failure(lim.error(), req);
  d["limits"] = to_json(*lim);
  if (usage_) {
    auto today = usage_->day(tenant_id{id}, usage::utc_date(clk_.now_ms()));
    auto stored = usage_->stored_bytes(tenant_id{id});
    if (today && stored)
      d["usage"] = json{{"date", today->date},     {"eventsToday", today->events}, {"bytesToday", today->bytes},
                        {"requestsToday", today->requests}, {"storedBytes", *stored},    {"reserved", reserved_of(d)}};
    // Alerts of the current periods: this month's (stored bytes, reservations) and its days'.
    if (auto alerts = usage_->alerts(tenant_id{id}, usage::utc_date(clk_.now_ms()).substr(0, 7))) d["alerts"] = *alerts;
  }
  auto res = json_response(http::status::ok, d, req);
  res.set(http::field::etag, http::etag((*got)->version));
  return res;
}

response routes::patch(const context& c, const std::string& id, const request& req) {
  auto body = parse_body(req);
  if (!body) return bad_body(body.error(), req);
  if (auto bad = only_fields(*body, {"plan", "quotas", "domains", "status"}, req)) return *bad;
  const bool admin_fields = body->contains("plan") || body->contains("quotas") || body->contains("status");
  if (admin_fields && !c.platform_admin) {
    if (c.tenant != id) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
    return error_response(http::status::forbidden, "forbidden", "plan, quotas and status are changed by the platform admin", req);
  }
  if (auto denied = authorize(c, id, perm::tenants_write, req)) return *denied;
  auto expected = http::if_match(req);
  if (!expected) return error_response(http::status::bad_request, "invalid_header", expected.error().message, req, "If-Match");
  auto doc = view_.get_versioned(id);
  if (!doc) return error_response(status_for(doc.error().code), "internal", doc.error().message, req);
  if (!*doc) return error_response(http::status::not_found, "not_found", "unknown tenant '" + id + "'", req);
  // What the read model shows is at least as old as the log: a stale tag fails here already.
  if (*expected && **expected < (*doc)->version)
    return http::version_mismatch({errc::wrong_expected_version, "tenant '" + id + "' is at version " + std::to_string((*doc)->version) +
                                                                     ", not the expected " + std::to_string(**expected)},
                                  req);
  events::TenantUpdated update;
  update.set_tenant_id(id);
  if (body->contains("plan")) {
    auto p = parse_plan((*body)["plan"].is_string() ? (*body)["plan"].get<std::string>() : "");
    if (!p) return error_response(http::status::bad_request, "invalid_field", p.error().message, req, "plan");
    update.set_plan(std::string(name(*p)));
  }
  if (body->contains("quotas")) {
    auto q = parse_overrides((*body)["quotas"]);
    if (!q) return error_response(http::status::bad_request, "invalid_field", q.error().message, req, "quotas");
    for (const auto& [k, v] : *q) (*update.mutable_quotas())[std::string(name(k))] = v;
  }
  std::vector<std::string> domains;
  if (body->contains("domains")) {
    auto d = domains_of((*body)["domains"], opts_.dir->base_domain());
    if (!d) return error_response(http::status::bad_request, "invalid_field", d.error().message, req, "domains");
    if (auto taken = domains_taken(id, *d, req)) return *taken;
    domains = *d;
    for (const auto& dn : *d) update.add_domains(dn);
    update.set_domains_set(true);
  }
  if (body->contains("status")) {
    const auto st = (*body)["status"].is_string() ? (*body)["status"].get<std::string>() : "";
    if (st != "active" && st != "suspended")
      return error_response(http::status::bad_request, "invalid_field", "'status' must be active or suspended", req, "status");
    update.set_status(st);
  }
  auto r = append("tenancy.tenant_updated", id, update, *expected);
  if (!r) return change_failed(r.error(), req);
  if (!wait(*r)) return not_visible_yet(json{{"id", id}}, req);
  if (auto lost = domains_taken(id, domains, req, true)) return *lost;
  return show(c, id, req);
}

}  // namespace nf::tenancy
