// HTTP helpers shared by the gateway's handlers (internal to the gateway library): request
// targets, JSON answers and the error shape {"error":{"code","message","field"}}.
#pragma once

#include <openssl/evp.h>

#include <cctype>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "core/base/hex.h"
#include "core/base/text.h"
#include "core/base/result.h"

namespace nf::gateway {

namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

inline std::string sha256_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), md, &n, EVP_sha256(), nullptr);
  return to_hex(std::string_view(reinterpret_cast<const char*>(md), n));
}

inline std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out.push_back(' ');
    else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct target {
  std::string path;
  std::map<std::string, std::string> query;
  std::vector<std::string> segments;
};

inline target parse_target(std::string_view t) {
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

inline response json_response(http::status st, const json& body, const request& req) {
  response res{st, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "nexus-forge");
  res.keep_alive(req.keep_alive());
  res.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

inline response error_response(http::status st, const std::string& code, const std::string& message, const request& req,
                        const std::string& field = "") {
  json e{{"code", code}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  return json_response(st, json{{"error", e}}, req);
}

// nullopt when the request uses `allowed`; otherwise a 405 naming it in Allow.
inline std::optional<response> require_method(http::verb allowed, const target& t, const request& req) {
  if (req.method() == allowed) return std::nullopt;
  auto res = error_response(http::status::method_not_allowed, "method_not_allowed",
                            std::string(http::to_string(req.method())) + " is not allowed on " + t.path, req);
  res.set(http::field::allow, std::string(http::to_string(allowed)));
  return res;
}

// JSON text from outside: invalid_argument when it nests deeper than kMaxJsonDepth (checked
// before the parser and anything recursive sees it) or does not parse.
inline result<json> parse_json(std::string_view text, const char* what = "the body") {
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    return error{errc::too_large, std::string(what) + " nests arrays and objects deeper than " + std::to_string(kMaxJsonDepth) + " levels"};
  auto j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return error{errc::invalid_argument, std::string(what) + " is not valid JSON (or not UTF-8)"};
  return j;
}

// The body of a JSON request, always an object: unsupported (415) without Content-Type
// application/json, too_large (400 nesting_too_deep) beyond kMaxJsonDepth, invalid_argument (400)
// when it does not parse or is not an object.
inline result<json> parse_body(const request& req) {
  const auto ct = req[http::field::content_type];
  if (ct.size() < 16 || std::string_view(ct.data(), 16) != "application/json")
    return error{errc::unsupported, "Content-Type must be application/json"};
  NF_TRY_ASSIGN(auto j, parse_json(req.body()));
  if (!j.is_object()) return error{errc::invalid_argument, "the body must be a JSON object"};
  return j;
}

// The answer to a parse_body error: 415 or 400.
inline response bad_body(const error& e, const request& req) {
  if (e.code == errc::unsupported) return error_response(http::status::unsupported_media_type, "unsupported_media_type", e.message, req);
  if (e.code == errc::too_large) return error_response(http::status::bad_request, "nesting_too_deep", e.message, req, "body");
  return error_response(http::status::bad_request, "malformed_json", e.message, req);
}

// A string member of a JSON body: nullopt when absent (or null), invalid_argument naming the
// field when it has another type.
inline result<std::optional<std::string>> string_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return error{errc::invalid_argument, name};
  return std::optional<std::string>(it->get<std::string>());
}

// 400 naming a field of the wrong type.
inline response wrong_type(const std::string& field, const char* expected, const request& req) {
  return error_response(http::status::bad_request, "invalid_field", "'" + field + "' must be " + expected, req, field);
}

// nullopt when the request line's path and query and every header value are valid UTF-8;
// otherwise 400 naming where the bytes are. Checked before anything (routing, audit, logs)
// copies request text into JSON.
inline std::optional<response> refuse_invalid_utf8(const request& req, const target& t) {
  auto refuse = [&](const std::string& where, const std::string& field) {
    return error_response(http::status::bad_request, "invalid_utf8", where + " is not valid UTF-8", req, field);
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

http::status status_for(errc c);

// A failed append: 507 insufficient_storage when the disk is full, else append_failed with the
// status its error code maps to.
inline response append_error(const error& e, const request& req) {
  if (e.code == errc::no_space) return error_response(http::status::insufficient_storage, "insufficient_storage", e.message, req);
  return error_response(status_for(e.code), "append_failed", e.message, req);
}

inline http::status status_for(errc c) {
  switch (c) {
    case errc::invalid_argument: return http::status::bad_request;
    case errc::not_found: return http::status::not_found;
    case errc::conflict:
    case errc::already_exists: return http::status::conflict;
    case errc::too_large: return http::status::payload_too_large;
    case errc::unauthenticated: return http::status::unauthorized;
    case errc::permission_denied: return http::status::forbidden;
    case errc::rate_limited: return http::status::too_many_requests;
    case errc::no_space: return http::status::insufficient_storage;
    case errc::unavailable:
    case errc::timeout: return http::status::service_unavailable;
    default: return http::status::internal_server_error;
  }
}


}  // namespace nf::gateway
