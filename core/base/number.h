// Numbers from text (command lines, query strings, config values, stored counters): one strict
// parser with errors as values. The whole text must be the number; no sign for unsigned types,
// no leading '+', no spaces, no trailing bytes; out of range is an error, never a wrap.
#pragma once

#include <charconv>
#include <concepts>
#include <limits>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace nf {

// `what` names the value in the error ("'limit'", "--partitions").
template <std::integral T>
result<T> parse_number(std::string_view text, std::string_view what = "the value", T lo = std::numeric_limits<T>::min(),
                       T hi = std::numeric_limits<T>::max()) {
  T v{};
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v, 10);
  if (text.empty() || ec == std::errc::invalid_argument || p != end)
    return error{errc::invalid_argument, std::string(what) + " must be an integer, got '" + std::string(text.substr(0, 64)) + "'"};
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    return error{errc::invalid_argument,
                 std::string(what) + " must be from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got '" +
                     std::string(text.substr(0, 64)) + "'"};
  return v;
}

}  // namespace nf
