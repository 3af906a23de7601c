// HTTP messages as every route sees them: the request and response types, the parsed target,
// JSON answers and the one error shape {"error":{"code","message","field"}}, JSON body parsing
// with its limits, and the mapping from nf::errc to HTTP status codes. Knows no feature.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace nf::http {

namespace beast = boost::beast;
namespace bh = boost::beast::http;
using status = bh::status;
using verb = bh::verb;
using field = bh::field;
using bh::to_string;
using json = nlohmann::json;
using request = bh::request<bh::string_body>;
using response = bh::response<bh::string_body>;

// A request target: the percent-decoded path, its segments and the decoded query parameters.
struct target {
  std::string path;
  std::map<std::string, std::string> query;
  std::vector<std::string> segments;
  // A query parameter; nullopt when absent or empty.
  std::optional<std::string> param(const std::string& name) const;
};

target parse_target(std::string_view t);
std::string url_decode(std::string_view s);
std::string url_encode(std::string_view s);

response json_response(status st, const json& body, const request& req);
// A body the handler already serialized as JSON (a hot path that writes it without a tree).
response json_text_response(status st, std::string body, const request& req);
response error_response(status st, const std::string& code, const std::string& message, const request& req,
                        const std::string& field = "");
// 400 invalid_field naming `field`.
response invalid_field(const std::string& field, const std::string& message, const request& req);
// 400 naming a field of the wrong type.
response wrong_type(const std::string& field, const char* expected, const request& req);

// JSON text from outside: too_large when it nests deeper than kMaxJsonDepth (checked before the
// parser and anything recursive sees it), invalid_argument when it does not parse.
result<json> parse_json(std::string_view text, const char* what = "the body");

// The body of a JSON request, always an object: unsupported (415) without Content-Type
// application/json, too_large (400 nesting_too_deep) beyond kMaxJsonDepth, invalid_argument (400)
// when it does not parse or is not an object.
result<json> parse_body(const request& req);
// The answer to a parse_body error: 415 or 400.
response bad_body(const error& e, const request& req);

// A string member of a JSON body: nullopt when absent (or null), invalid_argument naming the
// field when it has another type.
result<std::optional<std::string>> string_field(const json& body, const char* name);

// nullopt when the request line's path and query and every header value are valid UTF-8;
// otherwise 400 naming where the bytes are. Checked before anything (routing, audit, logs)
// copies request text into JSON.
std::optional<response> refuse_invalid_utf8(const request& req, const target& t);

// Optimistic concurrency over HTTP: a document's version as a strong entity tag ("7"), and the
// version an If-Match header asks for. nullopt without If-Match or with If-Match: * (any
// version of an existing document); invalid_argument for a weak tag, a list or anything that is
// not one quoted version (RFC 9110 section 13.1.1: If-Match compares strongly).
std::string etag(std::int64_t version);
result<std::optional<std::int64_t>> if_match(const request& req);
// 412 version_mismatch: the document changed since the version the client sent.
response version_mismatch(const error& e, const request& req);

status status_for(errc c);
// A failed append: 507 insufficient_storage when the disk is full, else append_failed with the
// status its error code maps to.
response append_error(const error& e, const request& req);
// Any other failure of ours or of a store: its mapped status, code "internal" (or "corruption").
response failure(const error& e, const request& req);

}  // namespace nf::http
