// The ledger audit: one pass over evidence.ledger that recomputes the tree from the leaves and
// checks leaves in order, unique events, and every head's root, signature, key id, timestamp order
// and consistency with its predecessor. Used by `ledger verify`, `replay --verify` and the
// verify benchmark; it trusts neither the projection store nor a server.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/bus/bus.h"
#include "envelope.pb.h"
#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"

namespace nf::evidence {

struct ledger_problem {
  std::optional<std::uint64_t> index;      // the leaf concerned, when one is
  std::optional<std::uint64_t> head_size;  // the head concerned, when one is
  std::string message;
};

class ledger_audit {
 public:
  struct source_ref {
    std::int64_t offset;
    std::uint64_t index;
    merkle::hash leaf_hash;
  };
  struct blob_ref {
    std::string sha256;
    std::uint64_t index;
  };

  ledger_audit(bus::event_bus& bus, std::string public_key_pem, bool keep_tree)
      : bus_(bus), public_key_pem_(std::move(public_key_pem)), keep_tree_(keep_tree) {}
  // Fails only when the log cannot be read at all; what does not add up goes to problems.
  result<void> run(bool progress);

  std::vector<ledger_problem> problems;
  std::uint64_t leaves = 0, heads = 0;
  std::uint64_t fenced = 0;                                 // records of deposed owners: refused, not part of the tree
  std::optional<merkle::tree_head> latest_head;            // the latest head that checked out
  std::map<topic_partition, std::vector<source_ref>> sources;  // where each leaf's event is
  std::vector<blob_ref> blobs;                              // vault blobs leaves refer to
  // With keep_tree: every leaf hash, and event id -> index.
  merkle::memory_tree tree;
  std::unordered_map<std::string, std::uint64_t> index_of_event;

 private:
  void leaf(const events::Envelope& env, std::int64_t off);
  void head(const events::Envelope& env, std::int64_t off);

  bus::event_bus& bus_;
  std::string public_key_pem_;
  merkle::hash key_id_{};
  bool keep_tree_;
  std::unordered_map<std::string, std::uint64_t> seen_;
  merkle::frontier frontier_, at_head_;
  std::vector<merkle::hash> since_head_;
  std::optional<merkle::tree_head> prev_;
};

// Reads [from, to) of one partition in order, calling fn(message) until it returns false.
result<void> read_range(bus::event_bus& b, const topic_partition& tp, std::int64_t from, std::int64_t to,
                        const std::function<bool(const bus::message&)>& fn);

}  // namespace nf::evidence
