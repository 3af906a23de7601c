// The marketplace's hot paths (resolution asks a range about every candidate version).
// Each prints a ratio against a raw baseline measured in the same run:
// - BM_SemverSatisfies: a parsed range (`^1.2.0 || >=3.1.0-rc.0 <4`) against 4,096 parsed
//   versions, against BM_RawStringCompare, comparing the same versions' text with a bound (what
//   a naive string check would cost);
// - BM_RangeParse against BM_VersionParse (one range of three sets against one version);
// - BM_Resolve (a 1,000-package graph, 3 versions each, every package in the closure) and
//   BM_ResolveConflict (the same graph with two requirements on the last package that no version
//   meets together, explained) against BM_GreedyClosure: a walk of the same closure that takes
//   the highest version admitted by the first range it meets and never backtracks (the least
//   work any resolver does). Counters p50_us and p99_us per resolution.
#include <benchmark/benchmark.h>

#include <chrono>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "actors/marketplace/resolver.h"
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

// p0000 .. p0999, versions 1.0.0, 1.1.0 and 2.0.0. Every version of p<i> needs p<i+1> (so the
// closure is the whole graph) and up to three later packages, mostly with ^1.0.0. With
// `conflict`, every version of p0500 needs p0999 >=2.0.0 while p0998 needs p0999 ^1.0.0.
using graph = std::map<std::string, std::vector<candidate>>;
std::string pname(int i) {
  char b[8];
  std::snprintf(b, sizeof b, "p%04d", i);
  return b;
}
graph make_graph(bool conflict) {
  std::mt19937 rng(1000);
  const std::vector<std::string> ranges{"^1.0.0", "^1.0.0", "^1.1.0", ">=1.0.0", "1.x || 2.x"};
  graph g;
  for (int i = 0; i < 1000; ++i)
    for (const char* v : {"1.0.0", "1.1.0", "2.0.0"}) {
      candidate c{parse_version(v).value(), {}, "sha"};
      if (i + 1 < 1000) c.dependencies.push_back({pname(i + 1), i == 998 && conflict ? "^1.0.0" : "1.x || 2.x"});
      for (int k = 0; k < 3 && i + 2 < 1000; ++k) {
        const int j = i + 2 + static_cast<int>(rng() % static_cast<unsigned>(std::min(50, 998 - i)));
        if (j >= 1000 || j == 999) continue;
        bool dup = false;
        for (const auto& d : c.dependencies) dup = dup || d.name == pname(j);
        if (!dup) c.dependencies.push_back({pname(j), ranges[rng() % ranges.size()]});
      }
      if (conflict && i == 500) c.dependencies.push_back({pname(999), ">=2.0.0"});
      g[pname(i)].push_back(std::move(c));
    }
  return g;
}
package_source source_for(const graph& g) {
  return [&g](std::string_view name) -> std::optional<std::vector<candidate>> {
    auto it = g.find(std::string(name));
    if (it == g.end()) return std::nullopt;
    return it->second;
  };
}

void BM_GreedyClosure(benchmark::State& st) {
  const graph g = make_graph(false);
  const auto src = source_for(g);
  std::vector<double> us;
  std::int64_t n = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    std::map<std::string, version> picked;
    std::deque<std::pair<std::string, std::string>> todo{{"p0000", "*"}};
    while (!todo.empty()) {
      auto [name, text] = todo.front();
      todo.pop_front();
      if (picked.count(name)) continue;
      const auto cands = *src(name);
      std::vector<version> vs;
      for (const auto& c : cands) vs.push_back(c.ver);
      const auto best = max_satisfying(vs, range::parse(text).value());
      picked.emplace(name, *best);
      for (const auto& c : cands)
        if (c.ver == *best)
          for (const auto& d : c.dependencies) todo.emplace_back(d.name, d.range);
    }
    benchmark::DoNotOptimize(picked);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    ++n;
  }
  st.SetItemsProcessed(n);
  nf::bench::latency_counters(st, us);
}

void BM_Resolve(benchmark::State& st) {
  const graph g = make_graph(false);
  const auto src = source_for(g);
  std::vector<double> us;
  std::int64_t n = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = resolve("p0000", "*", src);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    if (!std::holds_alternative<resolution>(r) || std::get<resolution>(r).order.size() != 1000) {
      st.SkipWithError("the graph did not resolve to 1,000 packages");
      return;
    }
    ++n;
  }
  st.SetItemsProcessed(n);
  nf::bench::latency_counters(st, us);
}

void BM_ResolveConflict(benchmark::State& st) {
  const graph g = make_graph(true);
  const auto src = source_for(g);
  std::vector<double> us;
  std::int64_t n = 0;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = resolve("p0000", "*", src);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    const auto* f = std::get_if<resolve_failure>(&r);
    if (!f || f->what != resolve_failure::kind::unsatisfiable || f->message.find("p0500@") == std::string::npos) {
      st.SkipWithError("the planted conflict was not explained");
      return;
    }
    ++n;
  }
  st.SetItemsProcessed(n);
  nf::bench::latency_counters(st, us);
}

}  // namespace

BENCHMARK(BM_GreedyClosure)->MinTime(1.0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Resolve)->MinTime(1.0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ResolveConflict)->MinTime(1.0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawStringCompare)->MinTime(0.5);
BENCHMARK(BM_SemverSatisfies)->MinTime(0.5);
BENCHMARK(BM_VersionParse)->MinTime(0.5);
BENCHMARK(BM_RangeParse)->MinTime(0.5);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_SemverSatisfies", "BM_RawStringCompare"}, {"BM_RangeParse", "BM_VersionParse"},
                                        {"BM_Resolve", "BM_GreedyClosure"}, {"BM_ResolveConflict", "BM_GreedyClosure"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
