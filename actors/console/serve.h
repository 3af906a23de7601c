// Serving the console: GET / (the page) and GET /assets/{file} (scripts, styles, images), with
// their content types, caching headers (hashed assets immutable, the page revalidated by ETag),
// gzip when the client takes it, and a Content-Security-Policy that admits only this origin.
#pragma once

#include <span>

#include "actors/console/assets.h"
#include "core/http/routes.h"

namespace nf::console {

// The policy every console answer carries: scripts, styles, images and connections from this
// origin only; no inline script, no plugins, no framing, no form posts elsewhere.
inline constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// The answer to a GET of `a`: 304 when If-None-Match names its tag, gzip when Accept-Encoding
// takes it.
http::response answer(const asset& a, const http::request& req);

// Adds GET / and GET /assets/{file} over `files` (answered without credentials: the page holds
// no data; everything it shows comes from the API with the user's own credential).
void add_routes(http::route_table& routes, std::span<const asset> files);

}  // namespace nf::console
