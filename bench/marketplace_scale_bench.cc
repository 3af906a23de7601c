// The marketplace at scale, each with a ratio against a raw baseline measured in the same run:
// - BM_Search: 100,000 agents with 3 approved versions each (a deterministic synthetic corpus:
//   names, descriptions and capabilities drawn from a 5,000-word vocabulary with a Zipf-like
//   skew, ratings and installs), one- and two-word queries, p50/p99 per query; the index's
//   resident memory is printed. Baseline BM_NaiveScan: the same queries answered by scanning
//   every agent's text for the words (what a read model without an index would do).
// - BM_PublishPipeline: packages published over HTTP to an in-process node (embedded bus,
//   fsync on) and followed to pending_review, without a selftest: submitted, validated, scanned,
//   benchmarked, pending review. Baseline BM_RawAppend6: the six events such a package writes,
//   appended straight to the same bus one at a time.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/marketplace/feature.h"
#include "actors/marketplace/search.h"
#include "bench/ratio_reporter.h"
#include "bench/rss.h"
#include "core/base/base64.h"
#include "core/base/clock.h"
#include "core/event/codec.h"
#include "tests/support/http_client.h"
#include "tests/support/node.h"

namespace {

using namespace nf;
using nlohmann::json;

constexpr int kAgents = 100'000;

struct corpus {
  std::vector<std::string> vocab;
  std::vector<json> agents;
  std::vector<std::string> texts;  // what the naive scan reads: name, capabilities, description
  std::vector<std::string> queries;

  corpus() {
    std::mt19937_64 rng(20261203);
    const char* syll[] = {"ka", "lo", "mi", "ne", "su", "ta", "vo", "ri", "pe", "da", "zu", "go", "xi", "ba", "fe", "yo"};
    for (int i = 0; i < 5000; ++i) {
      std::string w;
      int n = 2 + static_cast<int>(rng() % 3);
      std::uint64_t x = static_cast<std::uint64_t>(i) * 2654435761ull + rng() % 7;
      for (int k = 0; k < n; ++k) w += syll[(x >> (k * 4)) % 16];
      w += std::to_string(i % 97);
      vocab.push_back(w);
    }
    // Zipf-like: low ranks far more often.
    auto word = [&] {
      const double u = std::uniform_real_distribution<double>(0, 1)(rng);
      return vocab[static_cast<std::size_t>(std::pow(u, 3.0) * (vocab.size() - 1))];
    };
    for (int i = 0; i < kAgents; ++i) {
      json a{{"name", "agent-" + word() + "-" + std::to_string(i)}, {"tenantId", "t" + std::to_string(i % 50)}};
      std::string desc;
      for (int k = 0; k < 12; ++k) desc += (k ? " " : "") + word();
      std::vector<std::string> caps;
      for (int k = 0; k < 3; ++k) caps.push_back(word());
      for (const char* v : {"1.0.0", "1.1.0", "2.0.0"}) {
        a["versions"][v] = {{"status", "approved"}, {"yanked", false}};
        a["listings"][v] = {{"description", desc}, {"category", "c" + std::to_string(i % 20)}, {"capabilities", caps},
                            {"protocols", {"nexus"}}, {"visibility", "public"}};
      }
      a["ratingAverage"] = static_cast<double>(rng() % 50) / 10.0;
      a["ratingCount"] = static_cast<int>(rng() % 100);
      a["installs"] = static_cast<int>(rng() % 10'000);
      std::string caps_text;
      for (const auto& c : caps) caps_text += c + " ";
      texts.push_back(a["name"].get<std::string>() + " " + caps_text + desc);
      agents.push_back(std::move(a));
    }
    for (int i = 0; i < 200; ++i) queries.push_back(i % 2 ? word() : word() + " " + word());
  }
};

corpus& data() {
  static corpus c;
  return c;
}

struct built_index {
  marketplace::search_index index;
  long rss_kb = 0;
  built_index() {
    auto& c = data();
    const long before = bench::rss_kb();
    for (const auto& a : c.agents) index.upsert(a);
    rss_kb = bench::rss_kb() - before;
    std::printf("search index: %zu agents, resident memory +%ld MiB\n", index.size(), rss_kb / 1024);
  }
};

built_index& idx() {
  static built_index b;
  return b;
}

void BM_Search(benchmark::State& st) {
  auto& ix = idx();
  auto& c = data();
  std::vector<double> us;
  std::size_t i = 0, matches = 0;
  for (auto _ : st) {
    marketplace::search_query q;
    q.q = c.queries[i++ % c.queries.size()];
    const auto t0 = std::chrono::steady_clock::now();
    const auto page = ix.index.search(q);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    matches += page.total;
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
  st.counters["matches_per_query"] = static_cast<double>(matches) / static_cast<double>(std::max<std::int64_t>(st.iterations(), 1));
  st.counters["index_rss_mib"] = static_cast<double>(ix.rss_kb) / 1024.0;
  bench::latency_counters(st, us);
}

void BM_NaiveScan(benchmark::State& st) {
  auto& c = data();
  std::vector<double> us;
  std::size_t i = 0;
  for (auto _ : st) {
    const auto words = marketplace::tokenize(c.queries[i++ % c.queries.size()]);
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t hits = 0;
    for (const auto& t : c.texts) {
      bool all = true;
      for (const auto& w : words) all = all && t.find(w) != std::string::npos;
      hits += all;
    }
    benchmark::DoNotOptimize(hits);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
  bench::latency_counters(st, us);
}

struct node_fixture {
  test::in_process_node node{"bench-marketplace",
                             {.tenancy = false,
                              .extra = {[] { return marketplace::make_feature(); }}, .sync = true}};
  int port = node.listen();
  int next = 0;
  static node_fixture& get() {
    static node_fixture f;
    return f;
  }
};

void BM_PublishPipeline(benchmark::State& st) {
  auto& f = node_fixture::get();
  test::http_client c("127.0.0.1", f.port);
  std::vector<double> us;
  for (auto _ : st) {
    const std::string name = "bench-agent-" + std::to_string(f.next++);
    const json body{{"manifest", {{"name", name}, {"version", "1.0.0"}, {"description", "a benchmark agent"}, {"category", "bench"},
                                  {"protocols", {"nexus"}}, {"entrypoint", "run.sh"}}},
                    {"files", {{"run.sh", to_base64("#!/bin/sh\necho " + name + "\n")}}}};
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.request("POST", "/marketplace/agents", body.dump());
    if (r.status != 202) {
      st.SkipWithError(("publish: " + r.body).c_str());
      return;
    }
    for (;;) {
      auto g = c.request("GET", "/marketplace/agents/" + name + "/1.0.0");
      if (g.body.find("\"status\":\"pending_review\"") != std::string::npos) break;
      if (g.body.find("\"status\":\"failed\"") != std::string::npos) {
        st.SkipWithError(("pipeline: " + g.body).c_str());
        return;
      }
    }
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
  bench::latency_counters(st, us);
}

void BM_RawAppend6(benchmark::State& st) {
  auto& f = node_fixture::get();
  (void)f.node.bus().create_topic(topic_name{"bench.raw"}, {3, -1, -1});
  for (auto _ : st) {
    for (int k = 0; k < 6; ++k) {
      event::new_event e;
      e.type = "bench.raw";
      e.key = "k";
      e.payload_json = R"({"name":"bench-agent","version":"1.0.0","passed":true})";
      e.occurred_at = system_clock::instance().now_ms();
      auto rec = event::to_record(*event::build(e));
      if (!f.node.bus().append(topic_name{"bench.raw"}, std::span<const bus::record>(&rec, 1))) st.SkipWithError("append");
    }
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

}  // namespace

BENCHMARK(BM_Search)->MinTime(2.0)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_NaiveScan)->MinTime(2.0)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PublishPipeline)->MinTime(3.0)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawAppend6)->MinTime(3.0)->UseRealTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_Search", "BM_NaiveScan"}, {"BM_PublishPipeline", "BM_RawAppend6"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
