// JSON Schemas of the missions routes; they say what actors/missions/contracts.cc enforces.
#include "actors/missions/schemas.h"

namespace nf::missions::schemas {

using json = nlohmann::json;

namespace {
json str(int max) { return json{{"type", "string"}, {"minLength", 1}, {"maxLength", max}}; }
json time_value() {
  return json{{"oneOf", json::array({json{{"type", "string"}, {"format", "date-time"}},
                                     json{{"type", "integer"}, {"minimum", 0}, {"maximum", 253402300799999LL}}})},
              {"description", "RFC 3339 date-time or unix milliseconds; default: now"}};
}
json object(json props, json required) {
  return json{{"type", "object"}, {"additionalProperties", false}, {"properties", std::move(props)}, {"required", std::move(required)}};
}
}  // namespace

json mission_prompt() {
  return object({{"id", {{"type", "string"}, {"format", "uuid"}, {"description", "default: a new UUIDv7; re-sending an id is idempotent"}}},
                 {"objective", str(64 * 1024)},
                 {"priority", {{"type", "string"}, {"enum", {"P0", "P1", "P2"}}}},
                 {"originatingSpec", {{"type", "string"}, {"format", "uri"}, {"maxLength", 8192}}},
                 {"createdAt", time_value()}},
                {"objective", "priority", "originatingSpec"});
}

json artifact_evidence() {
  return object({{"artifactId", str(256)},
                 {"missionId", {{"type", "string"}, {"description", "must equal the mission in the path"}}},
                 {"type", {{"type", "string"}, {"enum", {"code", "analysis", "test"}}}},
                 {"uri", {{"type", "string"}, {"format", "uri"}, {"maxLength", 8192}}},
                 {"checksum", {{"type", "string"}, {"pattern", "^sha256:[0-9a-f]{64}$"}}},
                 {"reviewer", str(256)}},
                {"artifactId", "type", "uri", "checksum", "reviewer"});
}

json validation_report() {
  return object({{"reportId", str(256)},
                 {"artifactId", str(256)},
                 {"suite", str(256)},
                 {"result", {{"type", "string"}, {"enum", {"pass", "fail"}}}},
                 {"coverage", {{"type", "number"}, {"minimum", 0}, {"maximum", 100}}},
                 {"generatedAt", time_value()}},
                {"reportId", "artifactId", "suite", "result", "coverage"});
}

json agent_lifecycle() {
  return object({{"agentId", str(256)},
                 {"lifecycle", {{"type", "string"}, {"enum", {"spawned", "escalated", "retired"}}}},
                 {"capabilityProfile", {{"type", "string"}, {"maxLength", 4096}}},
                 {"energyBudget", {{"type", "number"}, {"minimum", 0}}}},
                {"agentId", "lifecycle", "energyBudget"});
}

json accepted() {
  return json{{"type", "object"},
              {"required", {"id", "topic", "partition", "offset"}},
              {"properties",
               {{"id", {{"type", "string"}}},
                {"topic", {{"type", "string"}}},
                {"partition", {{"type", "integer"}, {"minimum", 0}}},
                {"offset", {{"type", "integer"}, {"minimum", 0}}}}}};
}

json mission() {
  return json{{"type", "object"},
              {"required", {"id", "status"}},
              {"properties",
               {{"id", {{"type", "string"}}},
                {"objective", {{"type", "string"}}},
                {"priority", {{"type", "string"}, {"enum", {"P0", "P1", "P2"}}}},
                {"originatingSpec", {{"type", "string"}}},
                {"createdAt", {{"type", "string"}}},
                {"status", {{"type", "string"}, {"enum", {"prompted", "accepted", "in_progress", "validated", "failed"}}}},
                {"history", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                {"artifacts", {{"type", "object"}}}}}};
}

json mission_page() {
  return json{{"type", "object"},
              {"required", {"items", "nextCursor"}},
              {"properties",
               {{"items", {{"type", "array"}, {"items", mission()}}},
                {"nextCursor", {{"type", {"string", "null"}}, {"description", "pass as cursor for the next page; null on the last"}}}}}};
}

json agents() {
  return json{{"type", "object"},
              {"required", {"items"}},
              {"properties", {{"items", {{"type", "array"}, {"items", {{"type", "object"}, {"required", {"agentId"}}}}}}}}};
}

}  // namespace nf::missions::schemas
