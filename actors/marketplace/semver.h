// Semantic versions (SemVer 2.0.0) and npm's ranges (node-semver): parsing, precedence, and
// which versions a range admits, as node-semver answers with its default options (not loose, no
// includePrerelease). The marketplace's manifests, dependency ranges and resolver use these.
//
// Ranges: `||` of comparator sets; a set is comparators that must all hold. Each comparator is
// `<`, `<=`, `>`, `>=`, `=` or none with a version; `~`, `^`, x-ranges (`1.x`, `1.2.*`, `*`,
// partial versions) and hyphen ranges (`1.2 - 2.3.4`) are rewritten into such comparators as
// node-semver rewrites them. A prerelease version is admitted only by a set with a comparator
// whose version has a prerelease on the same major.minor.patch (node-semver's prerelease rule).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace nf::marketplace {

struct version {
  std::uint64_t major = 0, minor = 0, patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers; empty: a release
  std::vector<std::string> build;       // ignored by precedence

  std::string to_string() const;  // without build metadata when `with_build` is false
  std::string to_string_with_build() const;
};

// SemVer 2.0.0 precedence: -1, 0 or 1. Build metadata does not count.
int compare(const version& a, const version& b);
inline bool operator<(const version& a, const version& b) { return compare(a, b) < 0; }
inline bool operator==(const version& a, const version& b) { return compare(a, b) == 0; }

// A strict SemVer 2.0.0 version (no leading "v", no leading zeros in numeric identifiers, numbers
// up to 2^53-1 as node-semver, at most 256 characters); errc::invalid_argument says what is wrong.
result<version> parse_version(std::string_view text);

class range {
 public:
  enum class op { lt, le, gt, ge, eq };
  struct comparator {
    op o;
    version v;
  };
  // Parses a range as node-semver does; errc::invalid_argument names the part that is not one.
  static result<range> parse(std::string_view text);

  bool satisfied_by(const version& v) const;
  // node-semver's canonical form (`>=1.2.3 <2.0.0-0||...`), for messages and tests.
  std::string to_string() const;
  const std::vector<std::vector<comparator>>& sets() const { return sets_; }

 private:
  std::vector<std::vector<comparator>> sets_;  // an empty set admits every release
};

bool satisfies(const version& v, const range& r);
// The highest of `versions` that `r` admits, if any.
std::optional<version> max_satisfying(std::span<const version> versions, const range& r);

}  // namespace nf::marketplace
