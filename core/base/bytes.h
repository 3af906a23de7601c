// Big-endian integers in keys and values: byte order equals numeric order, so RocksDB scans
// keys in numeric order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nf {

inline std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

// The first 8 bytes of `s` (which must hold at least 8).
inline std::uint64_t from_be64(std::string_view s) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

}  // namespace nf
