// The marketplace's hot paths (resolution asks a range about every candidate version).
// Each prints a ratio against a raw baseline measured in the same run:
// - BM_SemverSatisfies: a parsed range (`^1.2.0 || >=3.1.0-rc.0 <4`) against 4,096 parsed
//   versions, against BM_RawStringCompare, comparing the same versions' text with a bound (what
//   a naive string check would cost);
// - BM_RangeParse against BM_VersionParse (one range of three sets against one version).
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "actors/marketplace/semver.h"
#include "bench/ratio_reporter.h"

namespace {

using namespace nf::marketplace;

std::vector<std::string> version_texts() {
  std::mt19937_64 rng(7);
  std::vector<std::string> out;
  for (int i = 0; i < 4096; ++i) {
    std::string s = std::to_string(rng() % 5) + "." + std::to_string(rng() % 12) + "." + std::to_string(rng() % 30);
    if (rng() % 4 == 0) s += "-rc." + std::to_string(rng() % 3);
    out.push_back(s);
  }
  return out;
}

void BM_RawStringCompare(benchmark::State& st) {
  const auto texts = version_texts();
  const std::string bound = "1.2.0";
  std::int64_t n = 0;
  for (auto _ : st) {
    int hits = 0;
    for (const auto& t : texts) hits += t >= bound;
    benchmark::DoNotOptimize(hits);
    n += static_cast<std::int64_t>(texts.size());
  }
  st.SetItemsProcessed(n);
}

void BM_SemverSatisfies(benchmark::State& st) {
  std::vector<version> vs;
  for (const auto& t : version_texts()) vs.push_back(parse_version(t).value());
  const auto r = range::parse("^1.2.0 || >=3.1.0-rc.0 <4").value();
  std::int64_t n = 0;
  for (auto _ : st) {
    int hits = 0;
    for (const auto& v : vs) hits += satisfies(v, r);
    benchmark::DoNotOptimize(hits);
    n += static_cast<std::int64_t>(vs.size());
  }
  st.SetItemsProcessed(n);
}

void BM_VersionParse(benchmark::State& st) {
  std::int64_t n = 0;
  for (auto _ : st) {
    benchmark::DoNotOptimize(parse_version("3.1.0-rc.2+build.7"));
    ++n;
  }
  st.SetItemsProcessed(n);
}

void BM_RangeParse(benchmark::State& st) {
  std::int64_t n = 0;
  for (auto _ : st) {
    benchmark::DoNotOptimize(range::parse("^1.2.0 || >=3.1.0-rc.0 <4 || 5.x - 6.2"));
    ++n;
  }
  st.SetItemsProcessed(n);
}

}  // namespace

BENCHMARK(BM_RawStringCompare)->MinTime(0.5);
BENCHMARK(BM_SemverSatisfies)->MinTime(0.5);
BENCHMARK(BM_VersionParse)->MinTime(0.5);
BENCHMARK(BM_RangeParse)->MinTime(0.5);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_SemverSatisfies", "BM_RawStringCompare"}, {"BM_RangeParse", "BM_VersionParse"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
