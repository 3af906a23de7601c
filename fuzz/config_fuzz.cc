// libFuzzer: a configuration file. Every problem is an error naming the key; nothing may throw
// or crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  (void)nf::config::parse(input, "fuzz.json", [](const std::string&) { return std::optional<std::string>(); });
  return 0;
}
