// Helpers shared by the tenancy route files (private to actors/tenancy).
#pragma once

#include <initializer_list>
#include <optional>

#include <nlohmann/json.hpp>

#include "actors/tenancy/plans.h"
#include "core/base/result.h"
#include "core/http/message.h"

namespace nf::tenancy {

// The HTTP vocabulary every tenancy route file uses.
using http::json;
using http::request;
using http::response;
using http::bad_body;
using http::error_response;
using http::json_response;
using http::parse_body;
using http::status_for;
using http::string_field;
using http::wrong_type;
using http::append_error;

// Totals reserved per kind (concurrentRuns, cpuMillicores, memoryMib) from a tenant document.
nlohmann::json reserved_of(const nlohmann::json& doc);
// The tenant's effective limits: plan defaults and overrides. A document whose overrides do not
// parse is an error (never a fallback to the plan's defaults).
result<limits> limits_of_doc(const nlohmann::json& doc);
// 400 unknown_field naming the first member of `body` not in `allowed`.
std::optional<http::response> only_fields(const nlohmann::json& body, std::initializer_list<const char*> allowed, const http::request& req);

}  // namespace nf::tenancy
