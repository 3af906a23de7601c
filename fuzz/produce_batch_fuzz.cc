// libFuzzer: request bodies of POST /topics/{topic}/events through the batch parser, as JSON and
// as NDJSON, then every accepted event through the envelope builder (contracts of registered
// types, Struct payloads of unknown ones). Nothing may throw or crash; a refusal names a status
// of 400 or 413; an accepted parse holds 1..max events, each with a type, an object payload and
// a digest when it has an id; a payload built from the parsed tree equals the one protobuf's JSON
// parser builds from its text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actors/missions/events.h"
#include "actors/producing/batch.h"
#include "core/event/codec.h"
#include "core/event/types.h"

namespace {

bool registered() {
  nf::missions::register_events(nf::event::type_registry::global());
  return true;
}

void check(const nf::producing::parsed& p, std::size_t max) {
  if (p.refused) {
    if (p.refused->status != 400 && p.refused->status != 413) std::abort();
    if (p.refused->message.empty()) std::abort();
    return;
  }
  if (p.events.empty() || p.events.size() > max) std::abort();
  for (const auto& e : p.events) {
    if (e.type.empty() || !e.payload.is_object() || e.digest.size() != (e.id ? 64u : 0u)) std::abort();
    nf::event::new_event ev;
    ev.type = e.type;
    ev.key = e.key;
    ev.id = e.id ? e.id : nf::event::event_id::parse("01900000-0000-7000-8000-000000000001").value();
    ev.occurred_at = 1;
    ev.headers = e.headers;
    auto from_tree = nf::event::build(ev, e.payload);
    // The tree and protobuf's own JSON parser of the same text agree: both accept with the same
    // payload, or both refuse.
    ev.payload_json = e.payload.dump();
    auto from_text = nf::event::build(ev);
    if (from_tree.has_value() != from_text.has_value()) std::abort();
    if (from_tree) {
      auto a = nf::event::payload_json(*from_tree);
      auto b = nf::event::payload_json(*from_text);
      if (a.has_value() != b.has_value() || (a && *a != *b)) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool once = registered();
  (void)once;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  check(nf::producing::parse_events(body, nf::producing::body_format::json, {50}), 50);
  check(nf::producing::parse_events(body, nf::producing::body_format::ndjson, {50}), 50);
  return 0;
}
