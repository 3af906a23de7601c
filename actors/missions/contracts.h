// Validation of the four data contracts at the HTTP edge. Pure functions: JSON in, a normalized
// payload (contract field names, RFC 3339 timestamps) or a field-level error out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/base/rfc3339.h"

namespace nf::missions {

struct field_error {
  std::string code;     // e.g. "invalid_field", "missing_field", "unknown_field"
  std::string message;
  std::string field;    // the offending field, empty for the body as a whole
};

template <class T>
struct validated {
  std::optional<T> value;
  std::optional<field_error> error;
  explicit operator bool() const { return value.has_value(); }
};

struct mission_prompt {
  std::string id;                  // UUID; generated when absent
  bool id_given = false;
  nlohmann::json payload;          // normalized MissionPrompt JSON
};

struct artifact_evidence {
  std::string artifact_id;
  nlohmann::json payload;
};

struct validation_report {
  std::string report_id;
  std::string artifact_id;
  nlohmann::json payload;
};

struct agent_lifecycle {
  std::string agent_id;
  std::string lifecycle;           // spawned | escalated | retired
  nlohmann::json payload;
};

inline constexpr std::size_t kMaxObjectiveBytes = 64 * 1024;

// now_ms fills createdAt / generatedAt when absent; new_id supplies a UUIDv7 when id is absent.
validated<mission_prompt> validate_mission_prompt(const nlohmann::json& body, std::int64_t now_ms, const std::string& new_id);
validated<artifact_evidence> validate_artifact(const nlohmann::json& body, const std::string& mission_id);
validated<validation_report> validate_validation(const nlohmann::json& body, std::int64_t now_ms);
validated<agent_lifecycle> validate_agent_lifecycle(const nlohmann::json& body);

using nf::format_rfc3339;
using nf::parse_rfc3339;
// RFC 3986 absolute URI: scheme ":" followed by at least one character, no spaces or controls.
bool is_uri(const std::string& s);
bool is_uuid(const std::string& s);

}  // namespace nf::missions
