// The body of POST /topics/{topic}/events: one event, a JSON batch or NDJSON; every refusal names
// the event (event, events[i], line N) and the field; limits answer 413 naming the limit; the
// digest a retry must repeat covers the content and not the id.
#include <gtest/gtest.h>

#include "actors/producing/batch.h"

namespace {

using namespace nf::producing;

TEST(ProducingBatch, OneEventABatchAndNdjsonParse) {
  auto one = parse_events(R"({"type":"a.b","key":"k","payload":{"x":1},"headers":{"trace":"t1"}})", body_format::json, {});
  ASSERT_FALSE(one.refused);
  ASSERT_EQ(one.events.size(), 1u);
  EXPECT_EQ(one.events[0].type, "a.b");
  EXPECT_EQ(one.events[0].key, "k");
  EXPECT_EQ(one.events[0].payload, nlohmann::json::parse(R"({"x":1})"));
  EXPECT_EQ(one.events[0].headers.at("trace"), "t1");
  auto batch = parse_events(R"({"events":[{"type":"a.b","payload":{}},{"type":"a.c","payload":{"n":2}}]})", body_format::json, {});
  ASSERT_FALSE(batch.refused);
  EXPECT_EQ(batch.events.size(), 2u);
  EXPECT_EQ(batch.events[1].where, "events[1]");
  auto nd = parse_events("{\"type\":\"a.b\",\"payload\":{}}\r\n\n  \n{\"type\":\"a.c\",\"payload\":{}}", body_format::ndjson, {});
  ASSERT_FALSE(nd.refused);
  ASSERT_EQ(nd.events.size(), 2u);
  EXPECT_EQ(nd.events[1].where, "line 4");
}

TEST(ProducingBatch, RefusalsNameTheEventAndTheField) {
  auto r = parse_events(R"({"events":[{"type":"a.b","payload":{}},{"type":"a.b","payload":[]}]})", body_format::json, {});
  ASSERT_TRUE(r.refused);
  EXPECT_EQ(r.refused->status, 400u);
  EXPECT_EQ(r.refused->field, "events[1].payload");
  EXPECT_NE(r.refused->message.find("events[1]"), std::string::npos);
  auto line = parse_events("{\"type\":\"a.b\",\"payload\":{}}\n{oops", body_format::ndjson, {});
  ASSERT_TRUE(line.refused);
  EXPECT_EQ(line.refused->message.rfind("line 2", 0), 0u) << line.refused->message;
  auto id = parse_events(R"({"type":"a.b","payload":{},"id":"not-a-uuid"})", body_format::json, {});
  ASSERT_TRUE(id.refused);
  EXPECT_EQ(id.refused->field, "id");
  auto header = parse_events(R"({"type":"a.b","payload":{},"headers":{"NF-Epoch":"7"}})", body_format::json, {});
  ASSERT_TRUE(header.refused);
  EXPECT_EQ(header.refused->field, "headers.NF-Epoch");
  auto unknown = parse_events(R"({"type":"a.b","payload":{},"color":"red"})", body_format::json, {});
  ASSERT_TRUE(unknown.refused);
  EXPECT_EQ(unknown.refused->code, "unknown_field");
  // expectedVersion: a number from 0, "no_stream" or "any", and only with a key.
  for (const char* bad : {R"({"type":"a.b","payload":{},"expectedVersion":1})", R"({"type":"a.b","key":"k","payload":{},"expectedVersion":-1})",
                          R"({"type":"a.b","key":"k","payload":{},"expectedVersion":"latest"})",
                          R"({"type":"a.b","key":"k","payload":{},"expectedVersion":1.5})",
                          R"({"type":"a.b","key":"k","payload":{},"expectedVersion":18446744073709551615})"}) {
    auto version = parse_events(bad, body_format::json, {});
    ASSERT_TRUE(version.refused) << bad;
    EXPECT_EQ(version.refused->field, "expectedVersion") << bad;
  }
  auto versions = parse_events(R"({"events":[{"type":"a.b","key":"k","payload":{},"expectedVersion":3},)"
                               R"({"type":"a.b","key":"k","payload":{},"expectedVersion":"no_stream"},)"
                               R"({"type":"a.b","key":"k","payload":{},"expectedVersion":"any"}]})",
                               body_format::json, {});
  ASSERT_FALSE(versions.refused) << versions.refused->message;
  EXPECT_EQ(versions.events[0].expected_version, 3);
  EXPECT_EQ(versions.events[1].expected_version, 0);
  EXPECT_FALSE(versions.events[2].expected_version.has_value());
  EXPECT_TRUE(parse_events("", body_format::ndjson, {}).refused);
  EXPECT_TRUE(parse_events(R"({"events":[]})", body_format::json, {}).refused);
}

TEST(ProducingBatch, TooManyEventsIs413NamingTheLimit) {
  std::string nd;
  for (int i = 0; i < 4; ++i) nd += "{\"type\":\"a.b\",\"payload\":{}}\n";
  auto r = parse_events(nd, body_format::ndjson, {3});
  ASSERT_TRUE(r.refused);
  EXPECT_EQ(r.refused->status, 413u);
  EXPECT_NE(r.refused->message.find("3"), std::string::npos);
  EXPECT_FALSE(parse_events(nd, body_format::ndjson, {4}).refused);
}

TEST(ProducingBatch, TheDigestCoversContentNotTheId) {
  auto a = parse_events(R"({"type":"a.b","key":"k","payload":{"x":1},"id":"01900000-0000-7000-8000-000000000001"})", body_format::json, {});
  auto b = parse_events(R"({"id":"01900000-0000-7000-8000-000000000002","payload":{"x":1},"key":"k","type":"a.b"})", body_format::json, {});
  auto c = parse_events(R"({"type":"a.b","key":"k","payload":{"x":2},"id":"01900000-0000-7000-8000-000000000001"})", body_format::json, {});
  auto d = parse_events(R"({"type":"a.b","key":"j","payload":{"x":1},"id":"01900000-0000-7000-8000-000000000001"})", body_format::json, {});
  auto no_id = parse_events(R"({"type":"a.b","key":"k","payload":{"x":1}})", body_format::json, {});
  ASSERT_FALSE(a.refused || b.refused || c.refused || d.refused || no_id.refused);
  EXPECT_EQ(a.events[0].digest.size(), 64u);
  EXPECT_TRUE(no_id.events[0].digest.empty()) << "only an event with an id can be retried, so only it needs a digest";
  EXPECT_EQ(a.events[0].digest, b.events[0].digest);
  EXPECT_NE(a.events[0].digest, c.events[0].digest);
  EXPECT_NE(a.events[0].digest, d.events[0].digest);
  EXPECT_TRUE(a.events[0].id.has_value());
}

}  // namespace
