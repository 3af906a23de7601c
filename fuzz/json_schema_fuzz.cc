// libFuzzer: a validate_json node's schema and the value it checks, as a definition's author and
// a run's data could give them (two JSON documents, split at the first newline). Nothing may
// crash; a schema that compiles validates anything, and a violation always says what is wrong.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "actors/workflows/json_schema.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using nlohmann::json;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto nl = text.find('\n');
  const auto schema = json::parse(text.substr(0, nl), nullptr, false);
  if (schema.is_discarded()) return 0;
  auto s = nf::workflows::json_schema::compile(schema);
  if (!s) {
    if (s.error().message.empty()) std::abort();
    return 0;
  }
  const auto instance = nl == std::string_view::npos ? json(nullptr) : json::parse(text.substr(nl + 1), nullptr, false);
  if (instance.is_discarded()) return 0;
  for (const auto& v : s->validate(instance, 50))
    if (v.message.empty() || (!v.path.empty() && v.path[0] != '/')) std::abort();
  return 0;
}
