// libFuzzer: a bus record as another producer (a Kafka client) could write it, decoded and
// rendered the way consumers, projections and subscriptions do; and the input as the JSON
// payload of a new event of each kind. Nothing may throw or crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/missions/events.h"
#include "actors/tenancy/events.h"
#include "core/event/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The types the binary declares at start-up, so known types are parsed strictly.
  static const bool registered = [] {
    nf::missions::register_events(nf::event::type_registry::global());
    nf::tenancy::register_events(nf::event::type_registry::global());
    return true;
  }();
  (void)registered;
  const std::string input(reinterpret_cast<const char*>(data), size);
  nf::bus::message m;
  m.topic = nf::topic_name{"mission.prompts"};
  m.value = input;
  m.key = input.substr(0, 16);
  m.headers.push_back({nf::event::kTypeHeader, "mission.prompted"});
  if (auto env = nf::event::from_message(m)) {
    (void)nf::event::canonical_bytes(*env);
    if (auto p = nf::event::payload_json(*env)) (void)p->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (auto j = nf::event::to_json(m)) (void)j->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (const char* type : {"mission.prompted", "mission.artifact_recorded", "tenancy.tenant_created", "custom.thing"}) {
    nf::event::new_event e;
    e.type = type;
    e.key = "k";
    e.payload_json = input;
    if (auto env = nf::event::build(e)) (void)nf::event::to_record(*env);
  }
  return 0;
}
