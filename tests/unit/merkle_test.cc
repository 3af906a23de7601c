// RFC 6962 Merkle trees against the Certificate Transparency reference vectors and a naive
// recursive definition.
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/hex.h"
#include "core/merkle/merkle.h"
#include "tests/support/support.h"

namespace {

using namespace nf::merkle;

struct vectors {
  std::vector<std::string> leaves;
  std::vector<hash> roots;
  nlohmann::json inclusion;
};

vectors load() {
  std::ifstream in(nf::test::vectors_dir() + "/rfc6962.json");
  auto j = nlohmann::json::parse(in);
  vectors v;
  for (const auto& l : j["leaves_hex"]) v.leaves.push_back(*nf::from_hex(l.get<std::string>()));
  for (const auto& r : j["roots_by_size"]) v.roots.push_back(*from_hex(r.get<std::string>()));
  v.inclusion = j["inclusion_proofs"];
  return v;
}

// MTH exactly as written in RFC 6962 section 2.1.
hash naive_mth(const std::vector<std::string>& d, std::size_t lo, std::size_t hi) {
  const std::size_t n = hi - lo;
  if (n == 0) return empty_root();
  if (n == 1) return leaf_hash(d[lo]);
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return node_hash(naive_mth(d, lo, lo + k), naive_mth(d, lo + k, hi));
}

TEST(Merkle, RootsMatchTheReferenceForEverySize) {
  auto v = load();
  ASSERT_EQ(v.roots.size(), 9u);
  memory_tree t;
  EXPECT_EQ(*root(t, 0), v.roots[0]);
  for (std::size_t n = 1; n <= 8; ++n) {
    t.append(v.leaves[n - 1]);
    EXPECT_EQ(to_hex(*root(t, n)), to_hex(v.roots[n])) << "size " << n;
  }
}

TEST(Merkle, InclusionProofsMatchTheReferenceAndVerify) {
  auto v = load();
  memory_tree t;
  for (const auto& l : v.leaves) t.append(l);
  for (const auto& p : v.inclusion) {
    const auto index = p["index"].get<std::uint64_t>(), size = p["tree_size"].get<std::uint64_t>();
    auto proof = inclusion_proof(t, index, size);
    ASSERT_TRUE(proof);
    std::vector<std::string> got;
    for (const auto& h : *proof) got.push_back(to_hex(h));
    EXPECT_EQ(got, p["path"].get<std::vector<std::string>>()) << "index " << index;
  }
  for (std::uint64_t n = 1; n <= 8; ++n)
    for (std::uint64_t i = 0; i < n; ++i) {
      auto proof = *inclusion_proof(t, i, n);
      EXPECT_TRUE(verify_inclusion(leaf_hash(v.leaves[i]), i, n, proof, v.roots[n])) << i << "/" << n;
      if (n > 1) {
        EXPECT_FALSE(verify_inclusion(leaf_hash(v.leaves[i]), (i + 1) % n, n, proof, v.roots[n])) << "wrong index";
      }
      if (!proof.empty()) {
        proof[0][0] ^= 1;
        EXPECT_FALSE(verify_inclusion(leaf_hash(v.leaves[i]), i, n, proof, v.roots[n]));
      }
    }
}

TEST(Merkle, ConsistencyProofsVerifyAgainstReferenceRootsForEveryPair) {
  auto v = load();
  memory_tree t;
  for (const auto& l : v.leaves) t.append(l);
  for (std::uint64_t m = 1; m <= 8; ++m)
    for (std::uint64_t n = m; n <= 8; ++n) {
      auto proof = *consistency_proof(t, m, n);
      EXPECT_TRUE(verify_consistency(m, n, v.roots[m], v.roots[n], proof)) << m << "->" << n;
      if (m < n) {
        EXPECT_FALSE(verify_consistency(m, n, v.roots[m == 1 ? 2 : m - 1], v.roots[n], proof)) << m << "->" << n;
      }
      if (!proof.empty()) {
        proof.back()[5] ^= 0x80;
        EXPECT_FALSE(verify_consistency(m, n, v.roots[m], v.roots[n], proof)) << m << "->" << n;
      }
    }
  EXPECT_FALSE(consistency_proof(t, 5, 3));
  EXPECT_FALSE(inclusion_proof(t, 8, 8));
}

TEST(Merkle, LargeTreesAgreeWithTheNaiveDefinition) {
  std::mt19937 rng(42);
  std::vector<std::string> d;
  memory_tree t;
  for (int i = 0; i < 1000; ++i) {
    d.push_back("leaf-" + std::to_string(rng()));
    t.append(d.back());
  }
  for (std::uint64_t n : {1u, 2u, 3u, 7u, 64u, 100u, 511u, 512u, 513u, 999u, 1000u}) {
    const auto r = naive_mth(d, 0, n);
    EXPECT_EQ(*root(t, n), r) << n;
    const std::uint64_t i = rng() % n;
    EXPECT_TRUE(verify_inclusion(leaf_hash(d[i]), i, n, *inclusion_proof(t, i, n), r));
    const std::uint64_t m = 1 + rng() % n;
    EXPECT_TRUE(verify_consistency(m, n, naive_mth(d, 0, m), r, *consistency_proof(t, m, n))) << m << "->" << n;
  }
}

TEST(Merkle, FrontierRootsAndExtensionProofsMatchTheFullTreeForEveryPair) {
  std::vector<std::string> d;
  for (int i = 0; i < 70; ++i) d.push_back("leaf " + std::to_string(i));
  memory_tree t;
  for (const auto& l : d) t.append(l);
  std::vector<hash> leaves;
  for (const auto& l : d) leaves.push_back(leaf_hash(l));
  for (std::uint64_t m = 0; m <= d.size(); ++m) {
    frontier f;
    for (std::uint64_t i = 0; i < m; ++i) f.append(leaves[i]);
    ASSERT_EQ(f.size(), m);
    ASSERT_EQ(f.root(), naive_mth(d, 0, m)) << m;
    for (std::uint64_t n = m; n <= d.size(); ++n) {
      auto proof = extension_proof(f, std::span<const hash>(leaves).subspan(m, n - m));
      ASSERT_TRUE(proof) << m << "->" << n << ": " << nf::describe(proof.error());
      if (m > 0) {
        EXPECT_EQ(*proof, *consistency_proof(t, m, n)) << m << "->" << n;
      }
      EXPECT_TRUE(verify_consistency(m, n, f.root(), naive_mth(d, 0, n), *proof)) << m << "->" << n;
    }
  }
  // A changed new leaf gives a tree the old root cannot be proved into.
  frontier f;
  for (int i = 0; i < 5; ++i) f.append(leaves[i]);
  auto changed = std::vector<hash>(leaves.begin() + 5, leaves.begin() + 9);
  auto proof = *extension_proof(f, changed);
  changed[1][0] ^= 1;
  memory_tree other;
  for (int i = 0; i < 5; ++i) other.append(d[i]);
  for (const auto& h : changed) other.append_leaf_hash(h);
  EXPECT_FALSE(verify_consistency(5, 9, f.root(), *root(other, 9), proof));
}

TEST(Merkle, HashesParseStrictly) {
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex(std::string(64, 'g')));
  EXPECT_TRUE(from_hex(std::string(64, 'A')));
}

}  // namespace
