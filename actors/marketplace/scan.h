// The security scan of a package: rules over every file (each finding with file, line, rule and
// severity), and what the package can touch (network, shell, file system outside its directory,
// environment and secrets), compared with the previous approved version: a version that gains
// a capability is flagged for review with the difference.
//
// Matching is by hand-written scanners over each line, never std::regex (whose recursion a long
// hostile line can overflow): every rule is linear in the file's size.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace nf::marketplace {

struct scan_file {
  std::string path;
  std::string_view bytes;
  std::optional<std::string> symlink;  // the target, for a symbolic link
};

struct finding {
  std::string file;
  std::uint32_t line = 0;  // 0: the whole file
  std::string rule;
  std::string severity;    // critical | high | medium | review
  std::string message;
};

struct scan_options {
  std::uint64_t max_binary_bytes = 1024 * 1024;  // a binary file over this is a finding
};

// The capabilities a scan can see, by name.
inline constexpr const char* kTouchNetwork = "network";
inline constexpr const char* kTouchShell = "shell";
inline constexpr const char* kTouchFilesystem = "filesystem";
inline constexpr const char* kTouchEnvironment = "environment";

struct scan_report {
  std::vector<finding> findings;
  std::set<std::string> touches;
  // Where each capability was first seen (file and line), for the review of a gained one.
  std::vector<finding> evidence;
  // Passed: no critical or high finding.
  bool passed() const;
};

scan_report scan(const std::vector<scan_file>& files, const scan_options& opts = {});

// Adds a `capability-gained` finding (severity review) for each capability `report` touches and
// the previous approved version (`previous_version`, which touched `previous`) did not; returns
// the gained names.
std::vector<std::string> flag_gained(scan_report& report, const std::set<std::string>& previous, const std::string& previous_version);

// Whether a symbolic link at `path` (in a package) to `target` stays inside the package.
bool link_stays_inside(const std::string& path, const std::string& target);

// Whether the bytes look binary (a NUL in the first 8,000 bytes, as git decides).
bool looks_binary(std::string_view bytes);

}  // namespace nf::marketplace
