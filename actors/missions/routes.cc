// The missions routes: the four contracts in, the missions read model out.
#include "actors/missions/routes.h"

#include "actors/missions/contracts.h"
#include "actors/missions/prompt_owner.h"
#include "missions.pb.h"
#include "actors/missions/schemas.h"
#include "core/base/hex.h"
#include "core/base/number.h"
#include "core/base/sha256.h"
#include "core/event/codec.h"
#include "core/event/ids.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::missions {

namespace {

using http::json;
using http::status;

template <class V>
http::response invalid(const V& v, const http::request& req) {
  return http::error_response(status::bad_request, v.error->code, v.error->message, req, v.error->field);
}

http::response conflict(const std::string& id, const http::request& req) {
  return http::error_response(status::conflict, "conflict", "mission '" + id + "' already exists with a different body", req, "id");
}

json accepted(const std::string& id, const char* topic, const bus::append_result& r) {
  return json{{"id", id}, {"topic", topic}, {"partition", r.partition.get()}, {"offset", r.off.get()}};
}

// A cursor is the last index key of the previous page, hex-encoded.
std::string cursor_encode(const std::string& key) { return to_hex(key); }
std::string cursor_decode(const std::string& hex) {
  if (hex.size() > 1024) return {};
  auto out = from_hex(hex);
  return out && (out->rfind("c/", 0) == 0 || out->rfind("ct/", 0) == 0) ? *out : std::string();
}

http::response_doc accepted_doc() { return {"appended; visible in the read model", schemas::accepted()}; }
http::response_doc error_doc(const char* why) { return {why, http::schema::ref("Error")}; }

}  // namespace

routes::routes(bus::event_bus& bus, projection::store& store, missions_projection& proj, projection::feed& feed, command::gateway& gateway,
               const nf::clock& clk, route_options opts)
    : bus_(bus), feed_(feed), gateway_(gateway), view_(store, proj), clk_(clk), opts_(std::move(opts)) {}

void routes::add_to(http::route_table& t) {
  const http::param_doc mission_id{"id", "the mission id (a UUID)", json{{"type", "string"}, {"minLength", 1}}, true, "path"};
  t.add({.method = http::verb::post, .path = "/missions", .perm = perm::write,
         .summary = "Create a mission from a MissionPrompt (idempotent on id)", .tag = "missions",
         .body = schemas::mission_prompt(),
         .responses = {{202, accepted_doc()},
                       {409, error_doc("the id exists with a different body")},
                       {503, error_doc("the id's owner has not decided in time; retry with the same id and body after Retry-After")},
                       {507, error_doc("the disk is full")}},
         .handler = [this](const http::route_context& c) { return post_mission(c); }});
  t.add({.method = http::verb::get, .path = "/missions", .perm = perm::read, .summary = "Missions, newest first", .tag = "missions",
         .params = {{"status", "prompted, accepted, in_progress, validated or failed", http::schema::string()},
                    {"priority", "P0, P1 or P2", json{{"type", "string"}, {"enum", {"P0", "P1", "P2"}}}},
                    {"limit", "page size (1..500, default 50)", json{{"type", "integer"}, {"minimum", 1}, {"maximum", 500}}},
                    {"cursor", "nextCursor of the previous page", http::schema::string()}},
         .responses = {{200, {"a page of missions", schemas::mission_page()}}},
         .handler = [this](const http::route_context& c) { return list_missions(c); }});
  t.add({.method = http::verb::get, .path = "/missions/{id}", .perm = perm::read, .summary = "One mission", .tag = "missions",
         .params = {mission_id},
         .responses = {{200, {"the mission", schemas::mission()}}, {404, error_doc("unknown mission")}},
         .handler = [this](const http::route_context& c) { return get_mission(c); }});
  t.add({.method = http::verb::post, .path = "/missions/{id}/artifacts", .perm = perm::write,
         .summary = "Record an artifact (ArtifactEvidence) of a mission", .tag = "missions", .params = {mission_id},
         .body = schemas::artifact_evidence(),
         .responses = {{202, accepted_doc()}, {404, error_doc("unknown mission")}, {507, error_doc("the disk is full")}},
         .handler = [this](const http::route_context& c) { return post_artifact(c); }});
  t.add({.method = http::verb::post, .path = "/missions/{id}/validations", .perm = perm::write,
         .summary = "Report a validation (ValidationReport) of a recorded artifact", .tag = "missions", .params = {mission_id},
         .body = schemas::validation_report(),
         .responses = {{202, accepted_doc()}, {404, error_doc("unknown mission or artifact")}, {507, error_doc("the disk is full")}},
         .handler = [this](const http::route_context& c) { return post_validation(c); }});
  t.add({.method = http::verb::post, .path = "/agents/lifecycle", .perm = perm::write,
         .summary = "An agent was spawned, escalated or retired (AgentLifecycleEvent)", .tag = "missions",
         .body = schemas::agent_lifecycle(),
         .responses = {{202, accepted_doc()}, {507, error_doc("the disk is full")}},
         .handler = [this](const http::route_context& c) { return post_agent(c); }});
  t.add({.method = http::verb::get, .path = "/agents", .perm = perm::read, .summary = "Agents not retired", .tag = "missions",
         .responses = {{200, {"the agents", schemas::agents()}}},
         .handler = [this](const http::route_context& c) { return get_agents(c); }});
}

// ---- appends ----

result<routes::appended> routes::append(const http::caller& who, const char* topic, const std::string& type, const std::string& key,
                                        const json& payload, const std::map<std::string, std::string>& headers) {
  event::new_event ev;
  ev.type = type;
  ev.key = key;
  ev.tenant = who.tenant;
  ev.payload_json = payload.dump();
  ev.region = opts_.region;
  ev.occurred_at = clk_.now_ms();
  ev.headers = headers;
  NF_TRY_ASSIGN(auto env, event::build(ev));
  auto rec = event::to_record(env);
  NF_TRY_ASSIGN(auto res, bus_.append(topic_name{topic}, std::span<const bus::record>(&rec, 1)));
  auto id = event::event_id::from_raw(env.id());
  return appended{res[0], id ? id->to_string() : std::string()};
}

bool routes::wait_visible(const char* topic, const bus::append_result& r) {
  if (feed_.wait_applied({topic_name{topic}, r.partition}, r.off, opts_.read_your_writes_timeout)) return true;
  nf::log::get("missions")->warn("the missions projection did not reach {}/{}@{} within {} ms", topic, r.partition.get(), r.off.get(),
                                 opts_.read_your_writes_timeout.count());
  metrics::registry::global()
      .get_counter("nf_missions_read_your_writes_timeouts_total", "Writes answered before the missions projection showed them")
      .inc();
  return false;
}

// ---- handlers ----

http::response routes::post_mission(const http::route_context& c) {
  const auto& req = c.req;
  auto body = http::parse_body(req);
  if (!body) return http::bad_body(body.error(), req);
  auto v = validate_mission_prompt(*body, clk_.now_ms(), event::new_uuidv7(clk_.now_ms()).to_string());
  if (!v) return invalid(v, req);
  const auto& p = *v.value;
  const std::string hash = sha256_hex(body->dump());
  // The prompt as this instance's read model has it (a repeat is answered without a decision).
  auto answer_existing = [&](const json& doc) -> http::response {
    // Another tenant's mission with this id answers like a different body: nothing of it shows.
    if (doc.value("bodySha256", "") != hash || doc.value("tenantId", "") != c.who.tenant) return conflict(p.id, req);
    const auto& pos = doc["prompt"];
    c.wrote({topic_name{kPrompts}, partition_id{pos.value("partition", 0)}}, offset{pos.value("offset", std::int64_t{0})});
    return http::json_response(status::accepted,
                               json{{"id", p.id}, {"topic", pos["topic"]}, {"partition", pos["partition"]}, {"offset", pos["offset"]}}, req);
  };
  if (p.id_given) {
    auto existing = view_.get(p.id);
    if (!existing) return http::failure(existing.error(), req);
    if (*existing && (**existing).contains("prompt")) return answer_existing(**existing);
  }
  if (auto refused = c.quota()) return *refused;
  // Whether the id is new is decided by the owner of its partition (prompt_owner), on whichever
  // instance that is: the command goes to commands.missions and the decision comes back on
  // mission.prompts.
  event::new_event cmd;
  cmd.type = kPromptRequested;
  cmd.key = p.id;
  cmd.tenant = c.who.tenant;
  cmd.payload_json = p.payload.dump();
  cmd.region = opts_.region;
  cmd.occurred_at = clk_.now_ms();
  cmd.headers = {{"nf-body-sha256", hash}};
  auto d = gateway_.submit(topic_name{kCommands}, cmd, opts_.decision_timeout);
  if (!d && d.error().code == errc::timeout) {
    nf::log::get("missions")->warn("POST /missions {}: {}", p.id, d.error().message);
    auto res = http::error_response(status::service_unavailable, "not_decided",
                                    "the owner of mission '" + p.id + "' has not decided within " +
                                        std::to_string(opts_.decision_timeout.count()) +
                                        " ms; the request is kept and will be decided: retry with the same id and body",
                                    req);
    res.set(http::field::retry_after, "1");
    return res;
  }
  if (!d) return http::append_error(d.error(), req);
  const auto& out = d->outcome;
  const topic_partition tp{out.topic, out.partition};
  if (d->outcome_event.type() == kPromptDeclined) {
    events::PromptDeclined why;
    (void)d->outcome_event.payload().UnpackTo(&why);
    if (why.reason() != "repeat") return conflict(p.id, req);
    const bus::append_result original{partition_id{why.prompt_partition()}, offset{why.prompt_offset()}, 0};
    c.wrote({topic_name{kPrompts}, original.partition}, original.off);
    wait_visible(kPrompts, original);
    return http::json_response(status::accepted, accepted(p.id, kPrompts, original), req);
  }
  const bus::append_result at{out.partition, out.off, out.timestamp_ms};
  if (wait_visible(kPrompts, at)) {
    // The read model is the arbiter: a prompt written by an owner deposed meanwhile was refused.
    auto now = view_.get(p.id);
    if (!now) return http::failure(now.error(), req);
    if (*now && (**now).contains("prompt")) return answer_existing(**now);
    auto res = http::error_response(status::service_unavailable, "not_decided",
                                    "the decision on mission '" + p.id + "' came from an instance that no longer owns it; retry with the same id and body",
                                    req);
    res.set(http::field::retry_after, "1");
    return res;
  }
  c.wrote(tp, at.off);
  return http::json_response(status::accepted, accepted(p.id, kPrompts, at), req);
}

std::variant<json, http::response> routes::visible_mission(const http::route_context& c, const std::string& id) {
  auto m = view_.get(id);
  if (!m) return http::failure(m.error(), c.req);
  if (!*m || !c.who.sees((**m).value("tenantId", "")))
    return http::error_response(status::not_found, "not_found", "unknown mission '" + id + "'", c.req);
  return std::move(**m);
}

http::response routes::post_artifact(const http::route_context& c) {
  const auto& req = c.req;
  const auto& mission_id = c.path_param("id");
  auto body = http::parse_body(req);
  if (!body) return http::bad_body(body.error(), req);
  auto v = validate_artifact(*body, mission_id);
  if (!v) return invalid(v, req);
  auto m = visible_mission(c, mission_id);
  if (auto* res = std::get_if<http::response>(&m)) return std::move(*res);
  if (auto refused = c.quota()) return *refused;
  auto r = append(c.who, kArtifacts, "mission.artifact_recorded", mission_id, v.value->payload);
  if (!r) return http::append_error(r.error(), req);
  c.wrote({topic_name{kArtifacts}, r->at.partition}, r->at.off);
  wait_visible(kArtifacts, r->at);
  return http::json_response(status::accepted, accepted(r->event_id, kArtifacts, r->at), req);
}

http::response routes::post_validation(const http::route_context& c) {
  const auto& req = c.req;
  const auto& mission_id = c.path_param("id");
  auto body = http::parse_body(req);
  if (!body) return http::bad_body(body.error(), req);
  auto v = validate_validation(*body, clk_.now_ms());
  if (!v) return invalid(v, req);
  auto m = visible_mission(c, mission_id);
  if (auto* res = std::get_if<http::response>(&m)) return std::move(*res);
  const auto& arts = std::get<json>(m)["artifacts"];
  if (!arts.contains(v.value->artifact_id) || !arts[v.value->artifact_id].contains("position"))
    return http::error_response(status::not_found, "not_found", "mission '" + mission_id + "' has no artifact '" + v.value->artifact_id + "'",
                                req, "artifactId");
  if (auto refused = c.quota()) return *refused;
  auto r = append(c.who, kValidations, "mission.validation_reported", mission_id, v.value->payload);
  if (!r) return http::append_error(r.error(), req);
  c.wrote({topic_name{kValidations}, r->at.partition}, r->at.off);
  wait_visible(kValidations, r->at);
  return http::json_response(status::accepted, accepted(r->event_id, kValidations, r->at), req);
}

http::response routes::post_agent(const http::route_context& c) {
  const auto& req = c.req;
  auto body = http::parse_body(req);
  if (!body) return http::bad_body(body.error(), req);
  auto v = validate_agent_lifecycle(*body);
  if (!v) return invalid(v, req);
  if (auto refused = c.quota()) return *refused;
  auto r = append(c.who, kLifecycle, "agent." + v.value->lifecycle, v.value->agent_id, v.value->payload);
  if (!r) return http::append_error(r.error(), req);
  c.wrote({topic_name{kLifecycle}, r->at.partition}, r->at.off);
  wait_visible(kLifecycle, r->at);
  return http::json_response(status::accepted, accepted(r->event_id, kLifecycle, r->at), req);
}

http::response routes::get_mission(const http::route_context& c) {
  const auto& req = c.req;
  const auto& id = c.path_param("id");
  auto m = view_.get_public_owned(id);
  if (!m) return http::failure(m.error(), req);
  if (!*m || !c.who.sees((*m)->tenant)) return http::error_response(status::not_found, "not_found", "unknown mission '" + id + "'", req);
  http::response res{status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "nexus-forge");
  res.keep_alive(req.keep_alive());
  res.body() = std::move((*m)->json);
  res.prepare_payload();
  return res;
}

http::response routes::list_missions(const http::route_context& c) {
  const auto& req = c.req;
  mission_filter f;
  if (!c.who.platform_admin) f.tenant = c.who.tenant;
  if (auto s = c.t.param("status")) f.status = *s;
  if (auto p = c.t.param("priority")) {
    if (*p != "P0" && *p != "P1" && *p != "P2") return http::invalid_field("priority", "'priority' must be one of P0|P1|P2", req);
    f.priority = *p;
  }
  if (auto it = c.t.query.find("limit"); it != c.t.query.end()) {
    auto n = parse_number<std::size_t>(it->second, "'limit'", 1, 500);
    if (!n) return http::invalid_field("limit", "'limit' must be an integer from 1 to 500", req);
    f.limit = *n;
  }
  if (auto cur = c.t.param("cursor")) {
    f.cursor = cursor_decode(*cur);
    if (f.cursor.empty()) return http::invalid_field("cursor", "'cursor' is not a cursor from this API", req);
  }
  auto page = view_.list(f);
  if (!page && page.error().code == errc::invalid_argument)
    return http::invalid_field("cursor", "'cursor' is not a cursor from this listing", req);
  if (!page) return http::failure(page.error(), req);
  json items = json::array();
  for (auto& d : page->items) {
    d.erase("bodySha256");
    items.push_back(std::move(d));
  }
  json out{{"items", items}};
  out["nextCursor"] = page->next_cursor.empty() ? json(nullptr) : json(cursor_encode(page->next_cursor));
  return http::json_response(status::ok, out, req);
}

http::response routes::get_agents(const http::route_context& c) {
  auto a = view_.live_agents(c.who.platform_admin ? std::nullopt : std::optional<std::string>(c.who.tenant));
  if (!a) return http::failure(a.error(), c.req);
  return http::json_response(status::ok, json{{"items", *a}}, c.req);
}

}  // namespace nf::missions
