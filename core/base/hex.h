// Lowercase hex encoding of bytes, and back.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nf {

std::string to_hex(std::string_view bytes);
// nullopt unless `hex` has an even number of lowercase or uppercase hex digits.
std::optional<std::string> from_hex(std::string_view hex);

}  // namespace nf
