// evidence: appends every artifact and validation event to the evidence ledger, once.
//
// In:  mission.artifacts (mission.artifact_recorded), mission.validations (mission.validation_reported).
// Out: evidence.ledger (one partition): evidence.leaf_appended, payload LedgerLeaf
//      {index, data = canonical envelope bytes, eventId, missionId, artifactId}; ids derived from the input.
// Indices are consecutive in handling order; an event id seen before gets no second leaf, so
// replays and restarts do not grow the tree. The state is rebuilt at start from evidence.ledger
// itself (its own output), so inputs handled again after a crash, in whatever order, find
// their leaves already there instead of taking new indices.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/actor/actor.h"

namespace nf::evidence {

inline constexpr const char* kLedgerTopic = "evidence.ledger";

struct state {
  std::uint64_t next_index = 0;
  std::set<std::string> recorded;   // event ids already in the ledger
};

struct leaf {
  std::uint64_t index;
  std::string data;
  std::string event_id;
  std::string mission_id;
  std::string artifact_id;
};

struct input {
  std::string event_id;
  std::string data;        // canonical envelope bytes
  std::string mission_id;
  std::string artifact_id;
};

std::optional<leaf> decide(const state& s, const input& in);
state evolve(state s, const input& in);
// The same fold from an evidence.leaf_appended event (recovery from the ledger topic).
state evolve_from_leaf(state s, const std::string& event_id);
result<input> decode(const bus::message& m);

class actor final : public ::nf::actor::actor {
 public:
  std::string name() const override { return "evidence"; }
  std::vector<std::string> subscriptions() const override { return {"mission.artifacts", "mission.validations"}; }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;
  bool wants_recovery() const override { return true; }
  std::vector<std::string> recovery_topics() const override { return {kLedgerTopic}; }
  void recover(const bus::message& m) override;
  const state& current() const { return state_; }

 private:
  state state_;
};

}  // namespace nf::evidence
