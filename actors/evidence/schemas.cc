// JSON Schemas of the evidence routes; they say what routes.cc answers.
#include "actors/evidence/schemas.h"

namespace nf::evidence::schemas {

using json = nlohmann::json;

namespace {
json obj(json props, json required) { return json{{"type", "object"}, {"properties", std::move(props)}, {"required", std::move(required)}}; }
json hex_hash() { return json{{"type", "string"}, {"pattern", "^[0-9a-f]{64}$"}}; }
json count() { return json{{"type", "integer"}, {"minimum", 0}}; }
json hashes() { return json{{"type", "array"}, {"items", hex_hash()}}; }
}  // namespace

json record_request() {
  return json{{"type", "object"},
              {"additionalProperties", false},
              {"properties",
               {{"data", {{"type", "string"}, {"contentEncoding", "base64"}, {"description", "the record's bytes (or give json)"}}},
                {"json", {{"description", "a JSON value to record (or give data)"}}},
                {"kind", {{"type", "string"}, {"pattern", "^[a-z0-9._-]{1,64}$"}}},
                {"missionId", {{"type", "string"}, {"minLength", 1}, {"maxLength", 128}}},
                {"artifactId", {{"type", "string"}, {"minLength", 1}, {"maxLength", 128}}}}},
              {"required", {"kind"}}};
}

json recorded() {
  return obj({{"eventId", {{"type", "string"}}},
              {"sha256", hex_hash()},
              {"size", count()},
              {"leaf_index", {{"type", {"integer", "null"}}}},
              {"leaf_hash", hex_hash()},
              {"status", {{"type", "string"}}}},
             {"eventId", "sha256", "size", "leaf_index"});
}

json blob_stored() { return obj({{"sha256", hex_hash()}, {"size", count()}}, {"sha256", "size"}); }

json tree_head() {
  return obj({{"tree_size", count()},
              {"root_hash", hex_hash()},
              {"timestamp", count()},
              {"signature", {{"type", "string"}, {"pattern", "^[0-9a-f]+$"}}},
              {"key_id", hex_hash()},
              {"algorithm", {{"type", "string"}, {"const", "Ed25519"}}}},
             {"tree_size", "root_hash", "timestamp", "signature", "key_id", "algorithm"});
}

json entry() {
  return obj({{"index", count()},
              {"leaf_hash", hex_hash()},
              {"data", {{"type", "string"}, {"contentEncoding", "base64"}}},
              {"eventId", {{"type", "string"}}},
              {"eventType", {{"type", "string"}}},
              {"missionId", {{"type", "string"}}},
              {"artifactId", {{"type", "string"}}},
              {"source", obj({{"topic", {{"type", "string"}}}, {"partition", count()}, {"offset", count()}}, {"topic", "partition", "offset"})}},
             {"index", "leaf_hash", "data", "eventId", "source"});
}

json inclusion() {
  return obj({{"leaf_index", count()}, {"tree_size", count()}, {"leaf_hash", hex_hash()}, {"root_hash", hex_hash()}, {"audit_path", hashes()}},
             {"leaf_index", "tree_size", "leaf_hash", "root_hash", "audit_path"});
}

json consistency() {
  return obj({{"first", count()}, {"second", count()}, {"first_root", hex_hash()}, {"second_root", hex_hash()}, {"consistency", hashes()}},
             {"first", "second", "first_root", "second_root", "consistency"});
}

json search() { return obj({{"indices", {{"type", "array"}, {"items", count()}}}}, {"indices"}); }

json public_key() {
  return obj({{"algorithm", {{"type", "string"}}}, {"key_id", {{"type", "string"}}}, {"public_key_pem", {{"type", "string"}}}},
             {"algorithm", "key_id", "public_key_pem"});
}

}  // namespace nf::evidence::schemas
