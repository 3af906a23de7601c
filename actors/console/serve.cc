#include "actors/console/serve.h"

#include <cctype>
#include <optional>
#include <string>

#include "core/base/text.h"

namespace nf::console {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// The q value of one Accept-Encoding entry's parameters ("q=0.5"); 1 without one, 0 when malformed.
double quality(std::string_view params) {
  for (auto p : split(params, ';')) {
    p = trim(p);
    if (p.size() < 2 || !(p[0] == 'q' || p[0] == 'Q') || p[1] != '=') continue;
    const auto v = trim(p.substr(2));
    if (v.empty() || v.size() > 5) return 0;
    double q = 0, scale = 1;
    bool fraction = false;
    for (char c : v) {
      if (c == '.' && !fraction) fraction = true;
      else if (c >= '0' && c <= '9') {
        if (fraction) q += (c - '0') * (scale /= 10);
        else q = q * 10 + (c - '0');
      } else return 0;
    }
    return q > 1 ? 0 : q;
  }
  return 1;
}

// Whether Accept-Encoding takes gzip (RFC 9110 section 12.5.3): listed with q > 0, or "*" with
// q > 0 when gzip is not listed.
bool takes_gzip(std::string_view header) {
  std::optional<double> gzip, any;
  for (auto entry : split(header, ',')) {
    const auto semi = entry.find(';');
    const auto name = trim(entry.substr(0, semi));
    const double q = semi == std::string_view::npos ? 1 : quality(entry.substr(semi + 1));
    if (iequals(name, "gzip") || iequals(name, "x-gzip")) gzip = q;
    else if (name == "*") any = q;
  }
  if (gzip) return *gzip > 0;
  return any && *any > 0;
}

// Whether If-None-Match names the asset's tag (weak comparison, RFC 9110 section 13.1.2).
bool matches(std::string_view header, std::string_view etag) {
  for (auto entry : split(header, ',')) {
    entry = trim(entry);
    if (entry == "*") return true;
    if (entry.starts_with("W/")) entry.remove_prefix(2);
    if (entry == etag) return true;
  }
  return false;
}

std::string_view header(const http::request& req, http::field f) {
  const auto v = req[f];
  return {v.data(), v.size()};
}

// Boost's string_view from ours (the header setters take Boost's).
boost::beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

http::response answer(const asset& a, const http::request& req) {
  const bool fresh = matches(header(req, http::field::if_none_match), a.etag);
  http::response res{fresh ? http::status::not_modified : http::status::ok, req.version()};
  res.keep_alive(req.keep_alive());
  res.set(http::field::etag, bsv(a.etag));
  res.set(http::field::cache_control, a.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  res.set("Content-Security-Policy", kContentSecurityPolicy);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Cross-Origin-Opener-Policy", "same-origin");
  res.set(http::field::vary, "Accept-Encoding");
  if (fresh) return res;
  res.set(http::field::content_type, bsv(a.content_type));
  if (!a.gzip.empty() && takes_gzip(header(req, http::field::accept_encoding))) {
    res.set(http::field::content_encoding, "gzip");
    res.body().assign(a.gzip);
  } else {
    res.body().assign(a.body);
  }
  res.prepare_payload();
  return res;
}

void add_routes(http::route_table& routes, std::span<const asset> files) {
  const asset* page = nullptr;
  for (const auto& a : files)
    if (a.path == "/") page = &a;
  const http::response_doc html{"the console's page", http::json{{"type", "string"}}, "text/html"};
  if (page)
    routes.add({.method = http::verb::get, .path = "/", .summary = "The web console (a single-page app; its views use this API with the user's credential)",
                .tag = "console", .responses = {{200, html}, {304, {"not modified since the ETag sent in If-None-Match"}}},
                .handler = [page](const http::route_context& c) { return answer(*page, c.req); }});
  routes.add({.method = http::verb::get, .path = "/assets/{file}", .summary = "A script, style sheet or image of the web console",
              .tag = "console",
              .responses = {{200, {"the file (cacheable for a year: its name carries its content hash)", http::json{{"type", "string"}}, "application/octet-stream"}},
                            {304, {"not modified since the ETag sent in If-None-Match"}},
                            {404, {"no such file in this build of the console", http::schema::ref("Error")}}},
              .handler = [files](const http::route_context& c) {
                const std::string wanted = "/assets/" + c.path_param("file");
                for (const auto& a : files)
                  if (a.path == wanted) return answer(a, c.req);
                return http::error_response(http::status::not_found, "not_found", "no console asset " + wanted, c.req);
              }});
}

}  // namespace nf::console
