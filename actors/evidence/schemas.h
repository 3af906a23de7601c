// JSON Schemas of the evidence routes, for the route table and /openapi.json.
#pragma once

#include <nlohmann/json.hpp>

namespace nf::evidence::schemas {

nlohmann::json record_request();
nlohmann::json recorded();
nlohmann::json blob_stored();
nlohmann::json tree_head();
nlohmann::json entry();
nlohmann::json inclusion();
nlohmann::json consistency();
nlohmann::json search();
nlohmann::json public_key();

}  // namespace nf::evidence::schemas
