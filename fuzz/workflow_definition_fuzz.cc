// libFuzzer: a workflow definition as a client sends it to POST /workflows (YAML when the first
// byte is odd, else JSON). Nothing may crash; a document that compiles has a canonical form that
// compiles again to the same form and survives a YAML export and import, and every problem of one
// that does not says what is wrong.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "actors/workflows/definition.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool yaml = data[0] & 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  auto doc = nf::workflows::parse_document(text, yaml ? "application/yaml" : "application/json");
  if (!doc) {
    if (doc.error().message.empty()) std::abort();
    return 0;
  }
  auto c = nf::workflows::compile(*doc, {});
  if (!c.def) {
    if (c.problems.empty()) std::abort();
    for (const auto& p : c.problems)
      if (p.message.empty()) std::abort();
    return 0;
  }
  auto again = nf::workflows::compile(c.def->document, {});
  if (!again.def || again.def->document != c.def->document) std::abort();
  auto back = nf::workflows::parse_yaml(nf::workflows::to_yaml(c.def->document));
  if (!back || *back != c.def->document) std::abort();
  return 0;
}
