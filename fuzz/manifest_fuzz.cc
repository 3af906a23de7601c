// libFuzzer: agent.json bytes as a publisher could send them. Nothing may crash; what is accepted
// holds what validation promises (a package name, a version that prints back to itself, ranges
// that parse, an entrypoint inside the package).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "actors/marketplace/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto r = nf::marketplace::parse_manifest_text(std::string_view(reinterpret_cast<const char*>(data), size));
  if (auto* m = std::get_if<nf::marketplace::manifest>(&r)) {
    if (!nf::marketplace::valid_package_name(m->name) || !nf::marketplace::valid_package_path(m->entrypoint)) std::abort();
    if (!nf::marketplace::parse_version(m->ver.to_string_with_build())) std::abort();
    for (const auto& [name, rng] : m->dependencies)
      if (!nf::marketplace::valid_package_name(name) || !nf::marketplace::range::parse(rng)) std::abort();
  }
  return 0;
}
