// HTTP benchmarks against an in-process node on 127.0.0.1 (port 0), embedded bus in a temp dir:
//   GET /missions/{id} over keep-alive  vs  in-process projection lookups (same run)
//   POST /missions with the sync bus    vs  raw embedded sync appends of one event
//   POST /topics/{t}/events with 100 events per request  vs  raw embedded sync appends of the
//   same 100 records, built beforehand (events/s)
//   the producing parser and envelope builder on a batch of 100  vs  nlohmann parsing the same
//   body alone (events/s)
//   SSE fan-out: 10,000 events to 100 subscribers, all delivered, p50/p99 delivery latency
//   the cost of tenancy on POST /missions: the same POSTs, alternating in blocks of 100, to a
//   gateway without tenancy and to one that resolves the tenant's API key, checks its rate limit,
//   permission and daily quotas, meters the request and audits it; throughput of each and the
//   overhead (target < 5 %)
// Run: build/bench/nf_bench_gateway (see docs/performance.md).
#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "actors/producing/batch.h"
#include "projections/missions/missions.h"
#include "bench/ratio_reporter.h"
#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "tests/support/http_client.h"
#include "tests/support/node.h"

namespace {

namespace fs = std::filesystem;
using namespace nf;
using json = nlohmann::json;

std::string uuid(int n) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "01900000-0000-7000-8000-%012d", n);
  return buf;
}

std::string prompt_body(int n) {
  return json{{"id", uuid(n)}, {"objective", "benchmark mission " + std::to_string(n)}, {"priority", "P1"}, {"originatingSpec", "https://spec/b"}}
      .dump();
}

// One server for the whole run: the missions feature without tenancy (every caller is the
// platform), and a second node with tenancy in front of the same feature.
struct fixture {
  test::in_process_node plain{"bench-gw", {.tenancy = false, .evidence = false, .sync = true, .subscriber_buffer = 20'000}};
  test::in_process_node auth{"bench-gw-auth", {.tenancy = true, .evidence = false, .sync = true}};
  missions::missions_projection proj;   // names the read model for in-process lookups
  int port = 0;
  int next_id = 0;
  int auth_port = 0;
  std::string tenant_key;

  fixture() {
    (void)plain.bus().create_topic(topic_name{"fanout"}, {3, -1, -1});
    port = plain.listen();
    test::http_client c("127.0.0.1", port);
    for (; next_id < 1000; ++next_id) (void)c.post("/missions", prompt_body(next_id));
    // A topic for producing: unknown types accepted, three partitions.
    (void)c.post("/topics", R"({"name":"bench.produce","partitions":3,"acceptUnknownTypes":true})");
    auth_port = auth.listen();
    test::http_client admin("127.0.0.1", auth_port, test::admin_headers());
    // Limits that hold but do not refuse in a benchmark run: every check still runs.
    (void)admin.post("/tenants", R"({"id":"bench","name":"Bench","plan":"enterprise","quotas":{"requestsPerMinute":100000000}})");
    auto key = admin.post("/tenants/bench/keys", R"({"role":"developer"})");
    tenant_key = json::parse(key.body, nullptr, false).value("key", "");
  }
  static fixture& get() {
    static fixture f;
    return f;
  }
};

// The baseline: the same lookup GET /missions/{id} serves, in process.
void BM_ProjectionLookup(benchmark::State& st) {
  auto& f = fixture::get();
  missions::missions_view view(f.plain.store(), f.proj);
  std::mt19937 rng(1);
  for (auto _ : st) {
    auto doc = view.get_public(uuid(static_cast<int>(rng() % 1000)));
    if (!doc || !*doc) st.SkipWithError("missing mission");
    benchmark::DoNotOptimize(doc);
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

void BM_HttpGetMission(benchmark::State& st) {
  auto& f = fixture::get();
  test::http_client c("127.0.0.1", f.port);
  std::mt19937 rng(1);
  for (auto _ : st) {
    auto r = c.get("/missions/" + uuid(static_cast<int>(rng() % 1000)));
    if (r.status != 200) st.SkipWithError("GET failed");
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// The HTTP floor on this machine: the cheapest route, same client, same connection handling.
void BM_HttpHealthz(benchmark::State& st) {
  auto& f = fixture::get();
  test::http_client c("127.0.0.1", f.port);
  for (auto _ : st) {
    auto r = c.get("/healthz");
    if (r.status != 200) st.SkipWithError("GET failed");
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

void BM_RawSyncAppend(benchmark::State& st) {
  auto& f = fixture::get();
  for (auto _ : st) {
    event::new_event e;
    e.type = "bench.raw";
    e.key = "k";
    e.payload_json = prompt_body(0);
    e.occurred_at = system_clock::instance().now_ms();
    auto rec = event::to_record(*event::build(e));
    if (!f.plain.bus().append(topic_name{"fanout"}, std::span<const bus::record>(&rec, 1))) st.SkipWithError("append");
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// 100 events of a 120-byte field, as the producing route takes them.
std::string batch_body() {
  json events = json::array();
  for (int i = 0; i < 100; ++i)
    events.push_back({{"type", "bench.tick"}, {"key", "k" + std::to_string(i)}, {"payload", {{"payload", std::string(120, 'x')}}}});
  return json{{"events", events}}.dump();
}

// The baseline of a produced batch: its 100 records, built beforehand, in one sync append.
void BM_RawSyncAppendBatch100(benchmark::State& st) {
  auto& f = fixture::get();
  std::vector<bus::record> recs;
  for (int i = 0; i < 100; ++i) {
    event::new_event e;
    e.type = "bench.tick";
    e.key = "k" + std::to_string(i);
    e.payload_json = json{{"payload", std::string(120, 'x')}}.dump();
    e.occurred_at = system_clock::instance().now_ms();
    recs.push_back(event::to_record(*event::build(e)));
  }
  for (auto _ : st)
    if (!f.plain.bus().append(topic_name{"bench.produce"}, std::span<const bus::record>(recs))) st.SkipWithError("append");
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * 100);
}

void BM_HttpProduceBatch100(benchmark::State& st) {
  auto& f = fixture::get();
  test::http_client c("127.0.0.1", f.port);
  const auto body = batch_body();
  for (auto _ : st) {
    auto r = c.post("/topics/bench.produce/events", body);
    if (r.status != 201) st.SkipWithError(("POST failed: " + std::to_string(r.status) + " " + r.body).c_str());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * 100);
}

// The baseline of checking a batch: parsing its JSON and nothing else.
void BM_JsonParseBatch100(benchmark::State& st) {
  const auto body = batch_body();
  for (auto _ : st) benchmark::DoNotOptimize(json::parse(body));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * 100);
}

// What the route does before appending: parse and check the batch, build every envelope and its
// record.
void BM_ProduceParseAndBuild100(benchmark::State& st) {
  const auto body = batch_body();
  for (auto _ : st) {
    auto in = producing::parse_events(body, producing::body_format::json, {1000});
    if (in.refused) st.SkipWithError("refused");
    std::vector<bus::record> recs;
    recs.reserve(in.events.size());
    for (const auto& e : in.events) {
      event::new_event ev;
      ev.type = e.type;
      ev.key = e.key;
      ev.occurred_at = 1;
      auto env = event::build(ev, e.payload);
      if (!env) st.SkipWithError("build");
      recs.push_back(event::to_record(*env));
    }
    benchmark::DoNotOptimize(recs);
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * 100);
}

void BM_HttpPostMission(benchmark::State& st) {
  auto& f = fixture::get();
  test::http_client c("127.0.0.1", f.port);
  for (auto _ : st) {
    auto r = c.post("/missions", prompt_body(f.next_id++));
    if (r.status != 202) st.SkipWithError("POST failed");
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// POST /missions without and with tenancy, alternating blocks of 100 requests so both see the same
// machine state; items are the tenant's POSTs.
void BM_PostMissionTenancyOverhead(benchmark::State& st) {
  auto& f = fixture::get();
  if (f.tenant_key.empty()) {
    st.SkipWithError("no tenant key");
    return;
  }
  test::http_client plain("127.0.0.1", f.port);
  test::http_client tenant("127.0.0.1", f.auth_port, test::key_headers(f.tenant_key));
  double plain_s = 0, auth_s = 0;
  std::int64_t n_plain = 0, n_auth = 0;
  auto block = [&](test::http_client& c, double& secs, std::int64_t& n) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) {
      auto r = c.post("/missions", prompt_body(f.next_id++));
      if (r.status != 202) {
        st.SkipWithError(("POST failed: " + r.body).c_str());
        return false;
      }
    }
    secs += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    n += 100;
    return true;
  };
  for (auto _ : st) {
    if (!block(plain, plain_s, n_plain) || !block(tenant, auth_s, n_auth)) break;
  }
  if (plain_s > 0 && auth_s > 0) {
    const double plain_rate = static_cast<double>(n_plain) / plain_s, auth_rate = static_cast<double>(n_auth) / auth_s;
    st.counters["plain_per_s"] = plain_rate;
    st.counters["tenant_per_s"] = auth_rate;
    st.counters["overhead_pct"] = 100.0 * (1.0 - auth_rate / plain_rate);
  }
  st.SetItemsProcessed(n_auth);
}

// 100 SSE subscribers on "fanout"; 10,000 events appended; every subscriber must see every event.
void BM_SseFanout(benchmark::State& st) {
  auto& f = fixture::get();
  constexpr int kSubs = 100, kEvents = 10'000;
  for (auto _ : st) {
    st.PauseTiming();
    std::vector<std::unique_ptr<test::sse_stream>> subs;
    for (int i = 0; i < kSubs; ++i)
      subs.push_back(std::make_unique<test::sse_stream>("127.0.0.1", f.port, "/subscribe?topics=fanout&from=latest"));
    // Each stream confirms its subscription with a comment before any event; give every pump its
    // start position by waiting until all are registered.
    std::vector<std::vector<std::int64_t>> latencies(kSubs);
    std::atomic<int> delivered{0};
    std::vector<std::thread> readers;
    st.ResumeTiming();
    for (int i = 0; i < kSubs; ++i)
      readers.emplace_back([&, i] {
        int seen = 0;
        while (seen < kEvents) {
          auto ev = subs[static_cast<std::size_t>(i)]->next(std::chrono::seconds(30));
          if (!ev) break;
          const auto now = system_clock::instance().now_ms();
          // The client side stays cheap: find occurredAt without parsing the whole event.
          const auto at = ev->data.find("\"occurredAt\":");
          if (at == std::string::npos) continue;
          latencies[static_cast<std::size_t>(i)].push_back(now - std::stoll(ev->data.substr(at + 13, 20)));
          ++seen;
        }
        delivered += seen;
      });
    std::vector<bus::record> batch;
    for (int n = 0; n < kEvents; ++n) {
      event::new_event e;
      e.type = "bench.fanout";
      e.key = "k" + std::to_string(n % 64);
      e.payload_json = R"({"n":)" + std::to_string(n) + "}";
      e.occurred_at = system_clock::instance().now_ms();
      batch.push_back(event::to_record(*event::build(e)));
      if (batch.size() == 10) {
        (void)f.plain.bus().append(topic_name{"fanout"}, batch);
        batch.clear();
      }
    }
    for (auto& t : readers) t.join();
    st.PauseTiming();
    std::vector<std::int64_t> all;
    for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    st.counters["delivered"] = delivered.load();
    st.counters["expected"] = kSubs * kEvents;
    if (!all.empty()) {
      st.counters["p50_ms"] = static_cast<double>(all[all.size() / 2]);
      st.counters["p99_ms"] = static_cast<double>(all[all.size() * 99 / 100]);
      st.counters["max_ms"] = static_cast<double>(all.back());
    }
    if (delivered.load() != kSubs * kEvents) st.SkipWithError("not every event reached every subscriber");
    subs.clear();
    st.ResumeTiming();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * kSubs * kEvents);
}

}  // namespace

BENCHMARK(BM_ProjectionLookup)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_HttpGetMission)->UseRealTime()->MinTime(1.0)->Threads(1)->Threads(4);
BENCHMARK(BM_HttpHealthz)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_RawSyncAppend)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_HttpPostMission)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_RawSyncAppendBatch100)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_HttpProduceBatch100)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_JsonParseBatch100)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_ProduceParseAndBuild100)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_PostMissionTenancyOverhead)->UseRealTime()->Iterations(30)->Repetitions(3)->DisplayAggregatesOnly(false);
BENCHMARK(BM_SseFanout)->UseRealTime()->Iterations(1)->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  nf::log::set_level("warn");
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_HttpGetMission", "BM_ProjectionLookup"},
                                      {"BM_HttpPostMission", "BM_RawSyncAppend"},
                                      {"BM_HttpProduceBatch100", "BM_RawSyncAppendBatch100"},
                                      {"BM_ProduceParseAndBuild100", "BM_JsonParseBatch100"}},
                                     {{"BM_HttpGetMission", 0.3}});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
