// Event ids: UUIDv7 for new facts, and ids derived from their cause for actor outputs, so a
// replayed or restarted actor emits the same ids and consumers can drop duplicates.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace nf::event {

struct event_id {
  std::array<std::uint8_t, 16> bytes{};
  auto operator<=>(const event_id&) const = default;
  bool operator==(const event_id&) const = default;

  std::string to_string() const;                    // canonical 8-4-4-4-12 lowercase hex
  std::string raw() const;                          // the 16 bytes
  bool is_nil() const;
  static result<event_id> parse(std::string_view text);
  static result<event_id> from_raw(std::string_view bytes);
};

// RFC 9562 UUIDv7: 48-bit unix milliseconds, then random bits from OpenSSL's CSPRNG.
event_id new_uuidv7(std::int64_t unix_ms);

// Deterministic id of an actor's n-th output for one input event: the first 16 bytes of
// SHA-256(cause || actor || n), stamped as an RFC 9562 version-8 (custom) UUID.
event_id derive_id(const event_id& cause, std::string_view actor, std::uint64_t n);

}  // namespace nf::event
