// libFuzzer: request bodies of POST /topics/{topic}/events through the batch parser, as JSON and
// as NDJSON, then every accepted event through the envelope builder (contracts of registered
// types, Struct payloads of unknown ones). Nothing may throw or crash; a refusal names a status
// of 400 or 413; an accepted parse holds 1..max events, each with a type, an object payload and
// a digest.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

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
    if (e.type.empty() || e.payload_json.empty() || e.payload_json[0] != '{' || e.digest.size() != 64) std::abort();
    nf::event::new_event ev;
    ev.type = e.type;
    ev.key = e.key;
    ev.payload_json = e.payload_json;
    ev.id = e.id;
    ev.headers = e.headers;
    (void)nf::event::build(ev);
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
