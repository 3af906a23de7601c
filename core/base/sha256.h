// SHA-256 through OpenSSL, for hot paths (API-key digests, derived event ids): one digest context
// per thread and the algorithm fetched once. EVP_Digest with EVP_sha256() makes OpenSSL 3 look the
// provider up on every call, which showed as half the cost of hashing a 36-byte key.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace nf {

using sha256_digest = std::array<std::uint8_t, 32>;

sha256_digest sha256(std::string_view data);
// Lowercase hex of sha256(data).
std::string sha256_hex(std::string_view data);

}  // namespace nf
