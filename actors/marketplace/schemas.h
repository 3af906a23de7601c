// JSON Schemas of the marketplace routes (what /openapi.json publishes and the schema-driven test
// checks answers against).
#pragma once

#include <nlohmann/json.hpp>

namespace nf::marketplace::schemas {

nlohmann::json publish_body();
nlohmann::json publish_accepted();
nlohmann::json version_doc();
nlohmann::json agent_doc();
nlohmann::json review_body();
nlohmann::json yank_body();
nlohmann::json rating_body();
nlohmann::json installed();
nlohmann::json resolution();
nlohmann::json search_page();

}  // namespace nf::marketplace::schemas
