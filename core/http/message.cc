// HTTP message helpers: targets, JSON answers, body parsing, status mapping.
#include "core/http/message.h"

#include "core/base/sha256.h"

#include <algorithm>
#include <cctype>

#include "core/base/hex.h"
#include "core/base/text.h"

namespace nf::http {

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<std::string> target::param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 15]);
    }
  }
  return out;
}

target parse_target(std::string_view t) {
  target out;
  const auto q = t.find('?');
  out.path = url_decode(t.substr(0, q));
  if (q != std::string_view::npos) {
    std::string_view rest = t.substr(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto item = rest.substr(0, amp);
      const auto eq = item.find('=');
      if (!item.empty()) out.query[url_decode(item.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(item.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      rest = rest.substr(amp + 1);
    }
  }
  std::string_view p = out.path;
  while (!p.empty()) {
    if (p.front() == '/') {
      p.remove_prefix(1);
      continue;
    }
    const auto slash = p.find('/');
    out.segments.emplace_back(p.substr(0, slash));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash);
  }
  return out;
}

response json_response(status st, const json& body, const request& req) {
  return json_text_response(st, body.dump(-1, ' ', false, json::error_handler_t::replace), req);
}

response json_text_response(status st, std::string body, const request& req) {
  response res{st, req.version()};
  res.set(field::content_type, "application/json");
  res.set(field::server, "nexus-forge");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

response error_response(status st, const std::string& code, const std::string& message, const request& req, const std::string& f) {
  json e{{"code", code}, {"message", message}};
  if (!f.empty()) e["field"] = f;
  return json_response(st, json{{"error", e}}, req);
}

response invalid_field(const std::string& f, const std::string& message, const request& req) {
  return error_response(status::bad_request, "invalid_field", message, req, f);
}

response wrong_type(const std::string& f, const char* expected, const request& req) {
  return invalid_field(f, "'" + f + "' must be " + expected, req);
}

result<json> parse_json(std::string_view text, const char* what) {
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    return error{errc::too_large, std::string(what) + " nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return error{errc::invalid_argument, std::string(what) + " is not valid JSON (or not UTF-8)"};
  return j;
}

result<json> parse_body(const request& req) {
  const auto ct = req[field::content_type];
  if (ct.size() < 16 || std::string_view(ct.data(), 16) != "application/json")
    return error{errc::unsupported, "Content-Type must be application/json"};
  NF_TRY_ASSIGN(auto j, parse_json(req.body()));
  if (!j.is_object()) return error{errc::invalid_argument, "the body must be a JSON object"};
  return j;
}

response bad_body(const error& e, const request& req) {
  if (e.code == errc::unsupported) return error_response(status::unsupported_media_type, "unsupported_media_type", e.message, req);
  if (e.code == errc::too_large) return error_response(status::bad_request, "nesting_too_deep", e.message, req, "body");
  return error_response(status::bad_request, "malformed_json", e.message, req);
}

result<std::optional<std::string>> string_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return error{errc::invalid_argument, name};
  return std::optional<std::string>(it->get<std::string>());
}

std::optional<response> refuse_invalid_utf8(const request& req, const target& t) {
  auto refuse = [&](const std::string& where, const std::string& f) {
    return error_response(status::bad_request, "invalid_utf8", where + " is not valid UTF-8", req, f);
  };
  if (!valid_utf8(t.path)) return refuse("the path", "path");
  for (const auto& [k, v] : t.query) {
    if (!valid_utf8(k)) return refuse("a query parameter name", "query");
    if (!valid_utf8(v)) return refuse("query parameter '" + k + "'", k);
  }
  for (const auto& f : req) {
    const std::string name(f.name_string().data(), f.name_string().size());
    if (!valid_utf8(std::string_view(f.value().data(), f.value().size()))) return refuse("header " + sanitize_utf8(name), sanitize_utf8(name));
  }
  return std::nullopt;
}

std::string etag(std::int64_t version) { return "\"" + std::to_string(version) + "\""; }

result<std::optional<std::int64_t>> if_match(const request& req) {
  auto it = req.find(field::if_match);
  if (it == req.end()) return std::optional<std::int64_t>{};
  if (req.count(field::if_match) > 1)
    return error{errc::invalid_argument, "If-Match must be sent once, with one entity tag, such as \"3\""};
  std::string_view v(it->value().data(), it->value().size());
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v == "*") return std::optional<std::int64_t>{};
  const auto bad = [](const std::string& why) {
    return error{errc::invalid_argument, "If-Match " + why + "; send the ETag of the document as it was read, such as \"3\""};
  };
  if (v.starts_with("W/")) return bad("must be a strong entity tag (a weak one never matches)");
  if (v.size() < 3 || v.front() != '"' || v.back() != '"') return bad("must be one quoted entity tag");
  const auto digits = v.substr(1, v.size() - 2);
  if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return bad("names no version of this document");
  std::int64_t n = 0;
  for (char c : digits) n = n * 10 + (c - '0');
  return std::optional<std::int64_t>{n};
}

response version_mismatch(const error& e, const request& req) {
  return error_response(status::precondition_failed, "version_mismatch", e.message, req);
}

status status_for(errc c) {
  switch (c) {
    case errc::invalid_argument: return status::bad_request;
    case errc::not_found: return status::not_found;
    case errc::conflict:
    case errc::wrong_expected_version:
    case errc::already_exists: return status::conflict;
    case errc::too_large: return status::payload_too_large;
    case errc::unauthenticated: return status::unauthorized;
    case errc::permission_denied: return status::forbidden;
    case errc::rate_limited: return status::too_many_requests;
    case errc::no_space: return status::insufficient_storage;
    case errc::unavailable:
    case errc::timeout: return status::service_unavailable;
    default: return status::internal_server_error;
  }
}

response append_error(const error& e, const request& req) {
  if (e.code == errc::no_space) return error_response(status::insufficient_storage, "insufficient_storage", e.message, req);
  return error_response(status_for(e.code), "append_failed", e.message, req);
}

response failure(const error& e, const request& req) {
  if (e.code == errc::corruption) return error_response(status::internal_server_error, "corruption", e.message, req);
  if (e.code == errc::no_space) return error_response(status::insufficient_storage, "insufficient_storage", e.message, req);
  return error_response(status_for(e.code), "internal", e.message, req);
}


}  // namespace nf::http
