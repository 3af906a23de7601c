#include "projections/deadletters/deadletters.h"

#include <algorithm>
#include <set>

#include "core/actor/actor.h"
#include "core/base/rfc3339.h"
#include "core/event/codec.h"
#include "core/event/ids.h"

namespace nf::deadletters {

namespace {

using json = nlohmann::json;

std::string id_text(const std::string& raw) {
  auto id = event::event_id::from_raw(raw);
  return id ? id->to_string() : std::string();
}

json parse_doc(std::string_view v, const std::string& id) {
  auto j = json::parse(v, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return json{{"id", id}, {"status", "damaged"}};
  return j;
}

// Discarded, or replayed, are final; else a request without its outcome is pending; else the
// last replay failed; else it is parked.
std::string status_of(const json& history) {
  bool discarded = false, replayed = false, failed = false;
  std::set<std::string> requests, answered;
  for (const auto& h : history) {
    const auto action = h.value("action", "");
    if (action == actor::kDiscarded) discarded = true;
    else if (action == actor::kReplayRequested) requests.insert(h.value("eventId", ""));
    else if (action == actor::kReplayed || action == actor::kReplayFailed) {
      answered.insert(h.value("request", ""));
      (action == actor::kReplayed ? replayed : failed) = true;
    }
  }
  if (discarded) return kDiscardedStatus;
  if (replayed) return kReplayedStatus;
  for (const auto& r : requests)
    if (!answered.count(r)) return kReplayRequestedStatus;
  return failed ? kReplayFailedStatus : kParked;
}

}  // namespace

std::vector<std::string> deadletters_projection::topics() const { return {actor::kDeadLetterTopic, actor::kReplayTopic}; }

result<void> deadletters_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  auto env = event::from_message(m);
  // Not an envelope: nothing this read model can show (the topics are written by the platform).
  if (!env) return ok();
  const auto& type = env->type();
  if (type == actor::kDeadLetterType) {
    events::DeadLetter dl;
    if (!env->payload().UnpackTo(&dl)) return ok();
    const std::string id = id_text(env->id());
    if (id.empty()) return ok();
    NF_TRY_ASSIGN(auto known, w.get("d/" + id));
    if (known) return ok();  // the same dead letter appended again (ids are derived): the first stands
    std::string original_type;
    events::Envelope original;
    if (original.ParseFromString(dl.original())) original_type = original.type();
    json doc{{"id", id},
             {"actor", dl.actor()},
             {"status", kParked},
             {"tenant", env->tenant_id()},
             {"type", original_type},
             {"key", dl.original_key()},
             {"source", {{"topic", dl.source_topic()}, {"partition", dl.source_partition()}, {"offset", dl.source_offset()}}},
             {"error", dl.error()},
             {"attempts", dl.attempts()},
             {"parkedAt", format_rfc3339(env->occurred_at())},
             {"parkedAtMs", env->occurred_at()},
             {"position", {{"partition", m.partition.get()}, {"offset", m.off.get()}}},
             {"history", json::array()}};
    NF_TRY(w.put("d/" + id, doc.dump()));
    return w.put("p/" + id, dl.SerializeAsString());
  }
  if (type != actor::kReplayRequested && type != actor::kReplayed && type != actor::kReplayFailed && type != actor::kDiscarded) return ok();
  events::DeadLetterAction a;
  if (!env->payload().UnpackTo(&a)) return ok();
  const std::string key = "d/" + a.dead_letter_id();
  NF_TRY_ASSIGN(auto known, w.get(key));
  if (!known) return ok();  // an action on a dead letter this read model never saw
  json doc = parse_doc(*known, a.dead_letter_id());
  const std::string action_id = id_text(env->id());
  auto& history = doc["history"];
  if (!history.is_array()) history = json::array();
  // The same action read twice (its id is derived, so an append repeated after a crash is too).
  for (const auto& h : history)
    if (h.value("eventId", "") == action_id) return ok();
  json h{{"action", type}, {"at", format_rfc3339(env->occurred_at())}, {"by", a.by()}, {"reason", a.reason()}, {"eventId", action_id}};
  // An outcome names the request it answers: requests and outcomes are on two topics, folded in
  // no particular order between them, so the status is worked out from the whole history.
  if (type == actor::kReplayed || type == actor::kReplayFailed) h["request"] = id_text(env->causation_id());
  history.push_back(std::move(h));
  doc["status"] = status_of(history);
  if (type == actor::kReplayFailed) doc["error"] = a.reason();
  return w.put(key, doc.dump());
}

result<std::optional<nlohmann::json>> deadletters_view::get(const std::string& id) const {
  const std::string key = "d/" + id;
  NF_TRY_ASSIGN(auto v, store_.get_many(proj_, std::span<const std::string>(&key, 1)));
  if (!v[0]) return std::optional<json>();
  return std::optional<json>(parse_doc(*v[0], id));
}

result<std::vector<nlohmann::json>> deadletters_view::list(const filter& f) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<json> out;
  NF_TRY(r->scan("d/", [&](std::string_view k, std::string_view v) {
    json d = parse_doc(v, std::string(k.substr(2)));
    if (f.actor && d.value("actor", "") != *f.actor) return true;
    if (f.status && d.value("status", "") != *f.status) return true;
    if (f.tenant && d.value("tenant", "") != *f.tenant) return true;
    out.push_back(std::move(d));
    return true;
  }));
  std::sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a.value("parkedAtMs", std::int64_t{0}) > b.value("parkedAtMs", std::int64_t{0});
  });
  if (out.size() > f.limit) out.resize(f.limit);
  return out;
}

result<std::optional<events::DeadLetter>> deadletters_view::parked(const std::string& id) const {
  const std::string key = "p/" + id;
  NF_TRY_ASSIGN(auto v, store_.get_many(proj_, std::span<const std::string>(&key, 1)));
  if (!v[0]) return std::optional<events::DeadLetter>();
  events::DeadLetter dl;
  if (!dl.ParseFromString(*v[0])) return error{errc::corruption, "the parked event of dead letter '" + id + "' is damaged"};
  return std::optional<events::DeadLetter>(std::move(dl));
}

}  // namespace nf::deadletters
