// libFuzzer: backup manifests as a damaged or tampered backup directory could hold them. Nothing
// may crash; what parses names only relative paths inside the data dir, 64-hex hashes and modes
// without setuid bits, and parses again to the same document.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/feature/backup.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  auto m = nf::feature::parse_manifest(input);
  if (!m) return 0;
  for (const auto& f : (*m)["files"]) {
    const std::filesystem::path rel(f["path"].get<std::string>());
    if (rel.is_absolute()) std::abort();
    for (const auto& c : rel)
      if (c == "..") std::abort();
    if (f["sha256"].get<std::string>().size() != 64) std::abort();
    if (f.contains("mode") && f["mode"].get<std::int64_t>() > 0777) std::abort();
  }
  auto again = nf::feature::parse_manifest(m->dump());
  if (!again || *again != *m) std::abort();
  return 0;
}
