// A package's agent.json, validated as outside input: every field typed and bounded, unknown
// fields refused, each error naming its field (for a 400 invalid_field or a CLI error).
#pragma once

#include <map>
#include <string_view>
#include <variant>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/marketplace/semver.h"
#include "core/base/result.h"

namespace nf::marketplace {

inline constexpr std::size_t kMaxManifestBytes = 64 * 1024;

struct manifest {
  std::string name;                                  // [a-z0-9][a-z0-9-]{0,63}
  version ver;                                       // strict SemVer 2.0.0
  std::string description;                           // 1..2000 characters
  std::string category;                              // [a-z0-9][a-z0-9-]{0,63}
  std::vector<std::string> capabilities;             // at most 64, [a-z0-9][a-z0-9._-]{0,63}, no repeats
  std::vector<std::string> protocols;                // of openai-tools, langchain, autogen, nexus; at least one
  std::map<std::string, std::string> dependencies;   // name -> range (npm syntax), at most 256
  std::string entrypoint;                            // a relative path inside the package
  std::optional<std::string> selftest;               // a command, at most 1024 characters
  std::string visibility = "public";                 // public | tenant
};

struct manifest_error {
  std::string field;    // "version", "dependencies.b", ...
  std::string message;
};

// Validates the parsed agent.json. On failure: the first problem, naming its field.
std::variant<manifest, manifest_error> parse_manifest(const nlohmann::json& doc);
// The same from its bytes (at most kMaxManifestBytes, a JSON object).
std::variant<manifest, manifest_error> parse_manifest_text(std::string_view text);

bool valid_package_name(std::string_view name);
// A path inside a package: relative, '/'-separated, no empty, "." or ".." segment, no NUL or
// backslash, at most 512 bytes.
bool valid_package_path(std::string_view path);

}  // namespace nf::marketplace
