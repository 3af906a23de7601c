// libFuzzer: the request headers the console's static answers read (Accept-Encoding with q-values,
// If-None-Match with lists and weak tags). Nothing may crash; the answer is 200 with the body or
// its gzip form, or 304 without a body, and always carries its caching and security headers.
#include <cstddef>
#include <cstdint>
#include <cctype>
#include <cstdlib>
#include <string>

#include "actors/console/serve.h"

namespace {
const nf::console::asset kAsset{"/assets/main-abc.js", "text/javascript; charset=utf-8", "\"e1\"", "console.log(1)", "GZ", true};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string accept = input.substr(0, nl);
  const std::string none_match = nl == std::string::npos ? std::string() : input.substr(nl + 1);
  nf::http::request req{nf::http::verb::get, "/assets/main-abc.js", 11};
  if (!accept.empty()) req.set(nf::http::field::accept_encoding, accept);
  if (!none_match.empty()) req.set(nf::http::field::if_none_match, none_match);
  const auto res = nf::console::answer(kAsset, req);
  if (res["Content-Security-Policy"] != nf::console::kContentSecurityPolicy) std::abort();
  if (res[nf::http::field::etag] != "\"e1\"") std::abort();
  if (res.result() == nf::http::status::not_modified) {
    if (!res.body().empty()) std::abort();
  } else if (res.result() == nf::http::status::ok) {
    const bool gz = res[nf::http::field::content_encoding] == "gzip";
    if (res.body() != (gz ? "GZ" : "console.log(1)")) std::abort();
    // gzip only when the header names it or a wildcard.
    std::string lower = accept;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (gz && lower.find("gzip") == std::string::npos && lower.find('*') == std::string::npos) std::abort();
  } else {
    std::abort();
  }
  return 0;
}
