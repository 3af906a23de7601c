// libFuzzer: NF-Wait-For header values (position tokens) as a client could send them. The input
// is tried as the header text, and as the raw bytes of a token with a valid check appended, so
// the body parser is reached too. Nothing may crash; what decodes re-encodes to the same positions.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/base/base64.h"
#include "core/base/sha256.h"
#include "core/bus/position_token.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  (void)nf::bus::decode_position_token(input, "fuzz-cluster");
  const auto d = nf::sha256(input);
  const std::string with_check = input + std::string(reinterpret_cast<const char*>(d.data()), 8);
  auto decoded = nf::bus::decode_position_token(nf::to_base64url(with_check), "fuzz-cluster");
  if (decoded) {
    auto again = nf::bus::decode_position_token(nf::bus::encode_position_token("fuzz-cluster", *decoded), "fuzz-cluster");
    if (!again || *again != *decoded) std::abort();
  }
  return 0;
}
