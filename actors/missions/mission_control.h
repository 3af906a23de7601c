// mission_control: drives each mission through prompted -> accepted -> in_progress ->
// validated | failed, emitting one event per transition on mission.lifecycle.
//
// In:  mission.prompts (mission.prompted), mission.artifacts (mission.artifact_recorded),
//      mission.validations (mission.validation_reported); all keyed by mission id.
// Out: mission.lifecycle: mission.accepted, mission.started, mission.validated, mission.failed,
//      payload {"missionId","status","previousStatus","priority"}; ids derived from the cause.
// Scheduling: prompts waiting in the mailbox are taken P0 first, then P1, then P2.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/actor/actor.h"

namespace nf::mission_control {

// ---- pure decision logic ----

struct mission_state {
  std::string status;                           // prompted | accepted | in_progress | validated | failed
  std::string priority;
  std::map<std::string, std::string> latest;    // artifact id -> "" (no report) | pass | fail
};

struct state {
  std::map<std::string, mission_state> missions;
  // Artifacts read before their mission's prompt (partitions are read independently).
  std::map<std::string, std::vector<std::string>> early_artifacts;
};

struct prompted {
  std::string mission_id;
  std::string priority;
};
struct artifact_recorded {
  std::string mission_id;
  std::string artifact_id;
};
struct validation_reported {
  std::string mission_id;
  std::string artifact_id;
  std::string result;                           // pass | fail
};
using input = std::variant<prompted, artifact_recorded, validation_reported>;

struct transition {
  std::string type;                             // mission.accepted, ...
  std::string mission_id;
  std::string status;
  std::string previous;
  std::string priority;
};

// What happens when `in` arrives in state `s`: the transitions to announce (possibly none).
std::vector<transition> decide(const state& s, const input& in);
// The state after `in` (the same fold whether or not its transitions were emitted).
state evolve(state s, const input& in);

// Decodes a bus message into an input, or nullopt for events this actor does not act on.
result<std::optional<input>> decode(const bus::message& m);

// ---- the actor ----

class actor final : public ::nf::actor::actor {
 public:
  std::string name() const override { return "mission_control"; }
  std::vector<std::string> subscriptions() const override;
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;
  void recover(const bus::message& m) override;
  bool wants_recovery() const override { return true; }
  int priority(const bus::message& m) const override;
  void on_restart() override;

  const state& current() const { return state_; }

 private:
  state state_;
};

}  // namespace nf::mission_control
