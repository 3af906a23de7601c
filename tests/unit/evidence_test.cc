// evidence decision logic: consecutive indices, one leaf per event id, heads checked before signing.
#include <gtest/gtest.h>

#include <set>

#include "actors/evidence/evidence.h"

using namespace nf::evidence;

namespace {

input in(const std::string& id, const std::string& data, const std::string& mission, const std::string& artifact) {
  input i;
  i.event_id = id;
  i.data = data;
  i.mission_id = mission;
  i.artifact_id = artifact;
  return i;
}

state with_leaves(std::initializer_list<const char*> ids) {
  state s;
  for (const auto* id : ids) s = evolve(s, in(id, std::string("bytes-") + id, "m1", ""));
  return s;
}

}  // namespace

TEST(Evidence, EachEventGetsOneLeafWithConsecutiveIndices) {
  state s;
  std::set<std::string> ledger;  // what the ledger read model's index would answer
  std::vector<std::uint64_t> indices;
  for (const auto* id : {"e1", "e2", "e1", "e3", "e2"}) {
    auto e = in(id, std::string("bytes-") + id, "m1", "");
    if (auto l = decide(s, e, ledger.count(id) > 0)) {
      indices.push_back(l->index);
      s = evolve(s, e);
      ledger.insert(id);
    }
  }
  EXPECT_EQ(indices, (std::vector<std::uint64_t>{0, 1, 2}));
  EXPECT_EQ(s.next_index, 3u);
  EXPECT_EQ(s.tree.size(), 3u);
  EXPECT_FALSE(decide(s, in("", "x", "", ""), false)) << "an event without an id is never a leaf";
}

TEST(Evidence, AnEventTheLedgerHoldsGetsNoSecondLeaf) {
  auto s = with_leaves({"e1", "e2"});
  EXPECT_FALSE(decide(s, in("e2", "b", "m", ""), true));
  auto l = decide(s, in("e3", "c", "m", "a3"), false);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->index, 2u);
  EXPECT_EQ(l->recorded.artifact_id, "a3");
}

TEST(Evidence, HeadsCoverTheTreeAndAreCheckedAgainstThePreviousHead) {
  auto s = with_leaves({"e1", "e2", "e3"});
  auto h1 = next_head(s, 1000);
  ASSERT_TRUE(h1);
  EXPECT_EQ(h1->size, 3u);
  EXPECT_EQ(h1->root, s.tree.root());
  s = with_head(s, *h1);
  EXPECT_EQ(next_head(s, 1001).error().code, nf::errc::not_found) << "no new leaf, no new head";
  for (const auto* id : {"e4", "e5", "e6", "e7", "e8"}) s = evolve(s, in(id, std::string("bytes-") + id, "m1", ""));
  auto h2 = next_head(s, 900);
  ASSERT_TRUE(h2);
  EXPECT_EQ(h2->size, 8u);
  EXPECT_EQ(h2->timestamp_ms, 1000) << "a head never goes back in time";

  // A last head whose root is not the tree's at its size is refused before anything is signed.
  auto forged = s;
  forged.last_head->root[0] ^= 1;
  auto r = next_head(forged, 2000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, nf::errc::corruption);
  // So is a tree whose new leaves do not extend the signed one.
  auto rewritten = s;
  rewritten.at_head = nf::merkle::frontier{};
  for (const auto* id : {"x1", "x2", "x3"}) rewritten.at_head.append(nf::merkle::leaf_hash(id));
  rewritten.last_head->root = rewritten.at_head.root();
  EXPECT_FALSE(next_head(rewritten, 2000));
}
