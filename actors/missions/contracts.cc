// Contract validation rules (design section 3, issue "mission control and the gateway").
#include "actors/missions/contracts.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/base/rfc3339.h"

namespace nf::missions {
namespace {

using json = nlohmann::json;

field_error err(std::string field, std::string code, std::string message) {
  return field_error{std::move(code), std::move(message), std::move(field)};
}

std::optional<field_error> only_fields(const json& body, const std::set<std::string>& allowed) {
  if (!body.is_object()) return err("", "invalid_body", "the body must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it)
    if (!allowed.count(it.key())) return err(it.key(), "unknown_field", "unknown field '" + it.key() + "'");
  return std::nullopt;
}

// A required non-empty string of at most `max` bytes.
std::optional<field_error> need_string(const json& body, const std::string& f, std::size_t max, std::string& out) {
  auto it = body.find(f);
  if (it == body.end() || it->is_null()) return err(f, "missing_field", "'" + f + "' is required");
  if (!it->is_string()) return err(f, "invalid_field", "'" + f + "' must be a string");
  out = it->get<std::string>();
  if (out.empty()) return err(f, "invalid_field", "'" + f + "' must not be empty");
  if (out.size() > max) return err(f, "invalid_field", "'" + f + "' is longer than " + std::to_string(max) + " bytes");
  return std::nullopt;
}

std::optional<field_error> need_enum(const json& body, const std::string& f, const std::set<std::string>& values, std::string& out) {
  std::string all;
  for (const auto& v : values) all += (all.empty() ? "" : "|") + v;
  auto it = body.find(f);
  if (it == body.end() || it->is_null()) return err(f, "missing_field", "'" + f + "' is required (" + all + ")");
  if (!it->is_string() || !values.count(it->get<std::string>()))
    return err(f, "invalid_field", "'" + f + "' must be one of " + all);
  out = it->get<std::string>();
  return std::nullopt;
}

// Optional time: RFC 3339 string or unix milliseconds; absent means `dflt`.
std::optional<field_error> opt_time(const json& body, const std::string& f, std::int64_t dflt, std::int64_t& out) {
  auto it = body.find(f);
  if (it == body.end() || it->is_null()) {
    out = dflt;
    return std::nullopt;
  }
  if (it->is_number_integer()) {
    const auto v = it->get<std::int64_t>();
    if (v < 0 || v > 253402300799999) return err(f, "invalid_field", "'" + f + "' is out of range");
    out = v;
    return std::nullopt;
  }
  if (it->is_string()) {
    if (auto ms = parse_rfc3339(it->get<std::string>())) {
      out = *ms;
      return std::nullopt;
    }
  }
  return err(f, "invalid_field", "'" + f + "' must be an RFC 3339 date-time or unix milliseconds");
}

}  // namespace


bool is_uri(const std::string& s) {
  const auto colon = s.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 >= s.size() || s.size() > 8192) return false;
  if (!std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (std::size_t i = 1; i < colon; ++i) {
    const char c = s[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return false;
  }
  for (unsigned char c : s)
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' || c == '{' ||
        c == '|' || c == '}')
      return false;
  return true;
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

validated<mission_prompt> validate_mission_prompt(const json& body, std::int64_t now_ms, const std::string& new_id) {
  validated<mission_prompt> v;
  if ((v.error = only_fields(body, {"id", "objective", "priority", "originatingSpec", "createdAt"}))) return v;
  mission_prompt p;
  if (auto it = body.find("id"); it != body.end() && !it->is_null()) {
    if (!it->is_string() || !is_uuid(it->get<std::string>())) {
      v.error = err("id", "invalid_field", "'id' must be a UUID (8-4-4-4-12 hex digits)");
      return v;
    }
    p.id = it->get<std::string>();
    for (auto& c : p.id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    p.id_given = true;
  } else {
    p.id = new_id;
  }
  std::string objective, priority, spec;
  if ((v.error = need_string(body, "objective", kMaxObjectiveBytes, objective))) return v;
  if ((v.error = need_enum(body, "priority", {"P0", "P1", "P2"}, priority))) return v;
  if ((v.error = need_string(body, "originatingSpec", 8192, spec))) return v;
  if (!is_uri(spec)) {
    v.error = err("originatingSpec", "invalid_field", "'originatingSpec' must be an absolute URI (scheme:...)");
    return v;
  }
  std::int64_t created = 0;
  if ((v.error = opt_time(body, "createdAt", now_ms, created))) return v;
  p.payload = {{"id", p.id}, {"objective", objective}, {"priority", priority}, {"originatingSpec", spec},
               {"createdAt", format_rfc3339(created)}};
  v.value = std::move(p);
  return v;
}

validated<artifact_evidence> validate_artifact(const json& body, const std::string& mission_id) {
  validated<artifact_evidence> v;
  if ((v.error = only_fields(body, {"artifactId", "missionId", "type", "uri", "checksum", "reviewer"}))) return v;
  if (auto it = body.find("missionId"); it != body.end() && !(it->is_string() && it->get<std::string>() == mission_id)) {
    v.error = err("missionId", "invalid_field", "'missionId' must match the mission in the path");
    return v;
  }
  std::string artifact, type, uri, checksum, reviewer;
  if ((v.error = need_string(body, "artifactId", 256, artifact))) return v;
  if ((v.error = need_enum(body, "type", {"code", "analysis", "test"}, type))) return v;
  if ((v.error = need_string(body, "uri", 8192, uri))) return v;
  if (!is_uri(uri)) {
    v.error = err("uri", "invalid_field", "'uri' must be an absolute URI (scheme:...)");
    return v;
  }
  if ((v.error = need_string(body, "checksum", 71, checksum))) return v;
  bool hex = checksum.size() == 71 && checksum.rfind("sha256:", 0) == 0;
  for (std::size_t i = 7; hex && i < checksum.size(); ++i)
    hex = std::isxdigit(static_cast<unsigned char>(checksum[i])) && !std::isupper(static_cast<unsigned char>(checksum[i]));
  if (!hex) {
    v.error = err("checksum", "invalid_field", "'checksum' must be sha256:<64 lowercase hex digits>");
    return v;
  }
  if ((v.error = need_string(body, "reviewer", 256, reviewer))) return v;
  v.value = artifact_evidence{artifact, {{"artifactId", artifact}, {"missionId", mission_id}, {"type", type}, {"uri", uri},
                                         {"checksum", checksum}, {"reviewer", reviewer}}};
  return v;
}

validated<validation_report> validate_validation(const json& body, std::int64_t now_ms) {
  validated<validation_report> v;
  if ((v.error = only_fields(body, {"reportId", "artifactId", "suite", "result", "coverage", "generatedAt"}))) return v;
  std::string report, artifact, suite, result;
  if ((v.error = need_string(body, "reportId", 256, report))) return v;
  if ((v.error = need_string(body, "artifactId", 256, artifact))) return v;
  if ((v.error = need_string(body, "suite", 256, suite))) return v;
  if ((v.error = need_enum(body, "result", {"pass", "fail"}, result))) return v;
  auto cov = body.find("coverage");
  if (cov == body.end() || cov->is_null()) {
    v.error = err("coverage", "missing_field", "'coverage' is required (0..100)");
    return v;
  }
  if (!cov->is_number() || !std::isfinite(cov->get<double>()) || cov->get<double>() < 0 || cov->get<double>() > 100) {
    v.error = err("coverage", "invalid_field", "'coverage' must be a number from 0 to 100");
    return v;
  }
  std::int64_t generated = 0;
  if ((v.error = opt_time(body, "generatedAt", now_ms, generated))) return v;
  v.value = validation_report{report, artifact,
                              {{"reportId", report}, {"artifactId", artifact}, {"suite", suite}, {"result", result},
                               {"coverage", cov->get<double>()}, {"generatedAt", format_rfc3339(generated)}}};
  return v;
}

validated<agent_lifecycle> validate_agent_lifecycle(const json& body) {
  validated<agent_lifecycle> v;
  if ((v.error = only_fields(body, {"agentId", "lifecycle", "capabilityProfile", "energyBudget"}))) return v;
  std::string agent, lifecycle, profile;
  if ((v.error = need_string(body, "agentId", 256, agent))) return v;
  if ((v.error = need_enum(body, "lifecycle", {"spawned", "escalated", "retired"}, lifecycle))) return v;
  if (auto it = body.find("capabilityProfile"); it != body.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>().size() > 4096) {
      v.error = err("capabilityProfile", "invalid_field", "'capabilityProfile' must be a string of at most 4096 bytes");
      return v;
    }
    profile = it->get<std::string>();
  }
  auto eb = body.find("energyBudget");
  if (eb == body.end() || eb->is_null()) {
    v.error = err("energyBudget", "missing_field", "'energyBudget' is required (>= 0)");
    return v;
  }
  if (!eb->is_number() || !std::isfinite(eb->get<double>()) || eb->get<double>() < 0) {
    v.error = err("energyBudget", "invalid_field", "'energyBudget' must be a number >= 0");
    return v;
  }
  v.value = agent_lifecycle{agent, lifecycle,
                            {{"agentId", agent}, {"lifecycle", lifecycle}, {"capabilityProfile", profile},
                             {"energyBudget", eb->get<double>()}}};
  return v;
}

}  // namespace nf::missions
