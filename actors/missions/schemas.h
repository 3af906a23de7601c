// JSON Schemas of the missions routes (the four contracts as the HTTP edge takes them, and the
// answers), for the route table and /openapi.json.
#pragma once

#include <nlohmann/json.hpp>

namespace nf::missions::schemas {

nlohmann::json mission_prompt();
nlohmann::json artifact_evidence();
nlohmann::json validation_report();
nlohmann::json agent_lifecycle();
nlohmann::json accepted();        // 202 {id, topic, partition, offset}
nlohmann::json mission();         // GET /missions/{id}
nlohmann::json mission_page();    // GET /missions
nlohmann::json agents();          // GET /agents

}  // namespace nf::missions::schemas
