#include "actors/marketplace/package.h"

#include <algorithm>
#include <set>

#include "core/base/base64.h"

namespace nf::marketplace {

using json = nlohmann::json;

std::variant<std::vector<package_file>, manifest_error> parse_files(const json& files, const package_limits& limits) {
  if (!files.is_object()) return manifest_error{"files", "must be an object of relative path to base64 content"};
  if (files.empty()) return manifest_error{"files", "a package holds at least one file"};
  if (files.size() > limits.max_files)
    return manifest_error{"files", "at most " + std::to_string(limits.max_files) + " files (got " + std::to_string(files.size()) + ")"};
  std::vector<package_file> out;
  std::uint64_t total = 0;
  std::set<std::string> dirs;  // every directory a path implies, so a file cannot also be a directory
  for (const auto& [path, v] : files.items()) {
    const std::string field = "files." + path;
    if (!valid_package_path(path)) return manifest_error{field, "the path must be relative, '/'-separated, without '.', '..' or empty segments"};
    package_file f;
    f.path = path;
    std::string text;
    if (v.is_string()) {
      text = v.get<std::string>();
    } else if (v.is_object()) {
      for (const auto& [k, _] : v.items())
        if (k != "content" && k != "executable" && k != "symlink") return manifest_error{field + "." + k, "unknown field"};
      if (v.contains("executable")) {
        if (!v["executable"].is_boolean()) return manifest_error{field + ".executable", "must be a boolean"};
        f.executable = v["executable"].get<bool>();
      }
      if (v.contains("symlink")) {
        if (!v["symlink"].is_string() || v["symlink"].get<std::string>().empty() || v["symlink"].get<std::string>().size() > 512)
          return manifest_error{field + ".symlink", "must be a target path of 1 to 512 characters"};
        if (v.contains("content")) return manifest_error{field, "a symlink has no content"};
        f.symlink = v["symlink"].get<std::string>();
      } else {
        if (!v.contains("content") || !v["content"].is_string()) return manifest_error{field + ".content", "must be base64 text"};
        text = v["content"].get<std::string>();
      }
    } else {
      return manifest_error{field, "must be base64 text or {\"content\", \"executable\", \"symlink\"}"};
    }
    if (!f.symlink) {
      if (text.size() / 4 * 3 > limits.max_file_bytes + 3)
        return manifest_error{field, "over the file size limit of " + std::to_string(limits.max_file_bytes) + " bytes"};
      auto bytes = from_base64(text);
      if (!bytes) return manifest_error{field, "is not padded standard base64"};
      if (bytes->size() > limits.max_file_bytes)
        return manifest_error{field, "over the file size limit of " + std::to_string(limits.max_file_bytes) + " bytes"};
      total += bytes->size();
      if (total > limits.max_package_bytes)
        return manifest_error{"files", "the package is over its size limit of " + std::to_string(limits.max_package_bytes) + " bytes"};
      f.bytes = std::move(*bytes);
    }
    for (auto at = path.find('/'); at != std::string::npos; at = path.find('/', at + 1)) dirs.insert(path.substr(0, at));
    out.push_back(std::move(f));
  }
  for (const auto& f : out)
    if (dirs.count(f.path)) return manifest_error{"files." + f.path, "is both a file and a directory"};
  return out;
}

json manifest_json(const manifest& m) {
  json j{{"name", m.name},
         {"version", m.ver.to_string_with_build()},
         {"description", m.description},
         {"category", m.category},
         {"capabilities", m.capabilities},
         {"protocols", m.protocols},
         {"dependencies", m.dependencies},
         {"entrypoint", m.entrypoint},
         {"visibility", m.visibility}};
  if (m.selftest) j["selftest"] = *m.selftest;
  return j;
}

json file_entry(const std::string& path, const std::string& sha256_hex, std::uint64_t size, bool executable,
                const std::optional<std::string>& symlink) {
  json j{{"path", path}, {"sha256", sha256_hex}, {"size", size}, {"executable", executable}};
  if (symlink) j["symlink"] = *symlink;
  return j;
}

std::string provenance_document(const manifest& m, std::vector<json> files) {
  std::sort(files.begin(), files.end(), [](const json& a, const json& b) { return a["path"] < b["path"]; });
  return json{{"name", m.name}, {"version", m.ver.to_string()}, {"manifest", manifest_json(m)}, {"files", std::move(files)}}.dump();
}

}  // namespace nf::marketplace
