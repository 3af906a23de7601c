// mission_control on the embedded bus: priority scheduling of pending prompts, and state
// recovered from its inputs after a restart.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/missions/mission_control.h"
#include "core/bus/embedded.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;
using namespace std::chrono_literals;

class MissionControl : public ::testing::Test {
 protected:
  void SetUp() override {
    bus::embedded_options o;
    o.path = dir_.str();
    o.sync = false;
    o.retention_check_ms = 0;
    auto b = bus::open_embedded(o);
    ASSERT_TRUE(b);
    bus_ = std::move(*b);
    for (const char* t : {"mission.prompts", "mission.artifacts", "mission.validations", "mission.lifecycle"})
      ASSERT_TRUE(bus_->create_topic(topic_name{t}, {1, -1, -1}));
  }

  void append(const std::string& topic, const std::string& type, const std::string& key, const json& payload) {
    event::new_event e;
    e.type = type;
    e.key = key;
    e.payload_json = payload.dump();
    e.occurred_at = system_clock::instance().now_ms();
    auto env = event::build(e);
    ASSERT_TRUE(env) << env.error().message;
    auto rec = event::to_record(*env);
    ASSERT_TRUE(bus_->append(topic_name{topic}, std::span<const bus::record>(&rec, 1)));
  }

  std::vector<json> lifecycle() {
    std::vector<json> out;
    topic_partition tp{topic_name{"mission.lifecycle"}, partition_id{0}};
    auto c = bus_->make_consumer({});
    EXPECT_TRUE((*c)->assign({{tp, offset{0}}}));
    const auto end = bus_->end_offset(tp)->get();
    while (static_cast<std::int64_t>(out.size()) < end) {
      auto m = (*c)->poll(500ms, 100);
      if (!m || m->empty()) break;
      for (const auto& x : *m) out.push_back(*event::to_json(x));
    }
    return out;
  }

  test::temp_dir dir_;
  std::unique_ptr<bus::event_bus> bus_;
};

TEST_F(MissionControl, PendingPromptsAreAcceptedP0First) {
  const std::vector<std::pair<std::string, std::string>> prompts = {{"m1", "P2"}, {"m2", "P2"}, {"m3", "P1"}, {"m4", "P0"}, {"m5", "P1"}};
  for (const auto& [id, prio] : prompts)
    append("mission.prompts", "mission.prompted", id, {{"id", id}, {"objective", "o"}, {"priority", prio}, {"originatingSpec", "a:b"}});
  actor::runtime rt(*bus_, {});
  rt.add(std::make_shared<mission_control::actor>(), {});
  ASSERT_TRUE(rt.start());
  ASSERT_TRUE(test::wait_until([&] { return bus_->end_offset({topic_name{"mission.lifecycle"}, partition_id{0}})->get() == 5; }));
  rt.stop();
  std::vector<std::string> order;
  for (const auto& e : lifecycle()) order.push_back(e["payload"]["missionId"].get<std::string>());
  EXPECT_EQ(order, (std::vector<std::string>{"m4", "m3", "m5", "m1", "m2"}));
  auto committed = bus_->committed("actor.mission_control", {topic_name{"mission.prompts"}, partition_id{0}});
  ASSERT_TRUE(committed && committed->has_value());
  EXPECT_EQ((*committed)->get(), 5) << "every prompt handled, so the watermark reaches the end";
}

TEST_F(MissionControl, RestartRecoversStateFromItsInputs) {
  append("mission.prompts", "mission.prompted", "m1", {{"id", "m1"}, {"objective", "o"}, {"priority", "P1"}, {"originatingSpec", "a:b"}});
  append("mission.artifacts", "mission.artifact_recorded", "m1",
         {{"artifactId", "a1"}, {"missionId", "m1"}, {"type", "code"}, {"uri", "s3://x"}, {"checksum", "sha256:00"}, {"reviewer", "r"}});
  {
    actor::runtime rt(*bus_, {});
    rt.add(std::make_shared<mission_control::actor>(), {});
    ASSERT_TRUE(rt.start());
    ASSERT_TRUE(test::wait_until([&] { return lifecycle().size() == 2; }));
    rt.stop();
  }
  append("mission.validations", "mission.validation_reported", "m1",
         {{"reportId", "r1"}, {"artifactId", "a1"}, {"suite", "s"}, {"result", "pass"}, {"coverage", 90}});
  auto fresh = std::make_shared<mission_control::actor>();
  actor::runtime rt(*bus_, {});
  rt.add(fresh, {});
  ASSERT_TRUE(rt.start());
  EXPECT_EQ(rt.stats("mission_control").recovered, 2u);
  ASSERT_TRUE(test::wait_until([&] { return lifecycle().size() == 3; }))
      << "handled " << rt.stats("mission_control").handled << " failures " << rt.stats("mission_control").failures << " status "
      << fresh->current().missions.at("m1").status;
  rt.stop();
  auto events = lifecycle();
  EXPECT_EQ(events[0]["type"], "mission.accepted");
  EXPECT_EQ(events[1]["type"], "mission.started");
  EXPECT_EQ(events[2]["type"], "mission.validated");
  EXPECT_EQ(events.size(), 3u) << "the restart must not announce anything twice";
}

}  // namespace
