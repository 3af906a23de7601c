// What a caller may see and use of the marketplace read model: the feature's policy over the
// projection's facts (visibility, which version is the latest, the resolver's candidates).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/marketplace/resolver.h"
#include "projections/marketplace/marketplace.h"

namespace nf::marketplace {

struct viewer {
  std::string tenant;
  bool admin = false;  // the platform admin sees everything
};

// A version's publisher and the platform admin see it in every status; anyone else only once it
// is approved, and a `tenant` version only within its tenant.
bool may_see(const nlohmann::json& version_doc, const viewer& v);
// Approved, not yanked and visible: what resolution may choose.
bool usable(const nlohmann::json& version_doc, const viewer& v);

// The newest approved, not yanked version of an agent document that `v` may see, if any.
std::optional<std::string> latest_version(const nlohmann::json& agent_doc, const viewer& v);

// A candidate for the resolver from a version document.
candidate candidate_of(const nlohmann::json& version_doc);

// The resolver's view of the marketplace for `v`: usable versions by name. A store error is kept
// in `*failure` (the resolution then fails with it). `pinned` ("name", "version"): that exact
// version is a candidate even when yanked (a yanked version stays installable by exact version).
package_source source_for(const marketplace_view& view, const viewer& v, std::optional<error>* failure,
                          std::optional<std::pair<std::string, std::string>> pinned = std::nullopt);

}  // namespace nf::marketplace
