// Missions projection: folds prompts, lifecycle, artifacts and validations into documents.
#include "projections/missions/missions.h"

#include <cstdio>

#include <google/protobuf/util/time_util.h>

#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/projection/rejected.h"

namespace nf::missions {
namespace {

using json = nlohmann::json;

std::string inverted(std::int64_t created_ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(INT64_MAX - created_ms));
  return buf;
}

result<json> load(::nf::projection::state_writer& w, const std::string& key) {
  NF_TRY_ASSIGN(auto cur, w.get(key));
  if (!cur) return json::object();
  auto j = json::parse(*cur, nullptr, false);
  if (j.is_discarded()) return error{errc::corruption, "stored document '" + key + "' is not JSON"};
  return j;
}

// Stores the full document under m/<id> and, once the prompt is known, the public form (what
// GET /missions/{id} returns) under v/<id>, so reads need no JSON work.
result<void> save_mission(::nf::projection::state_writer& w, const std::string& key, const json& doc) {
  NF_TRY(w.put(key, doc.dump()));
  if (!doc.contains("prompt")) return ok();
  json pub = doc;
  pub.erase("bodySha256");
  return w.put("v/" + key.substr(2), pub.dump());
}

const std::map<std::string, std::string>& lifecycle_status() {
  static const std::map<std::string, std::string> m{{"mission.accepted", "accepted"},
                                                     {"mission.started", "in_progress"},
                                                     {"mission.validated", "validated"},
                                                     {"mission.failed", "failed"}};
  return m;
}

// The first of `fields` that is missing or empty in `payload` (proto3 renders a missing string as
// "" and a missing enum as its *_UNSPECIFIED value).
std::optional<std::string> missing_field(const json& payload, std::initializer_list<const char*> fields) {
  for (const char* f : fields) {
    auto it = payload.find(f);
    if (it == payload.end() || it->is_null()) return std::string(f);
    if (it->is_string() && (it->get<std::string>().empty() || it->get<std::string>().ends_with("_UNSPECIFIED"))) return std::string(f);
  }
  return std::nullopt;
}

// An event this read model cannot fold is kept, with the reason, under r/<topic>/<partition>/<offset>
// (never folded with empty fields, never skipped in silence), logged and counted.
result<void> reject(::nf::projection::state_writer& w, const bus::message& m, const std::string& type, const std::string& event_id,
                    const std::string& reason) {
  return ::nf::projection::keep_rejected(w, "missions", "r/", m, type, event_id, reason);
}

}  // namespace

result<void> missions_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  auto env_r = event::from_message(m);
  if (!env_r) return std::move(env_r).error();
  const auto& env = *env_r;
  NF_TRY_ASSIGN(auto payload, event::payload_json(env));
  const auto id = event::event_id::from_raw(env.id());
  const std::string event_id = id ? id->to_string() : std::string();
  const std::string& type = env.type();
  const json position = {{"topic", m.topic.get()}, {"partition", m.partition.get()}, {"offset", m.off.get()}};

  if (type == "mission.prompted") {
    if (auto f = missing_field(payload, {"id", "objective", "priority", "originatingSpec"}))
      return reject(w, m, type, event_id, "the prompt has no '" + *f + "'");
    const std::string mid = payload.value("id", std::string());
    const std::string key = "m/" + mid;
    NF_TRY_ASSIGN(auto doc, load(w, key));
    if (doc.contains("prompt")) return ok();  // the first prompt for an id wins; later ones are replays
    doc["id"] = mid;
    doc["objective"] = payload.value("objective", "");
    doc["priority"] = payload.value("priority", "");
    doc["originatingSpec"] = payload.value("originatingSpec", "");
    doc["createdAt"] = payload.value("createdAt", "");
    doc["tenantId"] = env.tenant_id();
    doc["prompt"] = position;
    doc["prompt"]["id"] = event_id;
    auto hit = env.headers().find("nf-body-sha256");
    if (hit != env.headers().end()) doc["bodySha256"] = hit->second;
    if (!doc.contains("status")) doc["status"] = "prompted";
    if (!doc.contains("history")) doc["history"] = json::array();
    doc["history"].insert(doc["history"].begin(), json{{"status", "prompted"}, {"at", env.occurred_at()}, {"eventId", event_id}});
    if (!doc.contains("artifacts")) doc["artifacts"] = json::object();
    doc["updatedAt"] = std::max(doc.value("updatedAt", std::int64_t{0}), env.occurred_at());
    doc["promptedAt"] = env.occurred_at();
    // Newest first means by the mission's createdAt; the append time breaks nothing if it is absent.
    std::int64_t created_ms = env.occurred_at();
    google::protobuf::Timestamp ts;
    if (google::protobuf::util::TimeUtil::FromString(payload.value("createdAt", ""), &ts))
      created_ms = google::protobuf::util::TimeUtil::TimestampToMilliseconds(ts);
    NF_TRY(w.put("c/" + inverted(created_ms) + "/" + mid, ""));
    NF_TRY(w.put("ct/" + env.tenant_id() + "/" + inverted(created_ms) + "/" + mid, ""));
    NF_TRY(w.put("o/" + mid, env.tenant_id()));
    return save_mission(w, key, doc);
  }

  if (auto st = lifecycle_status().find(type); st != lifecycle_status().end()) {
    if (auto f = missing_field(payload, {"missionId"})) return reject(w, m, type, event_id, "the status change has no '" + *f + "'");
    const std::string mid = payload.value("missionId", std::string());
    const std::string key = "m/" + mid;
    NF_TRY_ASSIGN(auto doc, load(w, key));
    if (!doc.contains("history")) doc["history"] = json::array();
    for (const auto& h : doc["history"])
      if (h.value("eventId", "") == event_id) return ok();  // duplicate from an actor restart
    doc["id"] = mid;
    doc["status"] = st->second;
    doc["history"].push_back({{"status", st->second}, {"at", env.occurred_at()}, {"eventId", event_id}});
    doc["updatedAt"] = std::max(doc.value("updatedAt", std::int64_t{0}), env.occurred_at());
    if (!doc.contains("artifacts")) doc["artifacts"] = json::object();
    return save_mission(w, key, doc);
  }

  if (type == "mission.artifact_recorded") {
    if (auto f = missing_field(payload, {"missionId", "artifactId", "type", "uri", "checksum", "reviewer"}))
      return reject(w, m, type, event_id, "the artifact has no '" + *f + "'");
    const std::string mid = payload.value("missionId", std::string());
    const std::string aid = payload.value("artifactId", std::string());
    const std::string key = "m/" + mid;
    NF_TRY_ASSIGN(auto doc, load(w, key));
    doc["id"] = mid;
    if (!doc.contains("artifacts")) doc["artifacts"] = json::object();
    auto& a = doc["artifacts"][aid];
    const json latest = a.contains("latestValidation") ? a["latestValidation"] : json(nullptr);
    a = payload;
    a["recordedAt"] = env.occurred_at();
    a["latestValidation"] = latest;
    a["position"] = position;
    doc["updatedAt"] = std::max(doc.value("updatedAt", std::int64_t{0}), env.occurred_at());
    NF_TRY(w.put("a/" + mid + "/" + aid, ""));
    return save_mission(w, key, doc);
  }

  if (type == "mission.validation_reported") {
    const std::string aid = payload.value("artifactId", std::string());
    const std::string mid = env.key();  // validations are keyed by mission
    if (mid.empty()) return reject(w, m, type, event_id, "the validation has no key (its mission id)");
    if (auto f = missing_field(payload, {"reportId", "artifactId", "suite", "result"}))
      return reject(w, m, type, event_id, "the validation has no '" + *f + "'");
    const std::string key = "m/" + mid;
    NF_TRY_ASSIGN(auto doc, load(w, key));
    doc["id"] = mid;
    if (!doc.contains("artifacts")) doc["artifacts"] = json::object();
    auto& a = doc["artifacts"][aid];
    a["latestValidation"] = payload;
    a["latestValidation"]["position"] = position;
    doc["updatedAt"] = std::max(doc.value("updatedAt", std::int64_t{0}), env.occurred_at());
    return save_mission(w, key, doc);
  }

  if (type == "agent.spawned" || type == "agent.escalated" || type == "agent.retired") {
    if (auto f = missing_field(payload, {"agentId", "lifecycle"})) return reject(w, m, type, event_id, "the agent event has no '" + *f + "'");
    const std::string agent = payload.value("agentId", std::string());
    const std::string key = "g/" + env.tenant_id() + "/" + agent;
    NF_TRY_ASSIGN(auto doc, load(w, key));
    doc["agentId"] = agent;
    doc["tenantId"] = env.tenant_id();
    doc["lifecycle"] = payload.value("lifecycle", "");
    doc["capabilityProfile"] = payload.value("capabilityProfile", "");
    doc["energyBudget"] = payload.value("energyBudget", 0.0);
    doc["updatedAt"] = env.occurred_at();
    if (!doc.contains("since")) doc["since"] = env.occurred_at();
    return w.put(key, doc.dump());
  }
  return ok();  // other event types on these topics are not part of this read model
}

result<std::vector<json>> missions_view::rejected(std::size_t limit) const { return ::nf::projection::read_rejected(store_, proj_, "r/", limit); }

result<std::optional<std::string>> missions_view::get_public(const std::string& mission_id) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  return r->get("v/" + mission_id);
}

result<std::optional<missions_view::owned_doc>> missions_view::get_public_owned(const std::string& mission_id) const {
  // Both keys from one consistent view, without a snapshot: the hot path of GET /missions/{id}.
  const std::string keys[] = {"v/" + mission_id, "o/" + mission_id};
  NF_TRY_ASSIGN(auto got, store_.get_many(proj_, keys));
  if (!got[0]) return std::optional<owned_doc>();
  return std::optional<owned_doc>(owned_doc{got[1].value_or(std::string()), std::move(*got[0])});
}

result<std::optional<json>> missions_view::get(const std::string& mission_id) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  NF_TRY_ASSIGN(auto v, r->get("m/" + mission_id));
  if (!v) return std::optional<json>{};
  auto doc = json::parse(*v, nullptr, false);
  if (doc.is_discarded()) return error{errc::corruption, "stored mission '" + mission_id + "' is not JSON"};
  if (!doc.contains("prompt")) return std::optional<json>{};  // lifecycle seen before its prompt: not visible yet
  return std::optional<json>{std::move(doc)};
}

result<mission_page> missions_view::list(const mission_filter& f) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  mission_page page;
  std::string last;
  bool more = false;
  std::optional<error> failure;
  const std::string prefix = f.tenant ? "ct/" + *f.tenant + "/" : std::string("c/");
  if (!f.cursor.empty() && f.cursor.rfind(prefix, 0) != 0) return error{errc::invalid_argument, "the cursor belongs to another listing"};
  NF_TRY(r->scan(prefix, [&](std::string_view k, std::string_view) {
    if (!f.cursor.empty() && std::string(k) <= f.cursor) return true;
    const std::string id(k.substr(k.rfind('/') + 1));
    auto v = r->get("m/" + id);
    if (!v) {
      failure = v.error();
      return false;
    }
    if (!*v) return true;
    auto doc = json::parse(**v, nullptr, false);
    if (doc.is_discarded()) return true;
    if (f.status && doc.value("status", "") != *f.status) return true;
    if (f.priority && doc.value("priority", "") != *f.priority) return true;
    if (page.items.size() == f.limit) {
      more = true;
      return false;
    }
    page.items.push_back(std::move(doc));
    last = std::string(k);
    return true;
  }));
  if (failure) return *failure;
  if (more) page.next_cursor = last;
  return page;
}

result<std::optional<std::string>> missions_view::owner(const std::string& mission_id) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  return r->get("o/" + mission_id);
}

result<std::vector<json>> missions_view::live_agents(const std::optional<std::string>& tenant) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  NF_TRY(r->scan(tenant ? "g/" + *tenant + "/" : std::string("g/"), [&](std::string_view, std::string_view v) {
    auto doc = json::parse(v, nullptr, false);
    if (!doc.is_discarded() && doc.value("lifecycle", "") != "retired") out.push_back(std::move(doc));
    return true;
  }));
  return out;
}

}  // namespace nf::missions
