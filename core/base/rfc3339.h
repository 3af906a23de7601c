// RFC 3339 date-times ("2026-01-02T03:04:05.123Z", offsets allowed) to and from unix milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace nf {

// nullopt unless `s` is a complete RFC 3339 date-time with a zone (Z or +hh:mm).
std::optional<std::int64_t> parse_rfc3339(const std::string& s);
// UTC, with milliseconds only when they are not zero.
std::string format_rfc3339(std::int64_t unix_ms);

}  // namespace nf
