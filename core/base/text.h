// Checks on outside text before anything trusts it: UTF-8 validity (JSON strings, audit records
// and log lines must hold valid UTF-8) and the nesting depth of a JSON document (recursive code,
// such as serialisation, must never see a document deep enough to exhaust the stack).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nf {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view s) noexcept;

// `s` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

// The deepest nesting of arrays and objects in the JSON text `s`, counting only brackets outside
// strings; stops counting once `limit` is exceeded (and returns limit + 1). Linear, no recursion,
// no allocation: safe to run on any input before a parser that recurses.
std::size_t json_depth(std::string_view s, std::size_t limit) noexcept;

// `s` cut at every `sep`: n separators give n + 1 pieces (empty ones included).
std::vector<std::string_view> split(std::string_view s, char sep);

// The nesting depth every JSON document from outside may have (objects and arrays).
inline constexpr std::size_t kMaxJsonDepth = 64;

}  // namespace nf
