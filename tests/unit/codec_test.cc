// Envelope codec: contract JSON names, strict parsing, bus headers.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/event/codec.h"

namespace {

nf::event::new_event prompt(const std::string& payload) {
  nf::event::new_event e;
  e.type = "mission.prompted";
  e.key = "m-1";
  e.tenant = "acme";
  e.payload_json = payload;
  e.region = "eu";
  e.occurred_at = 1700000000000;
  return e;
}

nf::bus::message as_message(const nf::bus::record& r) {
  nf::bus::message m;
  m.topic = nf::topic_name{"mission.prompts"};
  m.partition = nf::partition_id{1};
  m.off = nf::offset{7};
  m.key = r.key;
  m.value = r.value;
  m.headers = r.headers;
  m.timestamp_ms = r.timestamp_ms;
  return m;
}

TEST(Codec, MissionPromptUsesContractFieldNames) {
  auto env = nf::event::build(prompt(
      R"({"id":"0190a0b0-0000-7000-8000-000000000001","objective":"ship","priority":"P0","originatingSpec":"https://spec/1","createdAt":"2026-01-02T03:04:05Z"})"));
  ASSERT_TRUE(env) << env.error().message;
  auto j = nf::event::to_json(as_message(nf::event::to_record(*env)));
  ASSERT_TRUE(j) << j.error().message;
  const auto& p = (*j)["payload"];
  EXPECT_EQ(p["objective"], "ship");
  EXPECT_EQ(p["priority"], "P0");
  EXPECT_EQ(p["originatingSpec"], "https://spec/1");
  EXPECT_EQ(p["createdAt"], "2026-01-02T03:04:05Z");
  EXPECT_EQ((*j)["type"], "mission.prompted");
  EXPECT_EQ((*j)["tenantId"], "acme");
  EXPECT_EQ((*j)["originRegion"], "eu");
  EXPECT_EQ((*j)["offset"], 7);
}

TEST(Codec, AllFourContractsParse) {
  struct c {
    const char* type;
    const char* payload;
    const char* field;
  } cases[] = {
      {"mission.artifact_recorded",
       R"({"artifactId":"a1","missionId":"m1","type":"code","uri":"s3://x","checksum":"sha256:00","reviewer":"r"})", "artifactId"},
      {"mission.validation_reported",
       R"({"reportId":"r1","artifactId":"a1","suite":"unit","result":"pass","coverage":87.5,"generatedAt":"2026-01-01T00:00:00Z"})", "reportId"},
      {"agent.spawned", R"({"agentId":"g1","lifecycle":"spawned","capabilityProfile":"coder","energyBudget":12.5})", "energyBudget"},
  };
  for (const auto& x : cases) {
    auto e = prompt(x.payload);
    e.type = x.type;
    auto env = nf::event::build(e);
    ASSERT_TRUE(env) << x.type << ": " << env.error().message;
    auto j = nf::event::to_json(as_message(nf::event::to_record(*env)));
    ASSERT_TRUE(j);
    EXPECT_TRUE((*j)["payload"].contains(x.field)) << (*j).dump();
  }
}

TEST(Codec, RejectsUnknownFieldsWrongTypesAndBadEnums) {
  EXPECT_FALSE(nf::event::build(prompt(R"({"objective":"x","bogus":1})")));
  EXPECT_FALSE(nf::event::build(prompt(R"({"objective":12})")));
  auto bad_enum = nf::event::build(prompt(R"({"objective":"x","priority":"P9"})"));
  ASSERT_FALSE(bad_enum);
  EXPECT_EQ(bad_enum.error().code, nf::errc::invalid_argument);
  EXPECT_FALSE(nf::event::build(prompt(R"({"objective":"x")")));
  EXPECT_FALSE(nf::event::build(prompt(R"([1,2])")));
  auto e = prompt("{}");
  e.type = "Bad Type";
  EXPECT_FALSE(nf::event::build(e));
}

TEST(Codec, UnknownTypesCarryAnyJsonObject) {
  auto e = prompt(R"({"anything":{"nested":[1,2,3]},"n":1.5})");
  e.type = "custom.thing_happened";
  auto env = nf::event::build(e);
  ASSERT_TRUE(env) << env.error().message;
  auto j = nf::event::to_json(as_message(nf::event::to_record(*env)));
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)["payload"]["anything"]["nested"][2], 3);
}

// The edge that parsed a request hands build() the tree: the payload is the one protobuf's JSON
// parser makes of the same text, contracts are as strict, and the nesting limit holds.
TEST(Codec, APayloadBuiltFromItsTreeEqualsTheOneBuiltFromItsText) {
  const std::string text = R"({"s":"h\u00e9llo \ud83d\ude00","n":-12.5,"big":9007199254740993,"t":true,"f":false,"z":null,)"
                           R"("a":[1,"two",[3,{"four":4}],{}],"o":{"deep":{"deeper":[null]}},"e":{}})";
  auto e = prompt(text);
  e.type = "custom.thing_happened";
  e.id = nf::event::event_id::parse("01900000-0000-7000-8000-000000000001").value();
  auto from_text = nf::event::build(e);
  auto from_tree = nf::event::build(e, nlohmann::json::parse(text));
  ASSERT_TRUE(from_text && from_tree);
  EXPECT_EQ(*nf::event::payload_json(*from_tree), *nf::event::payload_json(*from_text));
  EXPECT_EQ(from_tree->id(), from_text->id());

  // A registered type: the contract decides, from the tree as from the text.
  auto ok = nf::event::build(prompt("{}"), nlohmann::json::parse(R"({"objective":"x","priority":"P1"})"));
  ASSERT_TRUE(ok) << ok.error().message;
  auto unknown_field = nf::event::build(prompt("{}"), nlohmann::json::parse(R"({"objective":"x","bogus":1})"));
  ASSERT_FALSE(unknown_field);
  EXPECT_NE(unknown_field.error().message.find("bogus"), std::string::npos) << unknown_field.error().message;
  EXPECT_FALSE(nf::event::build(prompt("{}"), nlohmann::json::array()));

  // 64 levels pass, 65 do not.
  auto nested = [](int levels) {
    nlohmann::json j = nlohmann::json::object();
    for (int i = 1; i < levels; ++i) j = nlohmann::json{{"x", j}};
    return j;
  };
  auto custom = prompt("{}");
  custom.type = "custom.thing_happened";
  EXPECT_TRUE(nf::event::build(custom, nested(64)));
  auto deep = nf::event::build(custom, nested(65));
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message.find("deeper than 64"), std::string::npos) << deep.error().message;
}

TEST(Codec, RecordCarriesKeyTimestampAndNfHeaders) {
  auto env = nf::event::build(prompt(R"({"objective":"x"})"));
  ASSERT_TRUE(env);
  auto r = nf::event::to_record(*env);
  EXPECT_EQ(r.key, "m-1");
  EXPECT_EQ(r.timestamp_ms, 1700000000000);
  auto m = as_message(r);
  ASSERT_NE(m.find_header("nf-type"), nullptr);
  EXPECT_EQ(*m.find_header("nf-type"), "mission.prompted");
  EXPECT_EQ(*m.find_header("nf-tenant"), "acme");
  EXPECT_EQ(*m.find_header("nf-id"), nf::event::event_id::from_raw(env->id())->to_string());
}

TEST(Codec, GarbageValueIsACorruptionErrorNotACrash) {
  nf::bus::message m;
  m.topic = nf::topic_name{"t"};
  m.value = "\xff\xff\xff garbage";
  auto j = nf::event::to_json(m);
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().code, nf::errc::corruption);
}

}  // namespace
