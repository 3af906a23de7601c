#include "actors/marketplace/catalog.h"

namespace nf::marketplace {

using json = nlohmann::json;

bool may_see(const json& doc, const viewer& v) {
  if (v.admin || doc.value("tenantId", "") == v.tenant) return true;
  if (doc.value("status", "") != "approved") return false;
  return doc["manifest"].value("visibility", "public") == "public";
}

bool usable(const json& doc, const viewer& v) {
  return doc.value("status", "") == "approved" && !doc.value("yanked", false) && may_see(doc, v);
}

std::optional<std::string> latest_version(const json& agent, const viewer& v) {
  std::optional<version> best;
  std::string best_text;
  const bool own = v.admin || agent.value("tenantId", "") == v.tenant;
  if (!agent.contains("versions")) return std::nullopt;
  for (const auto& [text, st] : agent["versions"].items()) {
    if (st.value("status", "") != "approved" || st.value("yanked", false)) continue;
    if (!own) {
      const auto listing = agent.contains("listings") ? agent["listings"].value(text, json::object()) : json::object();
      if (listing.value("visibility", "public") != "public") continue;
    }
    auto parsed = parse_version(text);
    if (!parsed) continue;
    if (!best || compare(*best, *parsed) < 0) {
      best = *parsed;
      best_text = text;
    }
  }
  if (!best) return std::nullopt;
  return best_text;
}

candidate candidate_of(const json& doc) {
  candidate c;
  if (auto parsed = parse_version(doc.value("version", "0.0.0"))) c.ver = *parsed;
  c.digest = doc.value("digest", "");
  if (doc.contains("manifest") && doc["manifest"].contains("dependencies"))
    for (const auto& [name, r] : doc["manifest"]["dependencies"].items()) c.dependencies.push_back({name, r.get<std::string>()});
  return c;
}

package_source source_for(const marketplace_view& view, const viewer& v, std::optional<error>* failure,
                          std::optional<std::pair<std::string, std::string>> pinned) {
  return [&view, v, failure, pinned](std::string_view name) -> std::optional<std::vector<candidate>> {
    auto docs = view.versions(std::string(name));
    if (!docs) {
      if (failure && !*failure) *failure = docs.error();
      return std::nullopt;
    }
    if (docs->empty()) return std::nullopt;
    std::vector<candidate> out;
    bool any_visible = false;
    for (const auto& d : *docs) {
      any_visible = any_visible || may_see(d, v);
      const bool pin = pinned && pinned->first == name && pinned->second == d.value("version", "") && d.value("status", "") == "approved" &&
                       may_see(d, v);
      if (usable(d, v) || pin) out.push_back(candidate_of(d));
    }
    if (!any_visible) return std::nullopt;  // another tenant's private agent does not exist for this caller
    return out;
  };
}

}  // namespace nf::marketplace
