// libFuzzer: a publish body's files as a publisher could send them ({"path": base64 |
// {"content","executable","symlink"}}), then the security scan over what is accepted. Nothing
// may crash; every accepted path stays inside the package; the scan's verdict matches its findings
// and every finding names a rule and a severity.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "actors/marketplace/manifest.h"
#include "actors/marketplace/package.h"
#include "actors/marketplace/scan.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nf::marketplace;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Half the runs read the bytes as the files object, half as one file's raw content to scan.
  if (size > 0 && data[0] == '{') {
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded()) return 0;
    auto r = parse_files(doc, package_limits{.max_files = 64, .max_file_bytes = 1 << 16, .max_package_bytes = 1 << 18});
    if (auto* files = std::get_if<std::vector<package_file>>(&r)) {
      std::vector<scan_file> scanned;
      for (const auto& f : *files) {
        if (!valid_package_path(f.path)) std::abort();
        scanned.push_back(scan_file{f.path, f.bytes, f.symlink});
      }
      const auto report = scan(scanned);
      bool blocking = false;
      for (const auto& f : report.findings) {
        if (f.rule.empty() || f.severity.empty()) std::abort();
        blocking = blocking || f.severity == "critical" || f.severity == "high";
      }
      if (report.passed() == blocking) std::abort();
    }
    return 0;
  }
  const auto report = scan({scan_file{"input.sh", text, std::nullopt}}, scan_options{.max_binary_bytes = 64});
  for (const auto& t : report.touches)
    if (t != kTouchNetwork && t != kTouchShell && t != kTouchFilesystem && t != kTouchEnvironment) std::abort();
  auto copy = report;
  const auto gained = flag_gained(copy, {}, "0.0.1");
  if (gained.size() != report.touches.size()) std::abort();
  return 0;
}
