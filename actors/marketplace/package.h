// A package as published: its files read from the publish body (outside input: every path and
// size bounded, errors naming the field), and its provenance document, whose SHA-256 is the
// package digest that the ledger leaf commits to and `install` checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/marketplace/manifest.h"

namespace nf::marketplace {

struct package_limits {
  std::size_t max_files = 1000;
  std::uint64_t max_file_bytes = 4ull << 20;
  std::uint64_t max_package_bytes = 16ull << 20;
};

struct package_file {
  std::string path;
  std::string bytes;
  bool executable = false;
  std::optional<std::string> symlink;  // a symbolic link to this target (no bytes)
};

// "files": {"relative/path": "<base64>" | {"content": "<base64>", "executable": bool} |
// {"symlink": "target"}}. Paths must be valid_package_path (traversal is refused here, before
// anything is stored).
std::variant<std::vector<package_file>, manifest_error> parse_files(const nlohmann::json& files, const package_limits& limits);

// The manifest as JSON (the contract's field names, as agent.json writes them).
nlohmann::json manifest_json(const manifest& m);

// One file's entry in the provenance document and the events: {path, sha256, size, executable,
// symlink?}.
nlohmann::json file_entry(const std::string& path, const std::string& sha256_hex, std::uint64_t size, bool executable,
                          const std::optional<std::string>& symlink);

// {"name","version","manifest","files":[entries by path]} serialised canonically (sorted keys,
// no spaces): the bytes whose SHA-256 is the package digest.
std::string provenance_document(const manifest& m, std::vector<nlohmann::json> files);

}  // namespace nf::marketplace
