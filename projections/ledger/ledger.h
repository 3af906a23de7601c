// The evidence ledger read model: an RFC 6962 Merkle tree folded from evidence.ledger.
//
// In: evidence.ledger (one partition, so every replay builds the same tree):
//   evidence.leaf_appended  payload LedgerLeaf {index, data, eventId, missionId, artifactId, ...}
//   evidence.tree_head      payload TreeHead {treeSize, rootHash, timestampMs, signature, keyId}
// Keys: l/<index> -> the LedgerLeaf bytes; n/<level><index> -> 32-byte hash of a perfect subtree of
// 16+ leaves (level >= 4); b/<block> -> the 30 node hashes of levels 0..3 of a complete block of 16
// leaves; t/tail -> the leaf hashes of the incomplete last block;
// e/<event id> -> index (each event is one leaf at most); lh/<leaf hash> -> index of its latest leaf;
// s/size -> tree size;
// h/<size> -> TreeHead bytes; s/head -> size of the latest head;
// sm/<missionId>/<index>, sa/<artifactId>/<index> -> "" (search).
// Leaves must arrive with consecutive indices; a gap or a repeat of an index with other bytes
// is an error that stops the projection, and so is a head whose root is not the tree's root at
// its size (a corrupted log is reported, never repaired). Signatures are checked by readers
// that hold the public key (ledger verify, replay --verify).
#pragma once

#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"
#include "core/projection/projection.h"
#include "ledger.pb.h"

namespace nf::ledger {

inline constexpr const char* kLedgerTopic = "evidence.ledger";
inline constexpr const char* kLeafAppended = "evidence.leaf_appended";
inline constexpr const char* kTreeHead = "evidence.tree_head";

class ledger_projection final : public projection::projection {
 public:
  std::string name() const override { return "ledger"; }
  std::vector<std::string> topics() const override { return {kLedgerTopic}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }
};

struct entry {
  std::uint64_t index = 0;
  merkle::hash leaf_hash{};  // checked against the stored tree
  events::LedgerLeaf leaf;   // data (the leaf bytes), event id, mission, artifact, source position
};

struct signed_head {
  merkle::tree_head head;
  merkle::hash key_id{};
};

// Node hashes are immutable once written (a perfect subtree never changes), so they can be kept
// in memory without invalidation. Only nodes of subtrees of at least 16 leaves are kept, which
// bounds the cache to about n/8 hashes (40 MB at 10M leaves) and leaves a proof a handful of store
// reads. Dense per level: a lookup is an index, not a hash-table probe.
class node_cache {
 public:
  static constexpr int kMinLevel = 4;
  std::optional<merkle::hash> find(int level, std::uint64_t index) const;
  void insert(int level, std::uint64_t index, const merkle::hash& h);
  std::size_t size() const;

 private:
  struct row {
    std::vector<merkle::hash> hashes;
    std::vector<bool> present;
  };
  mutable std::shared_mutex mu_;
  std::vector<row> levels_;
  std::size_t count_ = 0;
};

// Proofs and entries from a consistent snapshot of the store.
class ledger_view {
 public:
  ledger_view(::nf::projection::store& store, const ledger_projection& proj, node_cache* cache = nullptr)
      : store_(store), proj_(proj), cache_(cache) {}
  result<std::uint64_t> size() const;
  result<merkle::hash> root(std::uint64_t size) const;
  result<entry> get(std::uint64_t index) const;
  result<std::optional<std::uint64_t>> index_of_event(const std::string& event_id) const;
  result<std::optional<std::uint64_t>> index_of_leaf_hash(const merkle::hash& h) const;
  // Loads every stored node of 16+ leaves into the cache (they never change), so proofs do not pay
  // for first reads; returns how many were loaded. Without a cache, does nothing.
  result<std::size_t> warm_cache() const;
  result<std::vector<merkle::hash>> inclusion(std::uint64_t index, std::uint64_t size) const;
  result<std::vector<merkle::hash>> consistency(std::uint64_t first, std::uint64_t second) const;
  // The latest signed head; nullopt before the first.
  result<std::optional<signed_head>> latest_head() const;
  // Every head, oldest first.
  result<std::vector<signed_head>> heads() const;
  // Leaf indices recorded for a mission or an artifact, ascending, at most `limit`.
  result<std::vector<std::uint64_t>> search_mission(const std::string& mission_id, std::size_t limit) const;
  result<std::vector<std::uint64_t>> search_artifact(const std::string& artifact_id, std::size_t limit) const;

 private:
  // Runs f over the nodes of a snapshot that holds at least `size` leaves.
  result<std::vector<std::uint64_t>> search(const std::string& prefix, std::size_t limit) const;
  template <class F>
  auto with_tree(std::uint64_t size, F&& f) const -> decltype(f(std::declval<merkle::node_source&>()));

  ::nf::projection::store& store_;
  const ledger_projection& proj_;
  node_cache* cache_;
};

}  // namespace nf::ledger
