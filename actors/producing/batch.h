// What POST /topics/{topic}/events carries: one event, a JSON batch ({"events":[...]}) or NDJSON
// (one event per line). Pure: parses and checks shape and limits, names the event (index or line)
// and the field of every refusal; event::build then checks each payload against its contract.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/event/ids.h"

namespace nf::producing {

// One event as the client wrote it.
struct incoming {
  std::string type;
  std::string key;
  nlohmann::json payload;                      // a JSON object, as parsed (event::build takes it as it is)
  std::optional<event::event_id> id;           // client-chosen: the append is idempotent
  std::map<std::string, std::string> headers;
  // expectedVersion: the key's version just before this event (0 or "no_stream": the key has none
  // yet); unset or "any": whatever it is. Needs a key.
  std::optional<std::int64_t> expected_version;
  std::string where;                           // "event", "events[3]" or "line 4", for messages
  // With a client id: SHA-256 (hex) of what identifies the event's content (type, key, payload,
  // headers), which a retry with the same id must repeat. Empty without an id.
  std::string digest;
};

struct limits {
  std::size_t max_events = 1000;
};

// A refusal: the HTTP status (400 or 413), a code, a message naming the event and the field.
struct refusal {
  unsigned status = 400;
  std::string code;
  std::string message;
  std::string field;
};

struct parsed {
  std::vector<incoming> events;
  std::optional<refusal> refused;
};

enum class body_format { json, ndjson };

parsed parse_events(std::string_view body, body_format format, const limits& lim);

}  // namespace nf::producing
