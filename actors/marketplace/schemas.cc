#include "actors/marketplace/schemas.h"

namespace nf::marketplace::schemas {

using json = nlohmann::json;

namespace {
json obj(json props, json required, bool closed = false) {
  json j{{"type", "object"}, {"properties", std::move(props)}, {"required", std::move(required)}};
  if (closed) j["additionalProperties"] = false;
  return j;
}
json str() { return json{{"type", "string"}}; }
json name() { return json{{"type", "string"}, {"pattern", "^[a-z0-9][a-z0-9-]{0,63}$"}}; }
}  // namespace

json publish_body() {
  const json manifest = obj({{"name", name()},
                             {"version", {{"type", "string"}, {"description", "SemVer 2.0.0"}, {"maxLength", 256}}},
                             {"description", {{"type", "string"}, {"minLength", 1}, {"maxLength", 2000}}},
                             {"category", name()},
                             {"capabilities", {{"type", "array"}, {"maxItems", 64}, {"items", str()}}},
                             {"protocols", {{"type", "array"}, {"minItems", 1}, {"items", {{"type", "string"}, {"enum", {"openai-tools", "langchain", "autogen", "nexus"}}}}}},
                             {"dependencies", {{"type", "object"}, {"additionalProperties", str()}, {"description", "name -> npm range"}}},
                             {"entrypoint", str()},
                             {"selftest", {{"type", "string"}, {"maxLength", 1024}}},
                             {"visibility", {{"type", "string"}, {"enum", {"public", "tenant"}}}}},
                            {"name", "version", "description", "category", "protocols", "entrypoint"}, true);
  const json file = {{"oneOf",
                      {{{"type", "string"}, {"description", "base64 content"}},
                       obj({{"content", str()}, {"executable", {{"type", "boolean"}}}, {"symlink", str()}}, json::array(), true)}}};
  return obj({{"manifest", manifest}, {"files", {{"type", "object"}, {"minProperties", 1}, {"additionalProperties", file}}}},
             {"manifest", "files"}, true);
}

json publish_accepted() {
  return obj({{"name", str()}, {"version", str()}, {"status", str()}, {"digest", str()}}, {"name", "version", "status"});
}

json version_doc() {
  return obj({{"name", str()},
              {"version", str()},
              {"status", {{"type", "string"},
                          {"enum", {"submitted", "validated", "scanned", "benchmarked", "pending_review", "approved", "rejected", "failed"}}}},
              {"manifest", {{"type", "object"}}},
              {"files", {{"type", "array"}}},
              {"digest", str()},
              {"findings", {{"type", "array"}}},
              {"benchmark", {{"type", "object"}}},
              {"review", {{"type", "object"}}},
              {"yanked", {{"type", "boolean"}}},
              {"leafIndex", {{"type", "integer"}, {"minimum", 0}}}},
             {"name", "version", "status", "manifest", "files", "digest"});
}

json agent_doc() {
  return obj({{"name", str()},
              {"latest", {{"type", {"string", "null"}}}},
              {"versions", {{"type", "array"}, {"items", obj({{"version", str()}, {"status", str()}, {"yanked", {{"type", "boolean"}}}}, {"version", "status"})}}},
              {"ratingAverage", {{"type", "number"}}},
              {"ratingCount", {{"type", "integer"}}},
              {"installs", {{"type", "integer"}}}},
             {"name", "versions"});
}

json review_body() {
  return obj({{"decision", {{"type", "string"}, {"enum", {"approve", "reject"}}}}, {"feedback", {{"type", "string"}, {"maxLength", 4000}}}},
             {"decision"}, true);
}

json yank_body() { return obj({{"reason", {{"type", "string"}, {"minLength", 1}, {"maxLength", 2000}}}}, {"reason"}, true); }

json rating_body() {
  return obj({{"stars", {{"type", "integer"}, {"minimum", 1}, {"maximum", 5}}}, {"text", {{"type", "string"}, {"maxLength", 4000}}}}, {"stars"},
             true);
}

json installed() { return obj({{"name", str()}, {"version", str()}, {"installed", {{"type", "boolean"}}}}, {"name", "version", "installed"}); }

json resolution() {
  return obj({{"resolved", {{"type", "array"}, {"items", obj({{"name", str()}, {"version", str()}, {"sha256", str()}}, {"name", "version", "sha256"})}}},
              {"order", {{"type", "array"}, {"items", str()}}}},
             {"resolved", "order"});
}

json search_page() {
  const json number{{"type", "number"}, {"minimum", 0}, {"maximum", 1}};
  const json hit = obj({{"name", str()},
                        {"version", str()},
                        {"description", str()},
                        {"category", str()},
                        {"capabilities", {{"type", "array"}, {"items", str()}}},
                        {"protocols", {{"type", "array"}, {"items", str()}}},
                        {"rating", {{"type", "number"}}},
                        {"ratingCount", {{"type", "integer"}}},
                        {"installs", {{"type", "integer"}}},
                        {"score", number},
                        {"explain", obj({{"relevance", number}, {"rating", number}, {"usage", number}, {"weights", {{"type", "object"}}}},
                                        {"relevance", "rating", "usage"})}},
                       {"name", "version", "score"});
  return obj({{"items", {{"type", "array"}, {"items", hit}}}, {"total", {{"type", "integer"}}}, {"page", {{"type", "integer"}}}, {"perPage", {{"type", "integer"}}}},
             {"items", "total", "page", "perPage"});
}

}  // namespace nf::marketplace::schemas
