// evidence actor + ledger projection on the embedded bus: every artifact and validation event
// becomes exactly one leaf, with a verifiable inclusion proof, across restarts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/evidence/evidence.h"
#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "projections/ledger/ledger.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;

class EvidenceLedger : public ::testing::Test {
 protected:
  void SetUp() override {
    bus::embedded_options o;
    o.path = (dir_.path() / "bus").string();
    o.sync = false;
    o.retention_check_ms = 0;
    bus_ = std::move(bus::open_embedded(o).value());
    ASSERT_TRUE(bus_->create_topic(topic_name{"mission.artifacts"}, {2, -1, -1}));
    ASSERT_TRUE(bus_->create_topic(topic_name{"mission.validations"}, {2, -1, -1}));
    ASSERT_TRUE(bus_->create_topic(topic_name{evidence::kLedgerTopic}, {1, -1, -1}));
    store_ = std::move(projection::store::open({(dir_.path() / "store").string(), false}).value());
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

  std::uint64_t ledger_size() {
    projection::runner run(*store_, proj_, *bus_, {256});
    EXPECT_TRUE(run.catch_up());
    return ledger::ledger_view(*store_, proj_).size().value();
  }

  std::int64_t ledger_events() { return bus_->end_offset({topic_name{evidence::kLedgerTopic}, partition_id{0}})->get(); }

  test::temp_dir dir_;
  std::unique_ptr<bus::embedded_bus> bus_;
  std::unique_ptr<projection::store> store_;
  ledger::ledger_projection proj_;
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
    rt.add(std::make_shared<evidence::actor>(), {});
    ASSERT_TRUE(rt.start());
    ASSERT_TRUE(test::wait_until([&] { return ledger_events() == 30; }));
    rt.stop();
  }
  ASSERT_EQ(ledger_size(), 30u);
  ledger::ledger_view view(*store_, proj_);
  const auto id7 = event::event_id::from_raw(envs[7].id())->to_string();
  auto index = view.index_of_event(id7).value();
  ASSERT_TRUE(index);
  auto e = view.get(*index).value();
  EXPECT_EQ(e.data, event::canonical_bytes(envs[7])) << "the leaf is the event's canonical bytes";
  const auto root = view.root(30).value();
  EXPECT_TRUE(merkle::verify_inclusion(merkle::leaf_hash(event::canonical_bytes(envs[7])), *index, 30, view.inclusion(*index, 30).value(), root));

  // A new runtime rebuilds the actor's state from the ledger and adds only what is new.
  append("mission.artifacts", artifact(100));
  auto fresh = std::make_shared<evidence::actor>();
  actor::runtime rt(*bus_, {});
  rt.add(fresh, {});
  ASSERT_TRUE(rt.start());
  EXPECT_EQ(rt.stats("evidence").recovered, 30u);
  ASSERT_TRUE(test::wait_until([&] { return ledger_events() == 31; }));
  rt.stop();
  EXPECT_EQ(ledger_size(), 31u);
  EXPECT_EQ(fresh->current().next_index, 31u);
}

}  // namespace
