// JSON Schemas of the tenancy routes, for the route table and /openapi.json.
#pragma once

#include <nlohmann/json.hpp>

namespace nf::tenancy::schemas {

nlohmann::json pending();             // 202: appended, not yet shown by the read model
nlohmann::json tenant_create();
nlohmann::json tenant_patch();
nlohmann::json tenant();
nlohmann::json tenant_list();
nlohmann::json session();
nlohmann::json key_create();
nlohmann::json key_created();
nlohmann::json key_revoked();
nlohmann::json role_define();
nlohmann::json role();
nlohmann::json audit_page();
nlohmann::json usage_page();
nlohmann::json reservation_request();
nlohmann::json reservation();
nlohmann::json reservation_list();
nlohmann::json released();

}  // namespace nf::tenancy::schemas
