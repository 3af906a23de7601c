// libFuzzer: versions and ranges as a package manifest or a resolve request could carry them. The
// input is "range\nversion". Nothing may crash; a version prints back to itself; a range's
// canonical form parses again and admits exactly what the range admits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "actors/marketplace/semver.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string range_text = input.substr(0, nl);
  const std::string version_text = nl == std::string::npos ? input : input.substr(nl + 1);
  auto v = nf::marketplace::parse_version(version_text);
  if (v) {
    auto again = nf::marketplace::parse_version(v->to_string_with_build());
    if (!again || nf::marketplace::compare(*again, *v) != 0 || again->build != v->build) std::abort();
  }
  auto r = nf::marketplace::range::parse(range_text);
  if (r && r->to_string().size() <= 4096) {  // a longer canonical form is over the range length limit
    auto canon = nf::marketplace::range::parse(r->to_string());
    if (!canon || canon->to_string() != r->to_string()) std::abort();
    if (v && canon->satisfied_by(*v) != r->satisfied_by(*v)) std::abort();
  }
  return 0;
}
