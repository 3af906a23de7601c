// RFC 6962 (section 2.1) Merkle trees: hashing, roots, inclusion and consistency proofs, and
// their verification. Trees are read through a node_source that returns the hash of any
// perfect subtree (2^level leaves starting at index * 2^level), so proofs cost O(log n) node
// reads whatever stores the nodes (memory for tests, RocksDB for the ledger).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/base/result.h"

namespace nf::merkle {

using hash = std::array<std::uint8_t, 32>;

hash sha256(std::string_view data);
hash leaf_hash(std::string_view data);              // SHA-256(0x00 || data)
hash node_hash(const hash& left, const hash& right);  // SHA-256(0x01 || left || right)
hash empty_root();                                  // SHA-256 of the empty string
std::string to_hex(const hash& h);
result<hash> from_hex(std::string_view hex);

class node_source {
 public:
  virtual ~node_source() = default;
  // Hash of the perfect subtree of 2^level leaves starting at leaf index << level.
  virtual result<hash> node(int level, std::uint64_t index) = 0;
};

// Nodes that appending leaf `index` completes: (level, index, hash), level 0 first.
// Needs the nodes of the leaves before it.
result<std::vector<std::tuple<int, std::uint64_t, hash>>> append_nodes(node_source& src, std::uint64_t index, const hash& leaf);

result<hash> root(node_source& src, std::uint64_t size);
// RFC 6962 PATH(index, D[size]).
result<std::vector<hash>> inclusion_proof(node_source& src, std::uint64_t index, std::uint64_t size);
// RFC 6962 PROOF(first, D[second]).
result<std::vector<hash>> consistency_proof(node_source& src, std::uint64_t first, std::uint64_t second);

// Verifiers per RFC 9162 sections 2.1.3.2 and 2.1.4.2; they use no node_source.
bool verify_inclusion(const hash& leaf, std::uint64_t index, std::uint64_t size, std::span<const hash> path, const hash& root);
bool verify_consistency(std::uint64_t first, std::uint64_t second, const hash& first_root, const hash& second_root,
                        std::span<const hash> proof);

// An in-memory tree: every level kept in a vector.
class memory_tree final : public node_source {
 public:
  result<hash> node(int level, std::uint64_t index) override;
  void append(std::string_view data);
  void append_leaf_hash(const hash& leaf);
  std::uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }

 private:
  std::vector<std::vector<hash>> levels_;
};

// The frontier of a tree of `size` leaves: the perfect subtrees that decompose [0, size), one per
// set bit of size, largest (leftmost) first. It appends and gives the root in O(log n) memory,
// without the rest of the tree.
class frontier {
 public:
  void append(const hash& leaf);
  std::uint64_t size() const { return size_; }
  hash root() const;
  // The frontier node covering 2^level leaves from index << level, if it is one of them.
  std::optional<hash> find(int level, std::uint64_t index) const;

 private:
  std::uint64_t size_ = 0;
  std::vector<hash> nodes_;
};

// The consistency proof from a tree (given by its frontier) to the same tree grown by `leaves`
// (leaf hashes), built from those two alone: the proof's left nodes are frontier nodes and its
// right nodes cover only new leaves. Verifying it against the two roots shows the larger tree
// extends the smaller one.
result<std::vector<hash>> extension_proof(const frontier& from, std::span<const hash> leaves);

}  // namespace nf::merkle
