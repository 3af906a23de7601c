// agent.json validation.
#include "actors/marketplace/manifest.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

namespace nf::marketplace {
namespace {

using json = nlohmann::json;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z0-9][a-z0-9<extra>]{0,63}
bool slug(std::string_view s, std::string_view extra) {
  if (s.empty() || s.size() > 64 || !lower_alnum(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return lower_alnum(c) || extra.find(c) != std::string_view::npos; });
}

const std::set<std::string>& known_fields() {
  static const std::set<std::string> f{"name", "version", "description", "category", "capabilities", "protocols",
                                       "dependencies", "entrypoint", "selftest", "visibility"};
  return f;
}

}  // namespace

bool valid_package_name(std::string_view name) { return slug(name, "-"); }

bool valid_package_path(std::string_view path) {
  if (path.empty() || path.size() > 512 || path.front() == '/') return false;
  if (path.find('\0') != std::string_view::npos || path.find('\\') != std::string_view::npos) return false;
  std::size_t at = 0;
  for (;;) {
    const auto next = path.find('/', at);
    const auto seg = path.substr(at, next == std::string_view::npos ? std::string_view::npos : next - at);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (next == std::string_view::npos) return true;
    at = next + 1;
  }
}

std::variant<manifest, manifest_error> parse_manifest(const json& doc) {
  using err = manifest_error;
  if (!doc.is_object()) return err{"", "agent.json must be a JSON object"};
  for (const auto& item : doc.items())
    if (!known_fields().count(item.key())) return err{item.key(), "unknown field '" + item.key().substr(0, 64) + "'"};
  const auto str = [&](const char* f, bool required) -> std::variant<std::optional<std::string>, err> {
    if (!doc.contains(f)) {
      if (required) return err{f, std::string("'") + f + "' is required"};
      return std::optional<std::string>{};
    }
    if (!doc[f].is_string()) return err{f, std::string("'") + f + "' must be a string"};
    return std::optional<std::string>{doc[f].get<std::string>()};
  };
  manifest m;
#define NF_FIELD(var, f, required)                                   \
  std::optional<std::string> var;                                    \
  {                                                                  \
    auto got = str(f, required);                                     \
    if (auto* e = std::get_if<err>(&got)) return *e;                 \
    var = std::get<std::optional<std::string>>(got);                 \
  }
  NF_FIELD(name, "name", true)
  NF_FIELD(ver, "version", true)
  NF_FIELD(description, "description", true)
  NF_FIELD(category, "category", true)
  NF_FIELD(entrypoint, "entrypoint", true)
  NF_FIELD(selftest, "selftest", false)
  NF_FIELD(visibility, "visibility", false)
#undef NF_FIELD
  if (!valid_package_name(*name)) return err{"name", "'name' must match [a-z0-9][a-z0-9-]{0,63}"};
  m.name = *name;
  auto v = parse_version(*ver);
  if (!v) return err{"version", v.error().message};
  m.ver = *v;
  if (description->empty() || description->size() > 2000) return err{"description", "'description' must have 1 to 2000 characters"};
  m.description = *description;
  if (!slug(*category, "-")) return err{"category", "'category' must match [a-z0-9][a-z0-9-]{0,63}"};
  m.category = *category;
  if (!valid_package_path(*entrypoint))
    return err{"entrypoint", "'entrypoint' must be a relative path inside the package (no '..', no leading '/')"};
  m.entrypoint = *entrypoint;
  if (selftest) {
    if (selftest->empty() || selftest->size() > 1024 || selftest->find('\0') != std::string::npos)
      return err{"selftest", "'selftest' must be a command of 1 to 1024 characters"};
    m.selftest = *selftest;
  }
  if (visibility) {
    if (*visibility != "public" && *visibility != "tenant") return err{"visibility", "'visibility' must be public or tenant"};
    m.visibility = *visibility;
  }
  if (doc.contains("capabilities")) {
    const auto& caps = doc["capabilities"];
    if (!caps.is_array() || caps.size() > 64) return err{"capabilities", "'capabilities' must be a list of at most 64 names"};
    std::set<std::string> seen;
    for (const auto& c : caps) {
      if (!c.is_string() || !slug(c.get<std::string>(), "._-"))
        return err{"capabilities", "each capability must match [a-z0-9][a-z0-9._-]{0,63}"};
      if (!seen.insert(c.get<std::string>()).second) return err{"capabilities", "capability '" + c.get<std::string>() + "' is listed twice"};
      m.capabilities.push_back(c.get<std::string>());
    }
  }
  if (!doc.contains("protocols") || !doc["protocols"].is_array() || doc["protocols"].empty() || doc["protocols"].size() > 4)
    return err{"protocols", "'protocols' must list at least one of openai-tools, langchain, autogen, nexus"};
  {
    std::set<std::string> seen;
    for (const auto& p : doc["protocols"]) {
      if (!p.is_string()) return err{"protocols", "each protocol must be a string"};
      const auto s = p.get<std::string>();
      if (s != "openai-tools" && s != "langchain" && s != "autogen" && s != "nexus")
        return err{"protocols", "unknown protocol '" + s.substr(0, 64) + "' (openai-tools, langchain, autogen, nexus)"};
      if (!seen.insert(s).second) return err{"protocols", "protocol '" + s + "' is listed twice"};
      m.protocols.push_back(s);
    }
  }
  if (doc.contains("dependencies")) {
    const auto& deps = doc["dependencies"];
    if (!deps.is_object() || deps.size() > 256) return err{"dependencies", "'dependencies' must be an object of at most 256 name: range"};
    for (const auto& d : deps.items()) {
      const auto field = "dependencies." + d.key().substr(0, 64);
      if (!valid_package_name(d.key())) return err{field, "dependency '" + d.key().substr(0, 64) + "' is not a package name"};
      if (d.key() == m.name) return err{field, "a package cannot depend on itself"};
      if (!d.value().is_string()) return err{field, "the range of '" + d.key() + "' must be a string"};
      auto r = range::parse(d.value().get<std::string>());
      if (!r) return err{field, r.error().message};
      m.dependencies[d.key()] = d.value().get<std::string>();
    }
  }
  return m;
}

std::variant<manifest, manifest_error> parse_manifest_text(std::string_view text) {
  if (text.size() > kMaxManifestBytes) return manifest_error{"", "agent.json is larger than 64 KiB"};
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return manifest_error{"", "agent.json is not valid JSON"};
  return parse_manifest(doc);
}

}  // namespace nf::marketplace
