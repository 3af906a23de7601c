// evidence: appends every artifact, validation and vault record to the evidence ledger, once,
// and signs tree heads over it.
//
// In:  mission.artifacts, mission.validations, evidence.records (vault uploads), and the topics
//      listed in ledger.topics.
// Out: evidence.ledger (one partition):
//      evidence.leaf_appended  LedgerLeaf {index, data = canonical envelope bytes, eventId,
//                              missionId, artifactId, eventType, sourceTopic/Partition/Offset}
//      evidence.tree_head      TreeHead {treeSize, rootHash, timestampMs, signature, keyId}
// Indices are consecutive in handling order; an event id seen before gets no second leaf, so
// replays and restarts do not grow the tree. A head is signed after `head_every_leaves` new
// leaves, or at the next tick (every `head_every`) when unsigned leaves wait. Before signing,
// the new tree is proved consistent with the last head: a consistency proof built from the
// frontier at that head and the leaves since must verify against both roots.
// The state is rebuilt at start from evidence.ledger itself (its own output): inputs handled again
// after a crash find their leaves already there, and the heads found are checked against the
// recomputed tree. A ledger that does not add up stops the actor with the reason.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/actor/actor.h"
#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"

namespace nf::evidence {

inline constexpr const char* kLedgerTopic = "evidence.ledger";
inline constexpr const char* kRecordsTopic = "evidence.records";
inline constexpr const char* kLeafAppended = "evidence.leaf_appended";
inline constexpr const char* kTreeHead = "evidence.tree_head";
inline constexpr const char* kRecordSubmitted = "evidence.record_submitted";

struct state {
  std::uint64_t next_index = 0;
  std::unordered_set<std::string> recorded;   // event ids already in the ledger
  merkle::frontier tree;                      // every leaf
  merkle::frontier at_head;                   // the tree as of the last head
  std::optional<merkle::tree_head> last_head;
  std::vector<merkle::hash> since_head;       // leaf hashes after the last head
};

struct input {
  std::string event_id;
  std::string data;        // canonical envelope bytes
  std::string mission_id;
  std::string artifact_id;
  std::string event_type;
  std::string source_topic;
  std::int32_t source_partition = 0;
  std::int64_t source_offset = 0;
};

struct leaf {
  std::uint64_t index;
  input recorded;
};

std::optional<leaf> decide(const state& s, const input& in);
state evolve(state s, const input& in);
result<input> decode(const bus::message& m);

// The next head (unsigned) over the current tree, after checking it extends the last head.
// not_found when no leaf waits for a head.
result<merkle::tree_head> next_head(const state& s, std::int64_t now_ms);
state with_head(state s, const merkle::tree_head& h);

struct options {
  std::shared_ptr<const merkle::signer> signer;  // null: leaves only, no heads
  std::uint64_t head_every_leaves = 1000;
  std::chrono::milliseconds head_every{1000};
  std::vector<std::string> extra_topics;
};

class actor final : public ::nf::actor::actor {
 public:
  explicit actor(options o = {}) : opts_(std::move(o)) {}
  std::string name() const override { return "evidence"; }
  std::vector<std::string> subscriptions() const override;
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;
  bool wants_recovery() const override { return true; }
  std::vector<std::string> recovery_topics() const override { return {kLedgerTopic}; }
  void recover(const bus::message& m) override;
  std::chrono::milliseconds tick_period() const override;
  result<void> tick(::nf::actor::context& ctx) override;
  const state& current() const { return state_; }

 private:
  result<void> emit_head(::nf::actor::context& ctx, bool from_tick);

  options opts_;
  state state_;
  std::optional<error> recovery_error_;
};

}  // namespace nf::evidence
