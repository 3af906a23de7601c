// The ledger audit behind `ledger verify` and `replay --verify` keeps its per-leaf sets in a
// scratch RocksDB: its tree gives the same nodes and proofs as an in-memory tree, a repeated event
// is found through the Bloom filter and the store, problems are capped but counted, and the
// scratch directory is gone afterwards. The scratch store and Bloom filter on their own too.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "actors/evidence/audit.h"
#include "actors/evidence/evidence.h"
#include "core/merkle/tree_head.h"
#include "core/store/scratch.h"
#include "ledger.pb.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
namespace fs = std::filesystem;

struct ledger_log {
  test::temp_dir dir;
  std::unique_ptr<bus::embedded_bus> bus = test::open_test_bus(dir.path() / "bus");
  std::unique_ptr<merkle::signer> sign = merkle::signer::load_or_create((dir.path() / "key").string()).value();
  merkle::memory_tree tree;
  merkle::frontier f;
  std::vector<bus::record> pending;

  ledger_log() { EXPECT_TRUE(bus->create_topic(topic_name{evidence::kLedgerTopic}, {1, -1, -1})); }

  // Leaf i records event `id` (default "ev-<i>") with index field `index` (default i).
  void leaf(std::uint64_t i, std::optional<std::string> id = std::nullopt, std::optional<std::uint64_t> index = std::nullopt) {
    events::LedgerLeaf l;
    l.set_index(index.value_or(i));
    l.set_data("event bytes " + std::to_string(i));
    l.set_event_id(id.value_or("ev-" + std::to_string(i)));
    tree.append(l.data());
    f.append(merkle::leaf_hash(l.data()));
    events::Envelope env;
    env.set_type(evidence::kLeafAppended);
    env.set_key("ledger");
    env.mutable_payload()->PackFrom(l);
    pending.push_back({.key = "ledger", .value = env.SerializeAsString()});
  }
  void head() {
    merkle::tree_head h{f.size(), f.root(), static_cast<std::int64_t>(f.size()), {}};
    h.signature = sign->sign(h).value();
    events::TreeHead t;
    evidence::fill_tree_head(t, h, sign->key_id());
    events::Envelope env;
    env.set_type(evidence::kTreeHead);
    env.set_key("ledger");
    env.mutable_payload()->PackFrom(t);
    pending.push_back({.key = "ledger", .value = env.SerializeAsString()});
  }
  void write() {
    ASSERT_TRUE(bus->append(topic_name{evidence::kLedgerTopic}, pending));
    pending.clear();
  }
};

TEST(LedgerAudit, TheScratchTreeGivesTheNodesAndProofsOfAnInMemoryTree) {
  ledger_log log;
  constexpr std::uint64_t kLeaves = 1000 + 7;  // 62 full blocks of 16 and an incomplete one
  for (std::uint64_t i = 0; i < kLeaves; ++i) {
    log.leaf(i);
    if ((i + 1) % 100 == 0) log.head();
  }
  log.head();
  log.write();
  test::temp_dir scratch;
  evidence::ledger_audit audit(*log.bus, log.sign->public_key_pem(), true, scratch.path().string());
  ASSERT_TRUE(audit.run(false));
  EXPECT_TRUE(audit.problems.empty()) << audit.problems.front().message;
  EXPECT_EQ(audit.leaves, kLeaves);
  EXPECT_EQ(audit.heads, 11u);
  ASSERT_TRUE(audit.latest_head);
  EXPECT_EQ(audit.latest_head->size, kLeaves);
  for (int level = 0; level <= 9; ++level)
    for (std::uint64_t index = 0; (index + 1) << level <= kLeaves; ++index)
      ASSERT_EQ(audit.tree().node(level, index).value(), log.tree.node(level, index).value()) << level << "/" << index;
  EXPECT_FALSE(audit.tree().node(0, kLeaves)) << "past the last leaf";
  EXPECT_FALSE(audit.tree().node(4, kLeaves / 16)) << "the incomplete block has no level-4 node";
  for (std::uint64_t i = 0; i < kLeaves; i += 37) {
    EXPECT_EQ(audit.index_of_event("ev-" + std::to_string(i)).value(), std::optional<std::uint64_t>{i});
    for (std::uint64_t size : {i + 1, kLeaves}) {
      auto proof = merkle::inclusion_proof(audit.tree(), i, size);
      ASSERT_TRUE(proof);
      EXPECT_EQ(*proof, merkle::inclusion_proof(log.tree, i, size).value()) << i << " in " << size;
    }
  }
  EXPECT_EQ(audit.index_of_event("ev-never").value(), std::nullopt);
}

TEST(LedgerAudit, ARepeatedEventIsReportedWithTheLeafThatFirstRecordedIt) {
  ledger_log log;
  for (std::uint64_t i = 0; i < 600; ++i) log.leaf(i, i == 500 ? std::optional<std::string>{"ev-42"} : std::nullopt);
  log.write();
  evidence::ledger_audit audit(*log.bus, log.sign->public_key_pem(), true);
  ASSERT_TRUE(audit.run(false));
  ASSERT_EQ(audit.problems_total, 1u);
  EXPECT_EQ(audit.problems[0].index, std::optional<std::uint64_t>{500});
  EXPECT_EQ(audit.problems[0].message, "leaf 500 records event ev-42 again (first at leaf 42)");
  EXPECT_EQ(audit.index_of_event("ev-42").value(), std::optional<std::uint64_t>{42}) << "the first leaf stays the event's";
}

TEST(LedgerAudit, ProblemsAreCappedKeepingTheFirstBadLeavesAndCountingEveryOne) {
  ledger_log log;
  for (std::uint64_t i = 0; i < 3000; ++i) log.leaf(i, std::nullopt, i + 1);  // every index field is off by one
  log.write();
  evidence::ledger_audit audit(*log.bus, log.sign->public_key_pem(), false);
  ASSERT_TRUE(audit.run(false));
  EXPECT_EQ(audit.problems_total, 3000u);
  ASSERT_EQ(audit.problems.size(), evidence::ledger_audit::kKeptProblems);
  for (std::size_t k = 0; k < audit.problems.size(); ++k) ASSERT_EQ(audit.problems[k].index, std::optional<std::uint64_t>{k});
  EXPECT_NE(audit.problems[0].message.find("leaf index 1 where 0 was expected"), std::string::npos) << audit.problems[0].message;
}

TEST(LedgerAudit, TheScratchDirectoryIsRemovedWithTheAudit) {
  ledger_log log;
  for (std::uint64_t i = 0; i < 50; ++i) log.leaf(i);
  log.write();
  test::temp_dir scratch;
  {
    evidence::ledger_audit audit(*log.bus, log.sign->public_key_pem(), true, scratch.path().string());
    ASSERT_TRUE(audit.run(false));
    EXPECT_EQ(std::distance(fs::directory_iterator(scratch.path()), fs::directory_iterator()), 1);
  }
  EXPECT_TRUE(fs::is_empty(scratch.path()));
}

TEST(ScratchStore, ReadsAndScansSeeEveryPutBeforeThemInKeyOrder) {
  test::temp_dir parent;
  auto s = store::scratch::open(parent.path().string()).value();
  for (int i = 999; i >= 0; --i) s->put("k" + std::to_string(100000 + i), std::to_string(i));
  s->put("other", "x");
  EXPECT_EQ(s->get("k100500").value(), std::optional<std::string>{"500"});
  EXPECT_EQ(s->get("k2").value(), std::nullopt);
  s->put("k100000", "replaced");
  std::vector<std::string> keys;
  ASSERT_TRUE(s->scan("k", [&](std::string_view k, std::string_view v) {
    keys.emplace_back(k);
    if (k == "k100000") {
      EXPECT_EQ(v, "replaced");
    }
    return true;
  }));
  ASSERT_EQ(keys.size(), 1000u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  const auto dir = s->dir();
  EXPECT_TRUE(fs::exists(dir));
  s.reset();
  EXPECT_FALSE(fs::exists(dir));
}

TEST(ScratchStore, AParentThatCannotHoldItIsAnError) {
  auto s = store::scratch::open("/proc/no-such-dir");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("/proc/no-such-dir"), std::string::npos) << s.error().message;
}

TEST(Bloom, NoMemberIsEverMissedAndFewOthersPass) {
  store::bloom b(100'000);
  for (int i = 0; i < 100'000; ++i) b.add("member-" + std::to_string(i));
  for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(b.may_contain("member-" + std::to_string(i))) << i;
  int passed = 0;
  for (int i = 0; i < 100'000; ++i) passed += b.may_contain("other-" + std::to_string(i)) ? 1 : 0;
  EXPECT_LT(passed, 2'000) << "about 1% at 10 bits per member";
}

}  // namespace
