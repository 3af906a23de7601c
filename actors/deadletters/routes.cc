// The dead letters routes: list and show what actors parked; replay or discard it.
#include "actors/deadletters/routes.h"

#include <charconv>

#include "core/actor/actor.h"
#include "core/base/base64.h"
#include "core/event/codec.h"
#include "core/metrics/metrics.h"

namespace nf::deadletters {

namespace {

using json = nlohmann::json;
using http::status;

const std::vector<std::string> kStatuses = {kParked, kReplayRequestedStatus, kReplayedStatus, kReplayFailedStatus, kDiscardedStatus};

json dead_letter_schema() {
  return http::schema::object({{"id", http::schema::string()},
                               {"actor", http::schema::string()},
                               {"status", json{{"type", "string"}, {"enum", kStatuses}}},
                               {"tenant", http::schema::string()},
                               {"type", http::schema::string()},
                               {"key", http::schema::string()},
                               {"source", http::schema::object({{"topic", http::schema::string()},
                                                                {"partition", http::schema::integer()},
                                                                {"offset", http::schema::integer()}})},
                               {"error", http::schema::string()},
                               {"attempts", http::schema::integer()},
                               {"parkedAt", http::schema::string()},
                               {"history", http::schema::array(json{{"type", "object"}})}},
                              {"id", "actor", "status"});
}

}  // namespace

void routes::add_to(http::route_table& t) {
  const http::response_doc err{"the error", http::schema::ref("Error")};
  const http::param_doc id{"id", "the dead letter's id (the platform.dead_lettered event's)", http::schema::string(), true, "path"};
  t.add({.method = http::verb::get, .path = "/deadletters", .perm = perm::read,
         .summary = "Events actors parked after failing on them, newest first", .tag = "operations",
         .params = {{"actor", "only those this actor parked", http::schema::string()},
                    {"status", "only those in this state", json{{"type", "string"}, {"enum", kStatuses}}},
                    {"limit", "at most this many (1..1000, default 100)", http::schema::integer()}},
         .responses = {{200, {"the dead letters", http::schema::object({{"deadLetters", http::schema::array(dead_letter_schema())}})}},
                       {400, err}},
         .handler = [this](const http::route_context& c) { return list(c); }});
  t.add({.method = http::verb::get, .path = "/deadletters/{id}", .perm = perm::read,
         .summary = "One dead letter, with the parked event", .tag = "operations", .params = {id},
         .responses = {{200, {"the dead letter", dead_letter_schema()}}, {404, err}},
         .handler = [this](const http::route_context& c) { return show(c); }});
  t.add({.method = http::verb::post, .path = "/deadletters/{id}/replay", .perm = perm::write,
         .summary = "Hand a parked event back to the actor that parked it (after its cause is fixed)", .tag = "operations",
         .params = {id},
         .responses = {{202, {"the replay is requested; the actor handles it once and the dead letter shows the outcome", dead_letter_schema()}},
                       {404, err},
                       {409, {"not parked (already replayed, being replayed, or discarded)", http::schema::ref("Error")}}},
         .handler = [this](const http::route_context& c) { return act(c, true); }});
  t.add({.method = http::verb::post, .path = "/deadletters/{id}/discard", .perm = perm::write,
         .summary = "Give up on a parked event (recorded as an event; nothing is deleted)", .tag = "operations", .params = {id},
         .body = http::schema::object({{"reason", http::schema::string()}}),
         .responses = {{200, {"discarded", dead_letter_schema()}}, {400, err}, {404, err},
                       {409, {"not parked (replayed, being replayed, or discarded)", http::schema::ref("Error")}}},
         .handler = [this](const http::route_context& c) { return act(c, false); }});
}

http::response routes::list(const http::route_context& c) {
  filter f;
  const auto& q = c.t.query;
  if (auto it = q.find("actor"); it != q.end()) f.actor = it->second;
  if (auto it = q.find("status"); it != q.end()) {
    if (std::find(kStatuses.begin(), kStatuses.end(), it->second) == kStatuses.end())
      return http::invalid_field("status", "'" + it->second + "' is not a dead letter status (parked, replay_requested, replayed, replay_failed, discarded)", c.req);
    f.status = it->second;
  }
  if (auto it = q.find("limit"); it != q.end()) {
    std::size_t n = 0;
    const auto& v = it->second;
    if (std::from_chars(v.data(), v.data() + v.size(), n).ptr != v.data() + v.size() || n < 1 || n > 1000)
      return http::invalid_field("limit", "must be an integer from 1 to 1000, got '" + v + "'", c.req);
    f.limit = n;
  }
  if (!c.who.platform_admin) f.tenant = c.who.tenant;
  auto l = view_.list(f);
  if (!l) return http::failure(l.error(), c.req);
  return http::json_response(status::ok, json{{"deadLetters", std::move(*l)}}, c.req);
}

std::variant<nlohmann::json, http::response> routes::visible(const http::route_context& c, const std::string& id) {
  auto d = view_.get(id);
  if (!d) return http::failure(d.error(), c.req);
  // Another tenant's dead letter answers like an unknown one.
  if (!*d || !c.who.sees((**d).value("tenant", "")))
    return http::error_response(status::not_found, "not_found", "no dead letter '" + id + "'", c.req);
  return std::move(**d);
}

http::response routes::show(const http::route_context& c) {
  const auto& id = c.path_param("id");
  auto d = visible(c, id);
  if (auto* res = std::get_if<http::response>(&d)) return std::move(*res);
  auto doc = std::get<json>(std::move(d));
  auto parked = view_.parked(id);
  if (!parked) return http::failure(parked.error(), c.req);
  if (*parked) {
    json ev{{"bytes", to_base64((**parked).original())}};
    events::Envelope env;
    if (env.ParseFromString((**parked).original())) {
      auto eid = event::event_id::from_raw(env.id());
      ev["id"] = eid ? eid->to_string() : "";
      ev["type"] = env.type();
      ev["schemaVersion"] = env.schema_version();
      if (auto p = event::payload_json(env)) ev["payload"] = std::move(*p);
    }
    doc["event"] = std::move(ev);
  }
  return http::json_response(status::ok, doc, c.req);
}

http::response routes::act(const http::route_context& c, bool replay) {
  const auto& id = c.path_param("id");
  std::string reason;
  if (!replay && !c.req.body().empty()) {
    auto body = http::parse_body(c.req);
    if (!body) return http::bad_body(body.error(), c.req);
    if (!body->is_object()) return http::invalid_field("", "the body must be a JSON object", c.req);
    if (body->contains("reason")) {
      if (!(*body)["reason"].is_string()) return http::invalid_field("reason", "must be a string", c.req);
      reason = (*body)["reason"].get<std::string>();
      if (reason.size() > 1000) return http::invalid_field("reason", "at most 1000 characters", c.req);
    }
  }
  std::lock_guard lk(act_mu_);
  auto d = visible(c, id);
  if (auto* res = std::get_if<http::response>(&d)) return std::move(*res);
  const auto doc = std::get<json>(std::move(d));
  const std::string now = doc.value("status", "");
  if (now != kParked && now != kReplayFailedStatus)
    return http::error_response(status::conflict, "not_parked",
                                "dead letter '" + id + "' is " + now + ": only a parked dead letter (or one whose replay failed) can be " +
                                    (replay ? "replayed" : "discarded"),
                                c.req);
  events::DeadLetterAction a;
  a.set_dead_letter_id(id);
  a.set_actor(doc.value("actor", ""));
  a.set_by(c.who.principal);
  a.set_tenant(doc.value("tenant", ""));
  a.set_reason(reason);
  if (replay) {
    auto parked = view_.parked(id);
    if (!parked) return http::failure(parked.error(), c.req);
    if (!*parked) return http::failure(error{errc::corruption, "dead letter '" + id + "' has no parked event"}, c.req);
    *a.mutable_dead_letter() = std::move(**parked);
  }
  event::new_event ev;
  ev.type = replay ? actor::kReplayRequested : actor::kDiscarded;
  ev.key = id;
  ev.tenant = a.tenant();
  ev.message = &a;
  ev.region = region_;
  ev.occurred_at = clk_.now_ms();
  auto env = event::build(ev);
  if (!env) return http::failure(env.error(), c.req);
  const auto rec = event::to_record(*env);
  const topic_name topic{replay ? actor::kReplayTopic : actor::kDeadLetterTopic};
  auto at = bus_.append(topic, std::span<const bus::record>(&rec, 1));
  if (!at) return http::append_error(at.error(), c.req);
  const topic_partition tp{topic, (*at)[0].partition};
  c.wrote(tp, (*at)[0].off);
  metrics::registry::global()
      .get_counter(replay ? "nf_deadletters_replay_requests_total" : "nf_deadletters_discarded_total",
                   replay ? "Dead letter replays requested" : "Dead letters discarded", {{"actor", a.actor()}})
      .inc();
  // The next action on it (here) sees this one.
  (void)feed_.wait_applied(tp, (*at)[0].off, std::chrono::milliseconds(5'000));
  auto after = view_.get(id);
  json out = after && *after ? std::move(**after) : doc;
  return http::json_response(replay ? status::accepted : status::ok, out, c.req);
}

}  // namespace nf::deadletters
