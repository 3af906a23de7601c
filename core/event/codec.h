// Envelope codec: builds envelopes from JSON payloads, maps them to bus records (with the
// nf-type / nf-id / nf-tenant headers other Kafka tools can filter on) and renders them as JSON.
// JSON payload field names are the contract names (lowerCamelCase), e.g. originatingSpec.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/event/ids.h"
#include "envelope.pb.h"

namespace google::protobuf {
class Message;
}

namespace nf::event {

inline constexpr const char* kTypeHeader = "nf-type";
inline constexpr const char* kIdHeader = "nf-id";
inline constexpr const char* kTenantHeader = "nf-tenant";
// On a record a region link copied from another region: "<source region> <source offset>"
// (actors/regions). Actors leave such records alone: the region that wrote the event handled it,
// and its effects are copied too.
inline constexpr const char* kMirrorHeader = "nf-mirror";

// Full protobuf name of the payload message of a registered event type ("mission.prompted" ->
// "nf.events.MissionPrompt", see types.h), or empty for types nobody registered, whose payload
// is any JSON object (stored as google.protobuf.Struct).
std::string payload_type_of(std::string_view event_type);

struct new_event {
  std::string type;
  std::string key;
  std::string tenant;
  std::string payload_json;                    // a JSON object (the edge: HTTP and CLI input)
  const google::protobuf::Message* message = nullptr;  // set: the typed payload, used instead of payload_json
  std::string region;
  std::int64_t occurred_at = 0;                // unix ms
  std::optional<event_id> id;                  // unset: a fresh UUIDv7
  std::optional<event_id> causation;
  std::optional<event_id> correlation;
  std::uint32_t schema_version = 1;           // for unregistered types; registered ones get theirs
  std::map<std::string, std::string> headers;
};

// Validates the type name and parses the payload strictly (unknown fields, wrong types and
// bad enum values are errors that name the field).
result<events::Envelope> build(const new_event& e);

// The same with the payload already parsed (e.payload_json is not read): the edge that parsed a
// request once does not parse it again. A payload of an unregistered type becomes a
// google.protobuf.Struct straight from the tree; a registered type is parsed strictly as above.
result<events::Envelope> build(const new_event& e, const nlohmann::json& payload);

// A typed event: the payload message is packed as it is (no JSON). For a registered type the
// message must be the one the type declares (invalid_argument otherwise).
result<events::Envelope> build(const new_event& e, const google::protobuf::Message& payload);

bus::record to_record(const events::Envelope& env);
// Deterministic protobuf encoding (map entries sorted): the bytes the evidence ledger hashes.
std::string canonical_bytes(const events::Envelope& env);
// The envelope of a record, at its type's current schema version (type_registry::upcast): what
// every consumer reads. errc::corruption for bytes that are no envelope; errc::unsupported for a
// version the code cannot read (newer, or without upcasters), naming the record.
result<events::Envelope> from_message(const bus::message& m);
// The envelope exactly as it was written, never upcast: for what checks stored bytes (the
// evidence ledger records and verifies events as they are in the log).
result<events::Envelope> from_message_as_stored(const bus::message& m);

// {"topic","partition","offset","timestamp","id","type",...,"payload":{...}}
result<nlohmann::json> to_json(const bus::message& m);
result<nlohmann::json> payload_json(const events::Envelope& env);

}  // namespace nf::event
