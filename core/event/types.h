// The event type registry: which payload message each event type carries and its current schema
// version. Features fill it at start-up (each feature's register_events), the core machinery
// adds its own (platform.dead_lettered); the codec parses a known type's JSON payload strictly
// into its message. Types nobody registered carry any JSON object (google.protobuf.Struct).
// core/event knows no feature: it only holds what was registered.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace google::protobuf {
class Descriptor;
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

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, type_info> types_;
};

}  // namespace nf::event
