// The console's static answers: caching, revalidation, compression negotiation and the security
// headers, over a hand-made asset and over the assets this build carries.
#include <set>

#include <gtest/gtest.h>

#include "actors/console/serve.h"

namespace nf {
namespace {

const console::asset kScript{"/assets/main-abc.js", "text/javascript; charset=utf-8", "\"e1\"", "console.log(1)", "GZIPPED", true};
const console::asset kPage{"/", "text/html; charset=utf-8", "\"p1\"", "<!doctype html>", "", false};

http::request get(std::initializer_list<std::pair<http::field, const char*>> headers = {}) {
  http::request r{http::verb::get, "/", 11};
  for (const auto& [f, v] : headers) r.set(f, v);
  return r;
}

TEST(ConsoleServe, HashedAssetsAreImmutableAndThePageRevalidates) {
  auto script = console::answer(kScript, get());
  EXPECT_EQ(script.result(), http::status::ok);
  EXPECT_EQ(script[http::field::cache_control], "public, max-age=31536000, immutable");
  EXPECT_EQ(script[http::field::content_type], "text/javascript; charset=utf-8");
  EXPECT_EQ(script[http::field::etag], "\"e1\"");
  auto page = console::answer(kPage, get());
  EXPECT_EQ(page[http::field::cache_control], "no-cache");
  EXPECT_EQ(page.body(), "<!doctype html>");
}

TEST(ConsoleServe, EveryAnswerCarriesTheSecurityHeaders) {
  for (const auto* a : {&kScript, &kPage}) {
    auto r = console::answer(*a, get());
    EXPECT_EQ(r["Content-Security-Policy"], console::kContentSecurityPolicy);
    EXPECT_NE(std::string(r["Content-Security-Policy"]).find("script-src 'self'"), std::string::npos);
    EXPECT_EQ(std::string(r["Content-Security-Policy"]).find("unsafe"), std::string::npos);
    EXPECT_EQ(r["X-Content-Type-Options"], "nosniff");
    EXPECT_EQ(r["X-Frame-Options"], "DENY");
    EXPECT_EQ(r[http::field::vary], "Accept-Encoding");
  }
}

TEST(ConsoleServe, IfNoneMatchAnswers304WithoutABody) {
  for (const char* tag : {"\"e1\"", "W/\"e1\"", "\"x\", \"e1\"", "*"}) {
    auto r = console::answer(kScript, get({{http::field::if_none_match, tag}}));
    EXPECT_EQ(r.result(), http::status::not_modified) << tag;
    EXPECT_TRUE(r.body().empty());
    EXPECT_EQ(r[http::field::etag], "\"e1\"");
  }
  EXPECT_EQ(console::answer(kScript, get({{http::field::if_none_match, "\"e2\""}})).result(), http::status::ok);
}

TEST(ConsoleServe, GzipOnlyWhenTheClientTakesIt) {
  struct c {
    const char* accept;
    bool gzip;
  };
  for (auto [accept, gz] : {c{"gzip", true}, c{"gzip, deflate, br", true}, c{"br;q=1.0, gzip;q=0.8", true}, c{"GZIP", true}, c{"*", true},
                             c{"gzip;q=0", false}, c{"gzip;q=0.000", false}, c{"*;q=0", false}, c{"identity", false}, c{"", false},
                             c{"deflate", false}, c{"gzip;q=2", false}, c{"gzip;q=abc", false}, c{"*, gzip;q=0", false}}) {
    auto r = console::answer(kScript, get({{http::field::accept_encoding, accept}}));
    EXPECT_EQ(r[http::field::content_encoding] == "gzip", gz) << accept;
    EXPECT_EQ(r.body(), gz ? "GZIPPED" : "console.log(1)") << accept;
  }
  // A file whose gzip form would not be smaller has none: always the body.
  EXPECT_EQ(console::answer(kPage, get({{http::field::accept_encoding, "gzip"}})).body(), "<!doctype html>");
}

TEST(ConsoleServe, TheBuiltConsoleHasAPageAndHashedAssets) {
  std::set<std::string_view> paths;
  bool page = false, script = false, style = false;
  for (const auto& a : console::assets()) {
    EXPECT_TRUE(paths.insert(a.path).second) << "twice: " << a.path;
    EXPECT_FALSE(a.content_type.empty()) << a.path;
    EXPECT_EQ(a.etag.front(), '"');
    EXPECT_LE(a.gzip.size(), a.body.size()) << a.path;
    if (a.path == "/") {
      page = true;
      EXPECT_FALSE(a.immutable);
      EXPECT_NE(a.body.find("<div id=\"root\">"), std::string_view::npos);
      // No inline script: the policy admits only files of this origin.
      EXPECT_EQ(a.body.find("<script>"), std::string_view::npos);
    } else {
      EXPECT_TRUE(a.path.starts_with("/assets/")) << a.path;
      EXPECT_TRUE(a.immutable) << a.path;
      script |= a.path.ends_with(".js");
      style |= a.path.ends_with(".css");
    }
  }
  EXPECT_TRUE(page);
  EXPECT_TRUE(script);
  EXPECT_TRUE(style);
}

}  // namespace
}  // namespace nf
