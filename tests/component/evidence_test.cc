// evidence actor + ledger projection on the embedded bus: every artifact and validation event
// becomes exactly one leaf, with a verifiable inclusion proof, across restarts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/evidence/evidence.h"
#include "core/bus/embedded.h"
#include "core/command/owner.h"
#include "core/event/codec.h"
#include "projections/ledger/ledger.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;

class EvidenceLedger : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = test::open_test_bus(dir_.path() / "bus");
    ASSERT_TRUE(bus_->create_topic(topic_name{"mission.artifacts"}, {2, -1, -1}));
    ASSERT_TRUE(bus_->create_topic(topic_name{"mission.validations"}, {2, -1, -1}));
    ASSERT_TRUE(bus_->create_topic(topic_name{evidence::kRecordsTopic}, {1, -1, -1}));
    ASSERT_TRUE(bus_->create_topic(topic_name{evidence::kLedgerTopic}, {1, -1, -1}));
    ASSERT_TRUE(bus_->create_topic(topic_name{evidence::kCommandsTopic}, {1, -1, -1}));
    signer_ = std::shared_ptr<merkle::signer>(std::move(merkle::signer::load_or_create((dir_.path() / "head.key").string()).value()));
    store_ = std::move(projection::store::open({(dir_.path() / "store").string(), false}).value());
    ASSERT_TRUE(store_->attach(proj_));
    feed_ = std::make_unique<projection::feed>(*store_, proj_, *bus_);
    ASSERT_TRUE(feed_->start());
  }
  void TearDown() override { feed_->stop(); }

  // The evidence pipeline of one instance (intake, and the ledger's fenced writer) in `rt`.
  std::shared_ptr<evidence::actor> add_evidence(actor::runtime& rt, evidence::options o) {
    writers_.push_back(std::make_unique<command::single_writer>(*bus_, "evidence", "local", command::owned_state{*store_, proj_, *feed_},
                                                                std::chrono::seconds(10)));
    o.writer = writers_.back().get();
    o.bus = bus_.get();
    o.in_ledger = [this](const std::string& id) -> result<bool> {
      NF_TRY_ASSIGN(auto index, ledger::ledger_view(*store_, proj_).index_of_event(id));
      return index.has_value();
    };
    rt.add(std::make_shared<evidence::intake>(), {});
    auto a = std::make_shared<evidence::actor>(o);
    rt.add(a, {});
    return a;
  }

  events::Envelope artifact(int i) {
    event::new_event e;
    e.type = "mission.artifact_recorded";
    e.key = "m" + std::to_string(i % 3);
    e.payload_json = json{{"artifactId", "a" + std::to_string(i)}, {"missionId", e.key}, {"type", "code"}, {"uri", "s3://x"},
                          {"checksum", "sha256:" + std::string(64, 'a')}, {"reviewer", "r"}}
                         .dump();
    e.occurred_at = 1'700'000'000'000 + i;
    return event::build(e).value();
  }

  void append(const std::string& topic, const events::Envelope& env) {
    auto rec = event::to_record(env);
    ASSERT_TRUE(bus_->append(topic_name{topic}, std::span<const bus::record>(&rec, 1)));
  }

  // The tree's size once the read model's feed (the only applier, as in a node: a second one
  // would apply records the feed then never reports as applied) has applied the whole ledger.
  std::uint64_t ledger_size() {
    const auto end = ledger_events();
    if (end > 0) {
      EXPECT_TRUE(feed_->wait_applied({topic_name{evidence::kLedgerTopic}, partition_id{0}}, offset{end - 1}, std::chrono::seconds(10)));
    }
    return ledger::ledger_view(*store_, proj_).size().value();
  }

  std::int64_t ledger_events() { return bus_->end_offset({topic_name{evidence::kLedgerTopic}, partition_id{0}})->get(); }

  test::temp_dir dir_;
  std::unique_ptr<bus::embedded_bus> bus_;
  std::unique_ptr<projection::store> store_;
  ledger::ledger_projection proj_;
  std::shared_ptr<merkle::signer> signer_;
  std::unique_ptr<projection::feed> feed_;
  std::vector<std::unique_ptr<command::single_writer>> writers_;

  evidence::options with_heads(std::uint64_t every) {
    evidence::options o;
    o.signer = signer_;
    o.head_every_leaves = every;
    o.head_every = std::chrono::hours(1);  // only the count and the final tick at stop sign here
    return o;
  }
};

TEST_F(EvidenceLedger, EveryEventIsOneLeafProvablyInTheTreeAcrossRestarts) {
  std::vector<events::Envelope> envs;
  for (int i = 0; i < 30; ++i) {
    envs.push_back(artifact(i));
    append("mission.artifacts", envs.back());
  }
  append("mission.artifacts", envs[7]);  // the same event delivered twice
  {
    actor::runtime rt(*bus_, {});
    add_evidence(rt, with_heads(8));
    ASSERT_TRUE(rt.start());
    ASSERT_TRUE(test::wait_until([&] { return ledger_events() >= 34; }));
    rt.stop();
  }
  // The writer's claim, 30 leaves, heads at 8, 16 and 24 leaves, and one at stop for the 6 unsigned ones.
  EXPECT_EQ(ledger_events(), 35);
  ASSERT_EQ(ledger_size(), 30u);
  ledger::ledger_view view(*store_, proj_);
  const auto id7 = event::event_id::from_raw(envs[7].id())->to_string();
  auto index = view.index_of_event(id7).value();
  ASSERT_TRUE(index);
  auto e = view.get(*index).value();
  EXPECT_EQ(e.leaf.data(), event::canonical_bytes(envs[7])) << "the leaf is the event's canonical bytes";
  const auto root = view.root(30).value();
  EXPECT_TRUE(merkle::verify_inclusion(merkle::leaf_hash(event::canonical_bytes(envs[7])), *index, 30, view.inclusion(*index, 30).value(), root));
  EXPECT_EQ(e.leaf.source_topic(), "mission.artifacts");
  EXPECT_EQ(e.leaf.event_type(), "mission.artifact_recorded");

  // Heads: signed, each consistent with the one before, the latest over the whole tree.
  auto heads = view.heads().value();
  ASSERT_EQ(heads.size(), 4u);
  std::vector<std::uint64_t> sizes;
  for (std::size_t i = 0; i < heads.size(); ++i) {
    const auto& h = heads[i].head;
    sizes.push_back(h.size);
    EXPECT_TRUE(merkle::verify_head(h, signer_->public_key_pem()).value()) << h.size;
    EXPECT_EQ(heads[i].key_id, signer_->key_id());
    EXPECT_EQ(h.root, view.root(h.size).value());
    if (i > 0) {
      const auto& p = heads[i - 1].head;
      EXPECT_TRUE(merkle::verify_consistency(p.size, h.size, p.root, h.root, view.consistency(p.size, h.size).value()));
      EXPECT_GE(h.timestamp_ms, p.timestamp_ms);
    }
  }
  EXPECT_EQ(sizes, (std::vector<std::uint64_t>{8, 16, 24, 30}));
  EXPECT_EQ(view.latest_head().value()->head.size, 30u);
  EXPECT_EQ(view.search_artifact("a7", 10).value(), (std::vector<std::uint64_t>{*index}));
  EXPECT_EQ(view.search_mission("m1", 100).value().size(), 10u);

  // A new runtime rebuilds the actor's state from the ledger and adds only what is new.
  append("mission.artifacts", artifact(100));
  actor::runtime rt(*bus_, {});
  auto fresh = add_evidence(rt, with_heads(8));
  ASSERT_TRUE(rt.start());
  // A new claim, the new leaf, and its head at stop.
  ASSERT_TRUE(test::wait_until([&] { return ledger_events() == 37; }));
  EXPECT_EQ(fresh->recovered(), 36u) << "every record up to its own claim was read back";
  rt.stop();
  EXPECT_EQ(ledger_size(), 31u);
  EXPECT_EQ(fresh->current().next_index, 31u);
  ledger::ledger_view after(*store_, proj_);
  auto latest = after.latest_head().value();
  ASSERT_TRUE(latest);
  EXPECT_EQ(latest->head.size, 31u) << "the head signed at stop covers the new leaf";
  EXPECT_TRUE(merkle::verify_consistency(30, 31, heads.back().head.root, latest->head.root, after.consistency(30, 31).value()));
}

TEST_F(EvidenceLedger, HeadsAreSignedOnTheTickWhenFewerLeavesWait) {
  for (int i = 0; i < 3; ++i) append("mission.artifacts", artifact(i));
  auto o = with_heads(1000);
  o.head_every = std::chrono::milliseconds(50);
  // Time moves only when the test says so: each tick is one advance of the manual clock.
  manual_clock clk;
  actor::runtime_options ro;
  ro.clock = &clk;
  ro.timers = &clk;
  actor::runtime rt(*bus_, ro);
  add_evidence(rt, o);
  ASSERT_TRUE(rt.start());
  ASSERT_TRUE(test::wait_until([&] { return ledger_events() == 4; }));
  // The claim, then fewer leaves than head_every_leaves: no head until the tick.
  EXPECT_EQ(ledger_events(), 4);
  auto tick = [&] {
    const auto before = rt.stats("evidence").ticks;
    ASSERT_TRUE(test::wait_until([&] { return clk.pending() >= 1; }));
    clk.advance(std::chrono::milliseconds(50));
    ASSERT_TRUE(test::wait_until([&] { return rt.stats("evidence").ticks > before; }));
  };
  tick();
  ASSERT_TRUE(test::wait_until([&] { return ledger_events() == 5; }));
  // Idle ticks sign nothing new.
  for (int i = 0; i < 4; ++i) tick();
  EXPECT_EQ(ledger_events(), 5);
  append("mission.validations", artifact(50));
  ASSERT_TRUE(test::wait_until([&] { return ledger_events() == 6; }));
  tick();
  ASSERT_TRUE(test::wait_until([&] { return ledger_events() == 7; }));
  rt.stop();
  EXPECT_EQ(ledger_events(), 7);
  ledger_size();
  auto head = ledger::ledger_view(*store_, proj_).latest_head().value();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->head.size, 4u);
}

}  // namespace
