// evidence: pure decide/evolve and the actor shell.
#include "actors/evidence/evidence.h"

#include <nlohmann/json.hpp>

#include "core/base/base64.h"
#include "core/event/codec.h"

namespace nf::evidence {

std::optional<leaf> decide(const state& s, const input& in) {
  if (in.event_id.empty() || s.recorded.count(in.event_id)) return std::nullopt;
  return leaf{s.next_index, in.data, in.event_id, in.mission_id, in.artifact_id};
}

state evolve(state s, const input& in) {
  if (!in.event_id.empty() && s.recorded.insert(in.event_id).second) ++s.next_index;
  return s;
}

state evolve_from_leaf(state s, const std::string& event_id) {
  if (!event_id.empty() && s.recorded.insert(event_id).second) ++s.next_index;
  return s;
}

result<input> decode(const bus::message& m) {
  NF_TRY_ASSIGN(auto env, event::from_message(m));
  auto id = event::event_id::from_raw(env.id());
  if (!id) return error{errc::corruption, "event without a 16-byte id at " + to_string(topic_partition{m.topic, m.partition}) + "@" +
                                              std::to_string(m.off.get())};
  input in{id->to_string(), event::canonical_bytes(env), env.key(), {}};
  auto payload = event::payload_json(env);
  if (payload) in.artifact_id = payload->value("artifactId", "");
  return in;
}

result<void> actor::handle(const bus::message& m, ::nf::actor::context& ctx) {
  NF_TRY_ASSIGN(auto in, decode(m));
  if (auto l = decide(state_, in)) {
    event::new_event ev;
    ev.type = "evidence.leaf_appended";
    ev.key = "ledger";
    ev.payload_json = nlohmann::json{{"index", l->index},
                                     {"data", to_base64(l->data)},
                                     {"eventId", l->event_id},
                                     {"missionId", l->mission_id},
                                     {"artifactId", l->artifact_id}}
                          .dump();
    NF_TRY(ctx.emit(kLedgerTopic, ev));
  }
  state_ = evolve(std::move(state_), in);
  return ok();
}

void actor::recover(const bus::message& m) {
  auto env = event::from_message(m);
  if (!env || env->type() != "evidence.leaf_appended") return;
  auto payload = event::payload_json(*env);
  if (payload) state_ = evolve_from_leaf(std::move(state_), payload->value("eventId", ""));
}

}  // namespace nf::evidence
