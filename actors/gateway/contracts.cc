// Contract validation rules (design section 3, issue "mission control and the gateway").
#include "actors/gateway/contracts.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <set>

namespace nf::gateway {
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

bool digits(const std::string& s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339(const std::string& s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' || !digits(s, 8, 2, d) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) ||
      s[16] != ':' || !digits(s, 17, 2, sec))
    return std::nullopt;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60)
    return std::nullopt;
  std::size_t pos = 19;
  std::int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    std::int64_t scale = 100;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (n < 3) frac_ms += (s[pos] - '0') * scale, scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0) return std::nullopt;
  }
  std::int64_t offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_min = (oh * 60 + om) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const std::int64_t secs = days * 86400 + h * 3600 + mi * 60 + std::min(sec, 59) - offset_min * 60;
  return secs * 1000 + frac_ms;
}

std::string format_rfc3339(std::int64_t ms) {
  std::int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const int milli = static_cast<int>(ms - secs * 1000);
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const auto rem = static_cast<int>(secs - days * 86400);
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
  char buf[96];
  if (milli)
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y), m, d, rem / 3600,
                  rem / 60 % 60, rem % 60, milli);
  else
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", static_cast<long long>(y), m, d, rem / 3600, rem / 60 % 60,
                  rem % 60);
  return buf;
}

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

}  // namespace nf::gateway
