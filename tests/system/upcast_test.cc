// Schema evolution on a real data dir: a log whose mission prompts are MissionPrompt v1 (no
// createdAt, schema version 1) and a log of the same prompts written natively in v2 (createdAt
// set, version 2). The current binary rebuilds the missions read model of both to the same
// digest, and `replay` prints the old log's prompts as v2 events.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <google/protobuf/util/time_util.h>

#include <fstream>
#include <sstream>

#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "core/event/ids.h"
#include "envelope.pb.h"
#include "missions.pb.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

namespace t = nf::test;
namespace fs = std::filesystem;
using nlohmann::json;
using namespace nf;

constexpr int kPrompts = 40;

// Writes kPrompts mission.prompted events into data/bus, v1 (without createdAt) or v2.
void write_log(const fs::path& data, bool v1) {
  bus::embedded_options o;
  o.path = (data / "bus").string();
  o.retention_check_ms = 0;
  auto b = std::move(bus::open_embedded(o).value());
  for (const char* topic : {"mission.prompts", "mission.lifecycle", "mission.artifacts", "mission.validations"})
    ASSERT_TRUE(b->create_topic(topic_name{topic}, {.partitions = 2}));
  for (int i = 0; i < kPrompts; ++i) {
    const std::int64_t at = 1'700'000'000'000 + i * 1000;
    char id[40];
    std::snprintf(id, sizeof id, "01900000-0000-7000-8000-%012d", i);
    events::MissionPrompt p;
    p.set_id(id);
    p.set_objective("objective " + std::to_string(i));
    p.set_priority(events::P1);
    p.set_originating_spec("https://spec/" + std::to_string(i));
    if (!v1) *p.mutable_created_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(at);
    events::Envelope env;
    env.set_id(event::event_id::parse(id).value().raw());
    env.set_type("mission.prompted");
    env.set_schema_version(v1 ? 1 : 2);
    env.set_tenant_id("acme");
    env.set_key(id);
    env.set_occurred_at(at);
    env.set_origin_region("local");
    env.mutable_payload()->PackFrom(p);
    const auto rec = event::to_record(env);
    ASSERT_TRUE(b->append(topic_name{"mission.prompts"}, std::span<const bus::record>(&rec, 1)));
  }
}

std::string config_for(const fs::path& dir, const fs::path& data) {
  const auto path = (dir / (data.filename().string() + ".json")).string();
  std::ofstream(path) << json{{"data_dir", data.string()}}.dump();
  return path;
}

TEST(SchemaEvolution, AV1LogRebuildsToTheStateOfANativeV2LogAndReplaysAsV2) {
  t::temp_dir dir;
  const auto old_data = dir.path() / "v1", new_data = dir.path() / "v2";
  write_log(old_data, true);
  write_log(new_data, false);
  std::map<std::string, std::string> digests;
  for (const auto& data : {old_data, new_data}) {
    const auto config = config_for(dir.path(), data);
    auto r = t::run({t::nexus_forge_binary(), "rebuild", "missions", "--config", config, "--json", "-q"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto report = json::parse(r.out);
    EXPECT_EQ(report["events"], kPrompts);
    digests[data.filename().string()] = report["newDigest"];
  }
  EXPECT_EQ(digests["v1"], digests["v2"]) << "the upcast v1 log folds to another state than the native v2 log";

  auto replayed = t::run({t::nexus_forge_binary(), "replay", "--config", config_for(dir.path(), old_data), "--topic", "mission.prompts", "--json", "-q"});
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  std::istringstream lines(replayed.out);
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto j = json::parse(line);
    EXPECT_EQ(j["schemaVersion"], 2) << line;
    EXPECT_TRUE(j["payload"].contains("createdAt")) << line;
    ++n;
  }
  EXPECT_EQ(n, kPrompts);
}

TEST(SchemaEvolution, AnEventOfANewerVersionIsRefusedNamingTypeAndVersion) {
  t::temp_dir dir;
  const auto data = dir.path() / "future";
  write_log(data, false);
  {
    bus::embedded_options o;
    o.path = (data / "bus").string();
    o.retention_check_ms = 0;
    auto b = std::move(bus::open_embedded(o).value());
    events::Envelope env;
    env.set_id(event::new_uuidv7(1'800'000'000'000).raw());
    env.set_type("mission.prompted");
    env.set_schema_version(7);
    env.set_key("m-future");
    env.set_occurred_at(1'800'000'000'000);
    env.mutable_payload()->PackFrom(events::MissionPrompt());
    const auto rec = event::to_record(env);
    ASSERT_TRUE(b->append(topic_name{"mission.prompts"}, std::span<const bus::record>(&rec, 1)));
  }
  const auto config = config_for(dir.path(), data);
  auto r = t::run({t::nexus_forge_binary(), "rebuild", "missions", "--config", config, "-q"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("'mission.prompted' version 7 is newer than this code reads (up to 2)"), std::string::npos) << r.err;
}

}  // namespace
