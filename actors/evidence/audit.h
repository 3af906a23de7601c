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
#include <memory>
#include <string_view>
#include <vector>

#include "core/bus/bus.h"
#include "envelope.pb.h"
#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"
#include "core/store/scratch.h"

namespace nf::evidence {

struct ledger_problem {
  std::optional<std::uint64_t> index;      // the leaf concerned, when one is
  std::optional<std::uint64_t> head_size;  // the head concerned, when one is
  std::string message;
};

// What the audit keeps per leaf (event ids, where each leaf's event is, the blobs leaves name,
// and with keep_tree every tree node) lives in a scratch RocksDB (core/store/scratch.h) with a
// Bloom filter in front of the event ids, so memory stays flat however long the ledger is.
class ledger_audit {
 public:
  // At most this many problems are kept (the lowest ranked: the first bad leaf first, then heads,
  // then the rest); problems_total counts every one.
  static constexpr std::size_t kKeptProblems = 1000;

  // `scratch_parent`: where the scratch store goes (default: the temporary directory).
  ledger_audit(bus::event_bus& bus, std::string public_key_pem, bool keep_tree, std::string scratch_parent = {});
  ~ledger_audit();
  // Fails only when the log cannot be read at all (or the scratch store cannot be written); what
  // does not add up goes to problems.
  result<void> run(bool progress);

  void add_problem(ledger_problem p);
  // Sorts the kept problems by rank (run() does so before it returns).
  void sort_problems();
  std::vector<ledger_problem> problems;
  std::uint64_t problems_total = 0;

  std::uint64_t leaves = 0, heads = 0;
  std::uint64_t fenced = 0;                                 // records of deposed owners: refused, not part of the tree
  std::optional<merkle::tree_head> latest_head;            // the latest head that checked out

  struct source_ref {
    std::int64_t offset;
    std::uint64_t index;
    merkle::hash leaf_hash;
  };
  struct source_span {
    std::uint64_t count = 0;
    std::int64_t first = 0, last = 0;  // lowest and highest offset
  };
  // The partitions leaves' events are on, and each one's references in offset order.
  std::map<topic_partition, source_span> source_partitions;
  result<void> each_source(const topic_partition& tp, const std::function<bool(const source_ref&)>& fn);
  // Vault blobs leaves name, in leaf order: a SHA-256 in hex, with a '?' first when the blob
  // need not be in the vault (an artifact whose content was not uploaded).
  result<void> each_blob(const std::function<bool(std::uint64_t index, const std::string& sha)>& fn);
  // Remembers a string under `tag` in the scratch store (for the caller's own sets).
  void remember(char tag, std::string_view s);
  result<bool> remembered(char tag, std::string_view s);

  // With keep_tree: the leaf that records an event, and the tree's nodes.
  result<std::optional<std::uint64_t>> index_of_event(const std::string& event_id);
  merkle::node_source& tree();

 private:
  class scratch_tree;
  result<void> leaf(const events::Envelope& env, std::int64_t off);
  void head(const events::Envelope& env, std::int64_t off);

  bus::event_bus& bus_;
  std::string public_key_pem_;
  merkle::hash key_id_{};
  bool keep_tree_;
  std::string scratch_parent_;
  std::unique_ptr<store::scratch> scratch_;
  std::unique_ptr<store::bloom> ids_;
  std::unique_ptr<scratch_tree> tree_;
  merkle::frontier frontier_, at_head_;
  std::vector<merkle::hash> since_head_;
  std::optional<merkle::tree_head> prev_;
};

// Reads [from, to) of one partition in order, calling fn(message) until it returns false.
result<void> read_range(bus::event_bus& b, const topic_partition& tp, std::int64_t from, std::int64_t to,
                        const std::function<bool(const bus::message&)>& fn);

}  // namespace nf::evidence
