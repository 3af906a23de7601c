// The event type registry: which payload message each event type carries and its current schema
// version. Features fill it at start-up (each feature's register_events), the core machinery
// adds its own (platform.dead_lettered); the codec parses a known type's JSON payload strictly
// into its message. Types nobody registered carry any JSON object (google.protobuf.Struct).
// core/event knows no feature: it only holds what was registered.
//
// Schema evolution: a type's owner registers an upcaster per older version it still reads, each
// turning version n into n + 1. event::from_message runs the chain on read, so every consumer,
// projection, replay and export sees only the current version; an event of a version newer than
// the code knows is refused with an error naming type and versions, never misread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/base/result.h"

namespace google::protobuf {
class Descriptor;
}
namespace nf::events {
class Envelope;
}

namespace nf::event {

struct type_info {
  std::string name;                                      // "mission.prompted"
  const google::protobuf::Descriptor* payload = nullptr; // the message every event of the type carries
  std::uint32_t schema_version = 1;                      // the version the code writes
  std::string owner;                                     // the feature (or "core") that declared it
};

class type_registry {
 public:
  // The process's registry.
  static type_registry& global();
  // Declares a type. Declaring it again with the same payload is a no-op; with another payload or
  // owner it is a start-up bug (std::logic_error).
  void add(std::string_view name, const google::protobuf::Descriptor* payload, std::string_view owner, std::uint32_t schema_version = 1);
  // nullptr for a type nobody declared.
  const type_info* find(std::string_view name) const;
  std::vector<type_info> all() const;

  // Turns an envelope of version `from` into `from + 1`: it rewrites the payload (it may unpack
  // an older message and pack the current one) and nothing else; the registry sets the version.
  using upcaster = std::function<result<void>(events::Envelope& env)>;
  // Registers the step from `from` (1 <= from < the type's current version; std::logic_error
  // otherwise); the type must be declared first. Registering a step again keeps the first.
  void add_upcaster(std::string_view type, std::uint32_t from, upcaster fn);
  // Brings `env` to its type's current version by the chain of upcasters (nothing to do for the
  // current version and for undeclared types; 0 counts as 1, the version before versions were
  // stamped). errc::unsupported for a version newer than the code knows, or one no chain leads
  // from; an upcaster's own error is returned naming the step. `env` is then left as it was read.
  result<void> upcast(events::Envelope& env) const;

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, type_info> types_;
  std::map<std::pair<std::string, std::uint32_t>, upcaster, std::less<>> upcasters_;
  // Moves on every add(): threads keep the current versions they looked up until it does, so the
  // common case (an event already at its current version) takes no lock.
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace nf::event
