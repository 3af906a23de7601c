// Compacted topics over HTTP, on a real node served on 127.0.0.1: POST /topics takes
// "cleanup": "compact" (and a tombstone retention), GET shows it, a keyless event is refused with
// 400 and nothing appended, and bad combinations name their field. The node's own heartbeat
// topic is compacted.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/bus/embedded.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/http_client.h"
#include "tests/support/node.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;

TEST(CompactedTopicsHttp, ACompactedTopicIsMadeShownAndRefusesKeylessEventsOverHttp) {
  test::in_process_node n{"compacted"};
  const int port = n.listen();
  test::http_client c("127.0.0.1", port, test::admin_headers());
  auto made = c.post("/topics", R"({"name":"directory","cleanup":"compact","deleteRetentionMs":60000,"acceptUnknownTypes":true})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(json::parse(made.body)["cleanup"], "compact");
  EXPECT_EQ(json::parse(made.body)["deleteRetentionMs"], 60000);
  auto shown = c.get("/topics/directory");
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(json::parse(shown.body)["cleanup"], "compact");
  EXPECT_EQ(json::parse(shown.body)["deleteRetentionMs"], 60000);
  auto info = n.bus().describe_topic(topic_name{"directory"});
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->config.compact);
  EXPECT_EQ(info->config.delete_retention_ms, 60000);

  auto keyless = c.post("/topics/directory/events", R"({"type":"entry.set","payload":{"v":1}})");
  EXPECT_EQ(keyless.status, 400) << keyless.body;
  EXPECT_NE(keyless.body.find("needs a key"), std::string::npos) << keyless.body;
  EXPECT_TRUE(test::read_topic(n.bus(), "directory").empty());
  auto keyed = c.post("/topics/directory/events", R"({"type":"entry.set","key":"alpha","payload":{"v":1}})");
  EXPECT_EQ(keyed.status, 201) << keyed.body;
  EXPECT_EQ(test::read_topic(n.bus(), "directory").size(), 1u);

  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"name":"both","cleanup":"compact","retentionMs":1000})", "cleanup"},
           {R"({"name":"tomb","deleteRetentionMs":1000})", "deleteRetentionMs"},
           {R"({"name":"neg","cleanup":"compact","deleteRetentionMs":-5})", "deleteRetentionMs"},
           {R"({"name":"bogus","cleanup":"shred"})", "cleanup"}}) {
    auto bad = c.post("/topics", body);
    EXPECT_EQ(bad.status, 400) << body << " " << bad.body;
    EXPECT_EQ(json::parse(bad.body)["error"]["field"], field) << bad.body;
  }
  EXPECT_FALSE(n.bus().describe_topic(topic_name{"both"}));

  // The heartbeats: each a whole instance's state, keyed by instance id.
  auto instances = n.bus().describe_topic(topic_name{"platform.instances"});
  ASSERT_TRUE(instances);
  EXPECT_TRUE(instances->config.compact);
  EXPECT_EQ(instances->config.retention_ms, -1);
}

}  // namespace
