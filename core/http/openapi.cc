// The OpenAPI 3.1 document, generated from the route table: every route with its parameters,
// request and response schemas, the error statuses the pipeline itself answers, and security.
#include <set>

#include "core/http/server.h"

namespace nf::http {

namespace {

std::string operation_id(const route& r) {
  std::string id(to_string(r.method));
  for (auto& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char c : r.path) {
    if (std::isalnum(static_cast<unsigned char>(c))) id.push_back(c);
    else if (c == '/' || c == '-' || c == '.' || c == '_') id.push_back('_');
  }
  while (!id.empty() && id.back() == '_') id.pop_back();
  return id;
}

json error_ref(const char* description) {
  return json{{"description", description}, {"content", {{"application/json", {{"schema", schema::ref("Error")}}}}}};
}

json operation(const route& r) {
  json op{{"operationId", operation_id(r)}, {"summary", r.summary}, {"tags", json::array({r.tag.empty() ? "other" : r.tag})}};
  json params = json::array();
  std::set<std::string> documented;
  for (const auto& p : r.params) {
    json pj{{"name", p.name}, {"in", p.in}, {"required", p.in == "path" ? true : p.required}, {"schema", p.schema}};
    if (!p.description.empty()) pj["description"] = p.description;
    params.push_back(pj);
    if (p.in == "path") documented.insert(p.name);
  }
  // Path parameters not documented by the route: plain strings.
  std::size_t i = 0;
  while ((i = r.path.find('{', i)) != std::string::npos) {
    const auto end = r.path.find('}', i);
    const auto name = r.path.substr(i + 1, end - i - 1);
    if (!documented.count(name))
      params.push_back({{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}, {"minLength", 1}}}});
    i = end;
  }
  const bool reads_your_writes = r.perm && r.stream == stream_kind::none;
  if (reads_your_writes)
    params.push_back({{"name", "NF-Wait-For"},
                      {"in", "header"},
                      {"required", false},
                      {"description", "an NF-Position token from an earlier write: answer once this instance's read models applied it"},
                      {"schema", {{"type", "string"}, {"minLength", 1}}}});
  if (!params.empty()) op["parameters"] = params;
  if (r.body) op["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", *r.body}}}}}};

  json responses = json::object();
  for (const auto& [code, doc] : r.responses) {
    json rj{{"description", doc.description.empty() ? "answer" : doc.description}};
    if (!doc.schema.is_null()) rj["content"] = {{doc.content_type, {{"schema", doc.schema}}}};
    if (reads_your_writes && r.method != verb::get && code >= 200 && code < 300)
      rj["headers"]["NF-Position"] = {{"description", "where this write's events went; send it as NF-Wait-For to read them on any instance"},
                                      {"schema", {{"type", "string"}}}};
    if (doc.etag)
      rj["headers"]["ETag"] = {{"description", "the document's version (a quoted number); send it as If-Match to change the document "
                                               "only if nobody changed it since"},
                               {"schema", {{"type", "string"}}}};
    responses[std::to_string(code)] = rj;
  }
  if (r.stream == stream_kind::sse && !responses.contains("200"))
    responses["200"] = {{"description", "a stream of events (id: position, data: the event as JSON)"},
                        {"content", {{"text/event-stream", {{"schema", {{"type", "string"}}}}}}}};
  if (r.stream == stream_kind::websocket && !responses.contains("101"))
    responses["101"] = {{"description", "switching to the WebSocket protocol"}};
  auto add = [&](unsigned code, const char* why) {
    if (!responses.contains(std::to_string(code))) responses[std::to_string(code)] = error_ref(why);
  };
  if (r.body || !r.params.empty() || reads_your_writes)
    add(400, "the request is invalid (the error names the field, or the NF-Wait-For header)");
  if (reads_your_writes) add(503, "NF-Wait-For: this instance's read models have not applied the token in time (not_caught_up)");
  if (r.body) {
    add(413, "the body is too large");
    add(415, "the body is not application/json");
  }
  if (r.perm) {
    add(401, "no valid credential");
    add(403, "the caller lacks the permission, or its tenant is suspended");
    add(429, "over the tenant's rate limit or a quota");
  }
  if (r.stream == stream_kind::websocket) add(426, "this route takes a WebSocket upgrade");
  add(500, "a fault of the server (quote the X-Request-Id)");
  responses["default"] = error_ref("any other error");
  op["responses"] = responses;

  if (r.perm) {
    json sec = json::array({{{"apiKey", json::array()}}, {{"bearer", json::array()}}});
    if (r.stream != stream_kind::none) sec.push_back({{"accessToken", json::array()}});
    op["security"] = sec;
    op["x-permission"] = std::string(r.perm->name());
  } else {
    op["security"] = json::array({json::object()});
  }
  return op;
}

}  // namespace

json openapi_document(const route_table& routes, const std::string& title, const std::string& version) {
  json paths = json::object();
  std::set<std::string> tags;
  for (const auto& r : routes.all()) {
    std::string method(to_string(r->method));
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[r->path][method] = operation(*r);
    tags.insert(r->tag.empty() ? "other" : r->tag);
  }
  json tag_list = json::array();
  for (const auto& t : tags) tag_list.push_back({{"name", t}});
  const json error_schema = {
      {"type", "object"},
      {"required", {"error"}},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", {"code", "message"}},
          {"properties",
           {{"code", {{"type", "string"}, {"description", "machine-readable, e.g. invalid_field, not_found, forbidden"}}},
            {"message", {{"type", "string"}}},
            {"field", {{"type", "string"}, {"description", "the offending field or parameter"}}}}}}}}}};
  return json{
      {"openapi", "3.1.0"},
      {"info", {{"title", title}, {"version", version}, {"description", "Generated from the server's route table."}}},
      {"tags", tag_list},
      {"paths", paths},
      {"components",
       {{"schemas", {{"Error", error_schema}}},
        {"securitySchemes",
         {{"apiKey", {{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}},
          {"bearer", {{"type", "http"}, {"scheme", "bearer"}, {"description", "an API key (nfk_...) or a JWT"}}},
          {"accessToken", {{"type", "apiKey"}, {"in", "query"}, {"name", "access_token"}}}}}}},
  };
}

}  // namespace nf::http
