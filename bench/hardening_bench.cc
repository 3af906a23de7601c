// What the request-path checks added for hardening cost, against the work a request does anyway,
// measured in the same run:
//  - UTF-8 validation of request text vs a raw byte scan (std::count) of the same bytes;
//  - the JSON nesting-depth scan vs nlohmann::json::parse of the same body;
//  - a whole request's checks (target parsing, UTF-8 of path, query and headers, depth scan,
//    parse, object check) vs the same request without the two new checks.
#include <algorithm>
#include <string>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "core/http/message.h"
#include "bench/ratio_reporter.h"
#include "core/base/text.h"

namespace {

using namespace nf::http;

std::string text_of(std::size_t n) {
  // Mostly ASCII with some two- and three-byte sequences, as request text and JSON bodies are.
  std::string s;
  while (s.size() < n) s += "mission objective: summarise the spec \xc3\xa9t\xc3\xa9 \xe2\x82\xac 42; ";
  s.resize(n);
  while (!nf::valid_utf8(s)) s.pop_back();
  return s;
}

std::string body_of(std::size_t n) {
  nlohmann::json j{{"id", "01900000-0000-7000-8000-000000000001"}, {"priority", "P1"}, {"originatingSpec", "https://spec/1"},
                   {"tags", {"a", "b", {{"nested", {1, 2, 3}}}}}};
  j["objective"] = text_of(n > 200 ? n - 200 : 16);
  return j.dump();
}

void BM_Utf8Validate(benchmark::State& st) {
  const auto s = text_of(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(nf::valid_utf8(s));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
}

void BM_RawByteScan(benchmark::State& st) {
  const auto s = text_of(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(std::count(s.begin(), s.end(), '\0'));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * s.size()));
}

void BM_JsonDepthScan(benchmark::State& st) {
  const auto b = body_of(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(nf::json_depth(b, nf::kMaxJsonDepth));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * b.size()));
}

void BM_JsonParse(benchmark::State& st) {
  const auto b = body_of(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(nlohmann::json::parse(b, nullptr, false));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * b.size()));
}

request sample(std::size_t body_bytes) {
  request req{nf::http::verb::post, "/missions?tenant=acme&from=earliest&note=%C3%A9t%C3%A9", 11};
  req.set(nf::http::field::host, "acme.nexus.example");
  req.set(nf::http::field::authorization, "Bearer nfk_systemtestsplatformadminkey00001");
  req.set(nf::http::field::content_type, "application/json");
  req.set(nf::http::field::user_agent, "curl/7.88.1");
  req.set(nf::http::field::accept, "*/*");
  req.set("X-Request-Source", "benchmark");
  req.body() = body_of(body_bytes);
  req.prepare_payload();
  return req;
}

void BM_RequestChecks(benchmark::State& st) {
  const auto req = sample(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) {
    const auto t = parse_target(std::string_view(req.target().data(), req.target().size()));
    benchmark::DoNotOptimize(refuse_invalid_utf8(req, t));
    benchmark::DoNotOptimize(parse_body(req));
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

void BM_RequestWithoutChecks(benchmark::State& st) {
  const auto req = sample(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) {
    const auto t = parse_target(std::string_view(req.target().data(), req.target().size()));
    benchmark::DoNotOptimize(t);
    auto j = nlohmann::json::parse(req.body(), nullptr, false);
    benchmark::DoNotOptimize(j.is_object());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

}  // namespace

BENCHMARK(BM_Utf8Validate)->Arg(256)->Arg(64 << 10);
BENCHMARK(BM_RawByteScan)->Arg(256)->Arg(64 << 10);
BENCHMARK(BM_JsonDepthScan)->Arg(1 << 10)->Arg(64 << 10);
BENCHMARK(BM_JsonParse)->Arg(1 << 10)->Arg(64 << 10);
BENCHMARK(BM_RequestChecks)->Arg(1 << 10)->Arg(64 << 10);
BENCHMARK(BM_RequestWithoutChecks)->Arg(1 << 10)->Arg(64 << 10);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter(
      {{"BM_Utf8Validate", "BM_RawByteScan"}, {"BM_JsonDepthScan", "BM_JsonParse"}, {"BM_RequestChecks", "BM_RequestWithoutChecks"}},
      {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
