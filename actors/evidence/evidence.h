// evidence: appends every artifact, validation and vault record to the evidence ledger, once,
// and signs tree heads over it. The ledger has one writer at a time, on any number of instances:
//   evidence_intake (every instance, inputs split by the group) turns each input into an
//     evidence.record_requested record (a LedgerLeaf without its index) on commands.evidence;
//   evidence (one partition in, so one owner in its group) appends the leaves and heads, fenced
//     by core/command/owner.h: it claims evidence.ledger before writing, and a deposed owner's
//     late writes are refused by every reader. After each new claim it rebuilds its state from
//     the ledger up to the claim.
//
// In:  mission.artifacts, mission.validations, evidence.records (vault uploads), and the topics
//      listed in ledger.topics (through commands.evidence).
// Out: evidence.ledger (one partition):
//      evidence.leaf_appended  LedgerLeaf {index, data = canonical envelope bytes, eventId,
//                              missionId, artifactId, eventType, sourceTopic/Partition/Offset}
//      evidence.tree_head      TreeHead {treeSize, rootHash, timestampMs, signature, keyId}
// Indices are consecutive in handling order; an event id seen before gets no second leaf, so
// replays and restarts do not grow the tree. A head is signed after `head_every_leaves` new
// leaves, or at the next tick (every `head_every`) when unsigned leaves wait. Before signing,
// the new tree is proved consistent with the last head: a consistency proof built from the
// frontier at that head and the leaves since must verify against both roots.
// The state is rebuilt from evidence.ledger itself (its own output) after each claim: inputs
// handled again after a crash find their leaves already there, and the heads found are checked
// against the recomputed tree. A ledger that does not add up stops the actor with the reason.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <functional>
#include <vector>

#include "core/actor/actor.h"
#include "core/command/owner.h"
#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"

namespace nf::events {
class TreeHead;
}

namespace nf::evidence {

inline constexpr const char* kLedgerTopic = "evidence.ledger";
inline constexpr const char* kRecordsTopic = "evidence.records";
inline constexpr const char* kLeafAppended = "evidence.leaf_appended";
inline constexpr const char* kTreeHead = "evidence.tree_head";
inline constexpr const char* kRecordSubmitted = "evidence.record_submitted";
inline constexpr const char* kCommandsTopic = "commands.evidence";
inline constexpr const char* kRecordRequested = "evidence.record_requested";

// What the actor keeps is bounded whatever the ledger's length: a frontier of O(log n) hashes and
// the leaves since the last head. Which events have a leaf is the ledger read model's index
// (options::in_ledger), not a set in memory.
struct state {
  std::uint64_t next_index = 0;
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
  bool readable_by_all = false;  // the event carries nf-public: true
};

struct leaf {
  std::uint64_t index;
  input recorded;
};

// `in_ledger`: the event already has a leaf. An event without an id is never a leaf.
std::optional<leaf> decide(const state& s, const input& in, bool in_ledger);
// Appends the decided (or, rebuilding, the read) leaf.
state evolve(state s, const input& in);
result<input> decode(const bus::message& m);

// The next head (unsigned) over the current tree, after checking it extends the last head.
// not_found when no leaf waits for a head.
result<merkle::tree_head> next_head(const state& s, std::int64_t now_ms);
state with_head(state s, const merkle::tree_head& h);
// The TreeHead payload of a signed head (`h.signature` set), signed with the key `key_id`.
void fill_tree_head(events::TreeHead& out, const merkle::tree_head& h, const merkle::hash& key_id);

struct options {
  std::shared_ptr<const merkle::signer> signer;  // null: leaves only, no heads
  std::uint64_t head_every_leaves = 1000;
  std::chrono::milliseconds head_every{1000};
  std::vector<std::string> extra_topics;
  std::string region = "local";
  command::single_writer* writer = nullptr;      // required: the ledger's fenced writer
  bus::event_bus* bus = nullptr;                 // required: the ledger is read back after a claim
  // Required: whether an event id has a leaf. Exact when it reads the ledger read model that
  // `writer` waits for (prepare() returns once it has applied every ledger record).
  std::function<result<bool>(const std::string& event_id)> in_ledger;
};

// The topics whose events become leaves.
std::vector<std::string> input_topics(const std::vector<std::string>& extra_topics);

class intake final : public ::nf::actor::actor {
 public:
  explicit intake(std::vector<std::string> extra_topics = {}) : extra_(std::move(extra_topics)) {}
  std::string name() const override { return "evidence_intake"; }
  std::vector<std::string> subscriptions() const override { return input_topics(extra_); }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;

 private:
  std::vector<std::string> extra_;
};

class actor final : public ::nf::actor::actor {
 public:
  explicit actor(options o) : opts_(std::move(o)) {}
  std::string name() const override { return "evidence"; }
  std::vector<std::string> subscriptions() const override { return {kCommandsTopic}; }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;
  // Folds one ledger record into the state (claims skipped, a deposed owner's records refused).
  void recover(const bus::message& m) override;
  std::chrono::milliseconds tick_period() const override;
  result<void> tick(::nf::actor::context& ctx) override;
  const state& current() const { return state_; }
  // Ledger records read back into the state since the actor started.
  std::uint64_t recovered() const { return recovered_; }

 private:
  result<void> emit_head(::nf::actor::context& ctx, std::int64_t epoch, bool from_tick);
  // Rebuilds the state from the ledger's records up to and including offset `upto` (a claim).
  result<void> rebuild(std::int64_t upto);

  options opts_;
  state state_;
  std::optional<error> recovery_error_;
  std::optional<std::int64_t> claim_seen_;       // while folding: the ledger's latest claim
  std::optional<std::int64_t> built_for_;        // the claim the state was rebuilt under
  std::uint64_t recovered_ = 0;
};

}  // namespace nf::evidence
