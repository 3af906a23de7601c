// The ledger projection on the embedded bus: the tree it folds matches an in-memory RFC 6962
// tree, its proofs verify, replays are harmless, gaps and tampering are reported.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <rocksdb/db.h>

#include "core/base/base64.h"
#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "ledger.pb.h"
#include "projections/ledger/ledger.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;


class Ledger : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = test::open_test_bus(dir_.path() / "bus");
    ASSERT_TRUE(bus_->create_topic(topic_name{ledger::kLedgerTopic}, {1, -1, -1}));
    store_ = std::move(projection::store::open({(dir_.path() / "store").string(), false}).value());
  }

  void append_leaf(std::uint64_t index, const std::string& data, const std::string& event_id) {
    event::new_event e;
    e.type = ledger::kLeafAppended;
    e.key = "ledger";
    e.payload_json = json{{"index", index}, {"data", to_base64(data)}, {"eventId", event_id}}.dump();
    e.occurred_at = 1;
    auto rec = event::to_record(event::build(e).value());
    ASSERT_TRUE(bus_->append(topic_name{ledger::kLedgerTopic}, std::span<const bus::record>(&rec, 1)));
  }

  test::temp_dir dir_;
  std::unique_ptr<bus::embedded_bus> bus_;
  std::unique_ptr<projection::store> store_;
  ledger::ledger_projection proj_;
};

TEST_F(Ledger, FoldedTreeMatchesTheReferenceAndProofsVerify) {
  merkle::memory_tree ref;
  for (int i = 0; i < 1000; ++i) {
    const std::string data = "event-bytes-" + std::to_string(i);
    append_leaf(static_cast<std::uint64_t>(i), data, "ev-" + std::to_string(i));
    ref.append(data);
  }
  projection::runner run(*store_, proj_, *bus_, {128});
  ASSERT_TRUE(run.catch_up());
  ledger::ledger_view view(*store_, proj_);
  ASSERT_EQ(*view.size(), 1000u);
  for (std::uint64_t n : {1u, 2u, 3u, 500u, 513u, 1000u}) {
    const auto root = *view.root(n);
    EXPECT_EQ(root, *merkle::root(ref, n)) << n;
    const std::uint64_t i = n / 3;
    EXPECT_TRUE(merkle::verify_inclusion(merkle::leaf_hash("event-bytes-" + std::to_string(i)), i, n, *view.inclusion(i, n), root));
    EXPECT_TRUE(merkle::verify_consistency(n / 2 + 1, n, *view.root(n / 2 + 1), root, *view.consistency(n / 2 + 1, n)));
  }
  EXPECT_EQ(view.get(7)->leaf.data(), "event-bytes-7");
  // A cached view gives the same answers, from fewer store reads.
  ledger::node_cache cache;
  ledger::ledger_view cached(*store_, proj_, &cache);
  for (std::uint64_t n : {513u, 1000u}) {
    EXPECT_EQ(*cached.root(n), *view.root(n));
    EXPECT_EQ(*cached.inclusion(n / 3, n), *view.inclusion(n / 3, n));
    EXPECT_EQ(*cached.consistency(n / 2, n), *view.consistency(n / 2, n));
  }
  EXPECT_GT(cache.size(), 0u);
  EXPECT_EQ(*view.index_of_event("ev-42"), std::optional<std::uint64_t>{42});
  EXPECT_EQ(view.root(1001).error().code, errc::invalid_argument);
  EXPECT_EQ(view.get(5000).error().code, errc::not_found);
}

TEST_F(Ledger, ReplayedLeavesAreHarmlessAndGapsOrChangedBytesAreReported) {
  append_leaf(0, "a", "e0");
  append_leaf(1, "b", "e1");
  append_leaf(1, "b", "e1");  // the same leaf again: a replay
  projection::runner run(*store_, proj_, *bus_, {16});
  ASSERT_TRUE(run.catch_up());
  ledger::ledger_view view(*store_, proj_);
  EXPECT_EQ(*view.size(), 2u);
  append_leaf(1, "different", "e1x");
  auto r = run.catch_up();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("leaf 1 differs"), std::string::npos) << r.error().message;
}

TEST_F(Ledger, HeadsAreStoredOnlyWhenTheirRootIsTheTreesRoot) {
  merkle::memory_tree t;
  for (int i = 0; i < 3; ++i) {
    append_leaf(static_cast<std::uint64_t>(i), "leaf" + std::to_string(i), "e" + std::to_string(i));
    t.append("leaf" + std::to_string(i));
  }
  auto append_head = [&](std::uint64_t size, merkle::hash root) {
    event::new_event e;
    e.type = ledger::kTreeHead;
    e.key = "ledger";
    e.payload_json = json{{"treeSize", size},
                          {"rootHash", to_base64(std::string(reinterpret_cast<const char*>(root.data()), 32))},
                          {"timestampMs", 5},
                          {"signature", to_base64(std::string(64, 's'))},
                          {"keyId", to_base64(std::string(32, 'k'))}}
                         .dump();
    e.occurred_at = 1;
    auto rec = event::to_record(event::build(e).value());
    ASSERT_TRUE(bus_->append(topic_name{ledger::kLedgerTopic}, std::span<const bus::record>(&rec, 1)));
  };
  append_head(3, merkle::root(t, 3).value());
  projection::runner run(*store_, proj_, *bus_, {16});
  ASSERT_TRUE(run.catch_up());
  ledger::ledger_view view(*store_, proj_);
  auto head = view.latest_head().value();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->head.size, 3u);
  EXPECT_EQ(head->head.root, merkle::root(t, 3).value());

  auto wrong = merkle::root(t, 3).value();
  wrong[7] ^= 1;
  append_head(3, wrong);
  auto r = run.catch_up();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("the signed root at size 3 is not the tree's root"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("evidence.ledger@4"), std::string::npos) << r.error().message;
  EXPECT_EQ(view.latest_head().value()->head.root, merkle::root(t, 3).value()) << "nothing of the bad head was stored";
}

TEST_F(Ledger, AGapStopsTheProjectionWithThePosition) {
  append_leaf(0, "a", "e0");
  append_leaf(2, "c", "e2");
  projection::runner run(*store_, proj_, *bus_, {16});
  auto r = run.catch_up();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("leaves a gap after tree size 1"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("evidence.ledger@1"), std::string::npos);
}

TEST_F(Ledger, ATamperedLeafIsReportedWithItsIndex) {
  for (int i = 0; i < 8; ++i) append_leaf(static_cast<std::uint64_t>(i), "leaf" + std::to_string(i), "e" + std::to_string(i));
  {
    projection::runner run(*store_, proj_, *bus_, {50});
    ASSERT_TRUE(run.catch_up());
  }
  store_.reset();
  {
    // Rewrite leaf 3's bytes behind the store's back.
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), (dir_.path() / "store").string(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> hs;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), (dir_.path() / "store").string(), cfs, &hs, &db).ok());
    rocksdb::ColumnFamilyHandle* ledger_cf = nullptr;
    for (auto* h : hs)
      if (h->GetName() == "p.ledger.0") ledger_cf = h;
    ASSERT_NE(ledger_cf, nullptr);
    std::string key = "l/" + std::string(7, '\0') + std::string(1, '\3');
    events::LedgerLeaf forged;
    forged.set_index(3);
    forged.set_data("forged");
    forged.set_event_id("e3");
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), ledger_cf, key, forged.SerializeAsString()).ok());
    for (auto* h : hs) (void)db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  store_ = std::move(projection::store::open({(dir_.path() / "store").string(), false}).value());
  ASSERT_TRUE(store_->attach(proj_));
  ledger::ledger_view view(*store_, proj_);
  auto e = view.get(3);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, errc::corruption);
  EXPECT_NE(e.error().message.find("leaf 3 does not match its stored hash"), std::string::npos) << e.error().message;
  EXPECT_TRUE(view.get(2));
}

TEST_F(Ledger, RebuildEqualsLive) {
  for (int i = 0; i < 300; ++i) append_leaf(static_cast<std::uint64_t>(i), "x" + std::to_string(i), "e" + std::to_string(i));
  projection::runner run(*store_, proj_, *bus_, {50});
  ASSERT_TRUE(run.catch_up());
  const auto live = *store_->digest(proj_);
  ASSERT_TRUE(store_->rebuild(proj_, *bus_));
  EXPECT_EQ(*store_->digest(proj_), live);
}

}  // namespace
