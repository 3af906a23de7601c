// evidence decision logic: consecutive indices, one leaf per event id.
#include <gtest/gtest.h>

#include "actors/evidence/evidence.h"

using namespace nf::evidence;

TEST(Evidence, EachEventGetsOneLeafWithConsecutiveIndices) {
  state s;
  std::vector<std::uint64_t> indices;
  for (const auto* id : {"e1", "e2", "e1", "e3", "e2"}) {
    input in{id, std::string("bytes-") + id, "m1", ""};
    if (auto l = decide(s, in)) indices.push_back(l->index);
    s = evolve(s, in);
  }
  EXPECT_EQ(indices, (std::vector<std::uint64_t>{0, 1, 2}));
  EXPECT_EQ(s.next_index, 3u);
  EXPECT_FALSE(decide(s, input{"", "x", "", ""})) << "an event without an id is never a leaf";
}

TEST(Evidence, StateRebuiltFromTheLedgerSkipsWhatIsAlreadyThere) {
  state s;
  s = evolve_from_leaf(s, "e1");
  s = evolve_from_leaf(s, "e2");
  EXPECT_FALSE(decide(s, input{"e2", "b", "m", ""}));
  auto l = decide(s, input{"e3", "c", "m", "a3"});
  ASSERT_TRUE(l);
  EXPECT_EQ(l->index, 2u);
  EXPECT_EQ(l->artifact_id, "a3");
}
