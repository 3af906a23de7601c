// Serving the console: an asset's answer (If-None-Match and Accept-Encoding negotiation, the
// caching and security headers, the body or its gzip form) against the raw baseline of building a
// response with the same bytes and a content type, measured in the same run. Arguments: the
// page (0) and the largest file (1), each as gzip (the browser's request) and as identity.
#include <algorithm>
#include <string>

#include <benchmark/benchmark.h>

#include "actors/console/serve.h"
#include "bench/ratio_reporter.h"

namespace {

using namespace nf;

const console::asset& pick(std::int64_t which) {
  auto all = console::assets();
  if (which == 0)
    for (const auto& a : all)
      if (a.path == "/") return a;
  return *std::max_element(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.body.size() < y.body.size(); });
}

http::request browser_request(const console::asset& a, bool gzip) {
  http::request req{http::verb::get, std::string(a.path), 11};
  req.set(http::field::host, "127.0.0.1:7070");
  req.set(http::field::user_agent, "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36");
  req.set(http::field::accept, "*/*");
  if (gzip) req.set(http::field::accept_encoding, "gzip, deflate, br, zstd");
  return req;
}

void BM_ConsoleAnswer(benchmark::State& st) {
  const auto& a = pick(st.range(0));
  const auto req = browser_request(a, st.range(1) != 0);
  std::size_t bytes = 0;
  for (auto _ : st) {
    auto res = console::answer(a, req);
    bytes += res.body().size();
    benchmark::DoNotOptimize(res);
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
  st.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  st.SetLabel(std::string(a.path));
}

void BM_RawResponse(benchmark::State& st) {
  const auto& a = pick(st.range(0));
  const auto req = browser_request(a, st.range(1) != 0);
  const std::string_view bytes_of = st.range(1) != 0 && !a.gzip.empty() ? a.gzip : a.body;
  std::size_t bytes = 0;
  for (auto _ : st) {
    http::response res{http::status::ok, req.version()};
    res.set(http::field::content_type, boost::beast::string_view(a.content_type.data(), a.content_type.size()));
    res.body().assign(bytes_of);
    res.prepare_payload();
    bytes += res.body().size();
    benchmark::DoNotOptimize(res);
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
  st.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

}  // namespace

BENCHMARK(BM_ConsoleAnswer)->Args({0, 1})->Args({1, 1})->Args({1, 0});
BENCHMARK(BM_RawResponse)->Args({0, 1})->Args({1, 1})->Args({1, 0});

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_ConsoleAnswer", "BM_RawResponse"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
