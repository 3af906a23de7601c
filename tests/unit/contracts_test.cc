// Validation rules of the four contracts at the HTTP edge.
#include <gtest/gtest.h>

#include "actors/missions/contracts.h"

namespace {

using nlohmann::json;
using namespace nf::missions;

const std::string kId = "01900000-0000-7000-8000-000000000001";

std::string field_of(const json& body) {
  auto v = validate_mission_prompt(body, 1'700'000'000'000, kId);
  return v.error ? v.error->field + ":" + v.error->code : "ok";
}

json good_prompt() { return {{"objective", "ship"}, {"priority", "P1"}, {"originatingSpec", "https://spec/1"}}; }

TEST(MissionPromptValidation, AcceptsAMinimalPromptAndFillsDefaults) {
  auto v = validate_mission_prompt(good_prompt(), 1'700'000'000'000, kId);
  ASSERT_TRUE(v) << v.error->message;
  EXPECT_EQ(v.value->id, kId);
  EXPECT_FALSE(v.value->id_given);
  EXPECT_EQ(v.value->payload["createdAt"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(v.value->payload["priority"], "P1");
}

TEST(MissionPromptValidation, EveryRuleNamesItsField) {
  auto with = [](const char* k, json v) {
    auto b = good_prompt();
    b[k] = std::move(v);
    return b;
  };
  auto without = [](const char* k) {
    auto b = good_prompt();
    b.erase(k);
    return b;
  };
  EXPECT_EQ(field_of(without("objective")), "objective:missing_field");
  EXPECT_EQ(field_of(with("objective", "")), "objective:invalid_field");
  EXPECT_EQ(field_of(with("objective", 5)), "objective:invalid_field");
  EXPECT_EQ(field_of(with("objective", std::string(64 * 1024 + 1, 'x'))), "objective:invalid_field");
  EXPECT_EQ(field_of(with("objective", std::string(64 * 1024, 'x'))), "ok");
  EXPECT_EQ(field_of(without("priority")), "priority:missing_field");
  EXPECT_EQ(field_of(with("priority", "P3")), "priority:invalid_field");
  EXPECT_EQ(field_of(with("priority", "p0")), "priority:invalid_field");
  EXPECT_EQ(field_of(without("originatingSpec")), "originatingSpec:missing_field");
  EXPECT_EQ(field_of(with("originatingSpec", "not a uri")), "originatingSpec:invalid_field");
  EXPECT_EQ(field_of(with("originatingSpec", "relative/path")), "originatingSpec:invalid_field");
  EXPECT_EQ(field_of(with("originatingSpec", "urn:spec:42")), "ok");
  EXPECT_EQ(field_of(with("id", "nope")), "id:invalid_field");
  EXPECT_EQ(field_of(with("id", 7)), "id:invalid_field");
  EXPECT_EQ(field_of(with("createdAt", "yesterday")), "createdAt:invalid_field");
  EXPECT_EQ(field_of(with("createdAt", "2026-02-30T00:00:00Z")), "createdAt:invalid_field");
  EXPECT_EQ(field_of(with("createdAt", -5)), "createdAt:invalid_field");
  EXPECT_EQ(field_of(with("createdAt", "2026-01-02T03:04:05.5+02:00")), "ok");
  EXPECT_EQ(field_of(with("createdAt", 1700000000000)), "ok");
  EXPECT_EQ(field_of(with("extra", 1)), "extra:unknown_field");
  EXPECT_EQ(field_of(json::array()), ":invalid_body");
}

TEST(MissionPromptValidation, GivenIdIsKeptLowercase) {
  auto b = good_prompt();
  b["id"] = "01900000-0000-7000-8000-00000000ABCD";
  auto v = validate_mission_prompt(b, 0, kId);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v.value->id_given);
  EXPECT_EQ(v.value->id, "01900000-0000-7000-8000-00000000abcd");
}

TEST(Rfc3339, ParsesOffsetsAndFractionsAndFormatsBack) {
  EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_rfc3339("2026-01-02T03:04:05.123Z"), 1767323045123);
  EXPECT_EQ(parse_rfc3339("2026-01-02T05:04:05.123+02:00"), 1767323045123);
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z").has_value(), true);
  EXPECT_FALSE(parse_rfc3339("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_rfc3339("2026-01-02 03:04:05"));
  EXPECT_FALSE(parse_rfc3339("2026-01-02T03:04:05Zjunk"));
  EXPECT_EQ(format_rfc3339(1767323045123), "2026-01-02T03:04:05.123Z");
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
}

TEST(ArtifactValidation, ChecksumTypeAndMissionRules) {
  json good = {{"artifactId", "a1"}, {"type", "code"}, {"uri", "s3://b/k"},
               {"checksum", "sha256:" + std::string(64, 'a')}, {"reviewer", "r"}};
  EXPECT_TRUE(validate_artifact(good, "m1"));
  auto bad = [&](const char* k, json v) {
    auto b = good;
    b[k] = std::move(v);
    auto r = validate_artifact(b, "m1");
    return r.error ? r.error->field : std::string("ok");
  };
  EXPECT_EQ(bad("checksum", "sha256:" + std::string(63, 'a')), "checksum");
  EXPECT_EQ(bad("checksum", "md5:" + std::string(64, 'a')), "checksum");
  EXPECT_EQ(bad("checksum", "sha256:" + std::string(64, 'A')), "checksum");
  EXPECT_EQ(bad("type", "binary"), "type");
  EXPECT_EQ(bad("uri", "no scheme"), "uri");
  EXPECT_EQ(bad("missionId", "m2"), "missionId");
  EXPECT_EQ(bad("missionId", "m1"), "ok");
  EXPECT_EQ(bad("reviewer", ""), "reviewer");
}

TEST(ValidationReportValidation, ResultAndCoverageRules) {
  json good = {{"reportId", "r1"}, {"artifactId", "a1"}, {"suite", "unit"}, {"result", "pass"}, {"coverage", 80.5}};
  EXPECT_TRUE(validate_validation(good, 0));
  auto bad = [&](const char* k, json v) {
    auto b = good;
    b[k] = std::move(v);
    auto r = validate_validation(b, 0);
    return r.error ? r.error->field : std::string("ok");
  };
  EXPECT_EQ(bad("coverage", 100.01), "coverage");
  EXPECT_EQ(bad("coverage", -1), "coverage");
  EXPECT_EQ(bad("coverage", "80"), "coverage");
  EXPECT_EQ(bad("coverage", 100), "ok");
  EXPECT_EQ(bad("result", "skipped"), "result");
  EXPECT_EQ(bad("generatedAt", "soon"), "generatedAt");
}

TEST(AgentLifecycleValidation, EnergyBudgetAndLifecycleRules) {
  json good = {{"agentId", "g1"}, {"lifecycle", "spawned"}, {"capabilityProfile", "coder"}, {"energyBudget", 10}};
  EXPECT_TRUE(validate_agent_lifecycle(good));
  auto bad = [&](const char* k, json v) {
    auto b = good;
    b[k] = std::move(v);
    auto r = validate_agent_lifecycle(b);
    return r.error ? r.error->field : std::string("ok");
  };
  EXPECT_EQ(bad("energyBudget", -0.5), "energyBudget");
  EXPECT_EQ(bad("energyBudget", "lots"), "energyBudget");
  EXPECT_EQ(bad("lifecycle", "paused"), "lifecycle");
  EXPECT_EQ(bad("energyBudget", 0), "ok");
}

}  // namespace
