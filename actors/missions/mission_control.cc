// mission_control: decide/evolve and the actor shell around them.
#include "actors/missions/mission_control.h"

#include "missions.pb.h"

#include <algorithm>

#include "core/event/codec.h"

namespace nf::mission_control {
namespace {

std::string status_from_reports(const mission_state& m) {
  bool all_pass = !m.latest.empty();
  for (const auto& [a, r] : m.latest) {
    if (r == "fail") return "failed";
    if (r != "pass") all_pass = false;
  }
  return all_pass ? "validated" : "in_progress";
}

}  // namespace

std::vector<transition> decide(const state& s, const input& in) {
  return std::visit(
      [&](const auto& ev) -> std::vector<transition> {
        using T = std::decay_t<decltype(ev)>;
        auto it = s.missions.find(ev.mission_id);
        if constexpr (std::is_same_v<T, prompted>) {
          if (it != s.missions.end()) return {};  // a replayed prompt: already accepted
          std::vector<transition> out{{"mission.accepted", ev.mission_id, "accepted", "prompted", ev.priority}};
          if (s.early_artifacts.count(ev.mission_id))
            out.push_back({"mission.started", ev.mission_id, "in_progress", "accepted", ev.priority});
          return out;
        } else if constexpr (std::is_same_v<T, artifact_recorded>) {
          if (it == s.missions.end() || it->second.status != "accepted") return {};
          return {{"mission.started", ev.mission_id, "in_progress", "accepted", it->second.priority}};
        } else {
          if (it == s.missions.end() || !it->second.latest.count(ev.artifact_id)) return {};
          mission_state next = it->second;
          next.latest[ev.artifact_id] = ev.result;
          const auto status = status_from_reports(next);
          if (status == it->second.status || status == "in_progress") return {};
          return {{status == "validated" ? "mission.validated" : "mission.failed", ev.mission_id, status, it->second.status,
                   it->second.priority}};
        }
      },
      in);
}

state evolve(state s, const input& in) {
  std::visit(
      [&](const auto& ev) {
        using T = std::decay_t<decltype(ev)>;
        if constexpr (std::is_same_v<T, prompted>) {
          if (s.missions.count(ev.mission_id)) return;
          auto& m = s.missions[ev.mission_id] = mission_state{"accepted", ev.priority, {}};
          if (auto early = s.early_artifacts.find(ev.mission_id); early != s.early_artifacts.end()) {
            for (const auto& a : early->second) m.latest.try_emplace(a, "");
            m.status = "in_progress";
            s.early_artifacts.erase(early);
          }
        } else if constexpr (std::is_same_v<T, artifact_recorded>) {
          auto it = s.missions.find(ev.mission_id);
          if (it == s.missions.end()) {
            auto& early = s.early_artifacts[ev.mission_id];
            if (std::find(early.begin(), early.end(), ev.artifact_id) == early.end()) early.push_back(ev.artifact_id);
            return;
          }
          it->second.latest.try_emplace(ev.artifact_id, "");
          if (it->second.status == "accepted") it->second.status = "in_progress";
        } else {
          auto it = s.missions.find(ev.mission_id);
          if (it == s.missions.end() || !it->second.latest.count(ev.artifact_id)) return;
          it->second.latest[ev.artifact_id] = ev.result;
          const auto status = status_from_reports(it->second);
          if (status != "in_progress") it->second.status = status;
        }
      },
      in);
  return s;
}

result<std::optional<input>> decode(const bus::message& m) {
  NF_TRY_ASSIGN(auto env, event::from_message(m));
  if (env.type() != "mission.prompted" && env.type() != "mission.artifact_recorded" &&
      env.type() != "mission.validation_reported")
    return std::optional<input>{};
  const auto where = env.type() + " at " + to_string(topic_partition{m.topic, m.partition}) + "@" + std::to_string(m.off.get());
  // A field the decision needs is never taken as "": the event is refused (and dead-lettered).
  auto need = [&](const std::string& v, const char* f) -> result<std::string> {
    if (v.empty() || v.ends_with("_UNSPECIFIED")) return error{errc::invalid_argument, where + " has no '" + f + "'"};
    return v;
  };
  auto unpack = [&](google::protobuf::Message& msg) -> result<void> {
    if (!env.payload().UnpackTo(&msg)) return error{errc::invalid_argument, where + " does not carry a " + msg.GetTypeName()};
    return ok();
  };
  if (env.type() == "mission.prompted") {
    events::MissionPrompt p;
    NF_TRY(unpack(p));
    NF_TRY_ASSIGN(auto id, need(p.id(), "id"));
    NF_TRY_ASSIGN(auto priority, need(events::Priority_Name(p.priority()), "priority"));
    return std::optional<input>{prompted{std::move(id), std::move(priority)}};
  }
  if (env.type() == "mission.artifact_recorded") {
    events::ArtifactEvidence a;
    NF_TRY(unpack(a));
    NF_TRY_ASSIGN(auto mission, need(a.mission_id(), "missionId"));
    NF_TRY_ASSIGN(auto artifact, need(a.artifact_id(), "artifactId"));
    return std::optional<input>{artifact_recorded{std::move(mission), std::move(artifact)}};
  }
  if (env.key().empty()) return error{errc::invalid_argument, "mission.validation_reported without a key (its mission id)"};
  events::ValidationReport v;
  NF_TRY(unpack(v));
  NF_TRY_ASSIGN(auto artifact, need(v.artifact_id(), "artifactId"));
  NF_TRY_ASSIGN(auto result_value, need(events::ValidationResult_Name(v.result()), "result"));
  return std::optional<input>{validation_reported{env.key(), std::move(artifact), std::move(result_value)}};
}

std::vector<std::string> actor::subscriptions() const {
  return {"mission.prompts", "mission.artifacts", "mission.validations"};
}

result<void> actor::handle(const bus::message& m, ::nf::actor::context& ctx) {
  NF_TRY_ASSIGN(auto in, decode(m));
  if (!in) return ok();
  for (const auto& t : decide(state_, *in)) {
    event::new_event ev;
    ev.type = t.type;
    ev.key = t.mission_id;
    events::MissionStatusChanged changed;
    changed.set_mission_id(t.mission_id);
    events::MissionStatus status{}, previous{};
    events::Priority priority{};
    // Values decide() produced; one it could not name is UNSPECIFIED, which readers refuse.
    if (events::MissionStatus_Parse(t.status, &status)) changed.set_status(status);
    if (events::MissionStatus_Parse(t.previous, &previous)) changed.set_previous_status(previous);
    if (events::Priority_Parse(t.priority, &priority)) changed.set_priority(priority);
    ev.message = &changed;
    NF_TRY(ctx.emit(topic_name{"mission.lifecycle"}, ev));
  }
  state_ = evolve(std::move(state_), *in);
  return ok();
}

void actor::recover(const bus::message& m) {
  // An event handle() refused was dead-lettered then; the state leaves it out again.
  auto in = decode(m);
  if (in && *in) state_ = evolve(std::move(state_), **in);
}

int actor::priority(const bus::message& m) const {
  if (m.topic.get() != "mission.prompts") return 0;
  auto in = decode(m);
  if (!in || !*in) return 0;
  const auto& p = std::get<prompted>(**in).priority;
  return p == "P0" ? 3 : p == "P1" ? 2 : p == "P2" ? 1 : 0;
}

void actor::on_restart() {
  // State only ever reflects handled messages: the failed one never reached evolve().
}

}  // namespace nf::mission_control
