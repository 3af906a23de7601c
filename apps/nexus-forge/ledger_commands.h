// The evidence ledger from the command line: key and vault locations, `ledger verify`, and the
// ledger side of `replay --verify`. Both audits read evidence.ledger from the bus itself
// (read-only, beside a running server) and recompute everything: they trust neither the
// projection store nor the server.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/bus/bus.h"
#include "core/config/config.h"
#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"

namespace nf::cli {

std::string signing_key_path(const config::config& cfg);
std::string blob_dir(const config::config& cfg);
// The tree-head key of this data dir, created (mode 0600) on first use.
result<std::shared_ptr<merkle::signer>> load_signer(const config::config& cfg);

struct ledger_problem {
  std::optional<std::uint64_t> index;      // the leaf concerned, when one is
  std::optional<std::uint64_t> head_size;  // the head concerned, when one is
  std::string message;
};

// One pass over evidence.ledger: leaves in order, unique events, every head's root, signature,
// key id, timestamp order and consistency with its predecessor.
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
  std::optional<merkle::tree_head> latest_head;            // the latest head that checked out
  std::map<topic_partition, std::vector<source_ref>> sources;  // where each leaf's event is
  std::vector<blob_ref> blobs;                              // vault blobs leaves refer to
  // With keep_tree: every leaf hash, and event id -> index.
  merkle::memory_tree tree;
  std::unordered_map<std::string, std::uint64_t> index_of_event;

 private:
  void leaf(const bus::message& m, std::int64_t off);
  void head(const bus::message& m, std::int64_t off);

  bus::event_bus& bus_;
  std::string public_key_pem_;
  merkle::hash key_id_{};
  bool keep_tree_;
  std::unordered_map<std::string, std::uint64_t> seen_;
  merkle::frontier frontier_, at_head_;
  std::vector<merkle::hash> since_head_;
  std::optional<merkle::tree_head> prev_;
};

struct ledger_verify_args {
  std::string public_key;  // PEM file; empty: derived from the data dir's signing key
  bool json = false;
  bool quiet = false;
};
int ledger_verify(const ledger_verify_args& a, const config::config& cfg);

// The public key to verify with: the file given, else the data dir's signing key (never created here).
result<std::string> verification_key(const std::string& public_key_file, const config::config& cfg);

}  // namespace nf::cli
