// Replication between regions on the embedded bus (sync durability, as serve runs it):
//   BM_Replicate            a link copying 200,000 events (3 partitions) into an empty region
//   BM_RawReadAndAppend     the baseline: the same records read with a plain consumer and
//                           appended to another bus in the same batches, nothing else
//   BM_LagAtHalfThroughput  end-to-end lag (source append to target append) while a writer
//                           appends at half the rate BM_Replicate reached; p50/p99/max in ms
//   BM_Translate1000        a group's committed positions on 1,000 partitions translated
//                           through the regions read model's offset map (the map built from
//                           100 runs per partition), against a lookup of one key per partition
#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include <benchmark/benchmark.h>

#include "actors/regions/replicator.h"
#include "bench/ratio_reporter.h"
#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "projections/regions/regions.h"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const nf::topic_name kTopic{"mission.lifecycle"};
constexpr int kEvents = 200'000;
double g_replicate_rate = 0;

struct temp {
  fs::path dir;
  temp() {
    dir = fs::temp_directory_path() / ("nf-regions-bench-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir);
  }
  ~temp() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::unique_ptr<nf::bus::embedded_bus> open(const fs::path& p) {
  nf::bus::embedded_options o;
  o.path = p.string();
  o.sync = true;
  o.retention_check_ms = 0;
  return std::move(nf::bus::open_embedded(o).value());
}

std::vector<nf::bus::record> events(int from, int n) {
  std::vector<nf::bus::record> recs;
  recs.reserve(static_cast<std::size_t>(n));
  for (int i = from; i < from + n; ++i) {
    nf::event::new_event ev;
    ev.type = "mission.accepted";
    ev.key = "m-" + std::to_string(i % 1000);
    ev.tenant = "acme";
    ev.region = "a";
    ev.payload_json = R"({"missionId":"m","previousStatus":"prompted","status":"accepted","priority":"P1"})";
    recs.push_back(nf::event::to_record(nf::event::build(ev).value()));
  }
  return recs;
}

// A source region holding kEvents events.
std::unique_ptr<nf::bus::embedded_bus> filled_source(const fs::path& p) {
  auto a = open(p);
  (void)a->create_topic(kTopic, {.partitions = 3});
  for (int i = 0; i < kEvents; i += 5000) {
    auto recs = events(i, 5000);
    (void)a->append(kTopic, std::span<const nf::bus::record>(recs.data(), recs.size()));
  }
  return a;
}

// Copies kEvents with a link of `opts` into a fresh target each iteration.
void copy_with(benchmark::State& st, const nf::regions::link_options& opts, const char* prefix) {
  temp t;
  auto a = filled_source(t.dir / "a");
  int round = 0;
  for (auto _ : st) {
    st.PauseTiming();
    auto b = open(t.dir / (prefix + std::to_string(round++)));
    nf::regions::target_guard g(*b);
    nf::regions::replicator r(*a, g, opts);
    st.ResumeTiming();
    if (!r.prepare()) st.SkipWithError("prepare failed");
    std::size_t copied = 0;
    while (copied < static_cast<std::size_t>(kEvents)) {
      auto n = r.step(100ms);
      if (!n || *n == 0) {
        st.SkipWithError("the copy stopped short");
        break;
      }
      copied += *n;
    }
  }
  st.SetItemsProcessed(st.iterations() * kEvents);
}

// A link: read, loop and watermark checks, fencing judged, two headers per record.
void BM_Replicate(benchmark::State& st) { copy_with(st, nf::regions::link_options{"a", "b", {"mission.*"}, 1000}, "b"); }

// `region recover`'s copy: whole partitions (the region's own events and fencing marks kept).
void BM_RecoverCopy(benchmark::State& st) { copy_with(st, nf::regions::link_options{"a", "b", {"*"}, 1000, true}, "r"); }

void BM_RawReadAndAppend(benchmark::State& st) {
  temp t;
  auto a = filled_source(t.dir / "a");
  int round = 0;
  for (auto _ : st) {
    st.PauseTiming();
    auto b = open(t.dir / ("b" + std::to_string(round++)));
    (void)b->create_topic(kTopic, {.partitions = 3});
    st.ResumeTiming();
    auto c = a->make_consumer({}).value();
    std::vector<std::pair<nf::topic_partition, nf::offset>> at;
    for (std::int32_t p = 0; p < 3; ++p) at.emplace_back(nf::topic_partition{kTopic, nf::partition_id{p}}, nf::offset{0});
    (void)c->assign(at);
    std::size_t copied = 0;
    while (copied < static_cast<std::size_t>(kEvents)) {
      auto batch = c->poll(100ms, 1000).value();
      if (batch.empty()) break;
      std::map<std::int32_t, std::vector<nf::bus::record>> by_part;
      for (auto& m : batch) {
        nf::bus::record r;
        r.key = std::move(m.key);
        r.value = std::move(m.value);
        r.timestamp_ms = m.timestamp_ms;
        r.headers = std::move(m.headers);
        r.partition = m.partition;
        by_part[m.partition.get()].push_back(std::move(r));
      }
      for (auto& [p, recs] : by_part) (void)b->append(kTopic, std::span<const nf::bus::record>(recs.data(), recs.size()));
      copied += batch.size();
    }
  }
  st.SetItemsProcessed(st.iterations() * kEvents);
}

void BM_LagAtHalfThroughput(benchmark::State& st) {
  for (auto _ : st) {
    temp t;
    auto a = open(t.dir / "a");
    auto b = open(t.dir / "b");
    (void)a->create_topic(kTopic, {.partitions = 3});
    const double rate = g_replicate_rate > 0 ? g_replicate_rate / 2 : 20'000;
    std::atomic<bool> stop{false};
    std::thread link([&] {
      nf::regions::target_guard g(*b);
      nf::regions::replicator r(*a, g, nf::regions::link_options{"a", "b", {"mission.*"}, 1000});
      if (!r.prepare()) return;
      while (!stop) (void)r.step(20ms);
    });
    // The writer: batches of 100 every 100 / rate seconds, stamped with their append time.
    constexpr int kSeconds = 4;
    const auto every = std::chrono::duration<double>(100.0 / rate);
    std::thread writer([&] {
      auto next = std::chrono::steady_clock::now();
      for (int i = 0; i < static_cast<int>(rate * kSeconds); i += 100) {
        auto recs = events(i, 100);
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        for (auto& r : recs) r.timestamp_ms = now_ms;
        (void)a->append(kTopic, std::span<const nf::bus::record>(recs.data(), recs.size()));
        next += std::chrono::duration_cast<std::chrono::steady_clock::duration>(every);
        std::this_thread::sleep_until(next);
      }
    });
    // The target's reader: lag = when it is readable there, less its source append time.
    std::vector<double> lag_ms;
    auto c = [&] {
      for (;;) {
        auto d = b->describe_topic(kTopic);
        if (d) break;
        std::this_thread::sleep_for(1ms);
      }
      auto consumer = b->make_consumer({}).value();
      std::vector<std::pair<nf::topic_partition, nf::offset>> at;
      for (std::int32_t p = 0; p < 3; ++p) at.emplace_back(nf::topic_partition{kTopic, nf::partition_id{p}}, nf::offset{0});
      (void)consumer->assign(at);
      return consumer;
    }();
    const auto total = static_cast<std::size_t>(rate * kSeconds) / 100 * 100;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kSeconds + 20);
    while (lag_ms.size() < total && std::chrono::steady_clock::now() < deadline) {
      auto batch = c->poll(50ms, 5000);
      if (!batch) break;
      const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      for (const auto& m : *batch) lag_ms.push_back(static_cast<double>(now_ms - m.timestamp_ms));
    }
    writer.join();
    stop = true;
    link.join();
    std::sort(lag_ms.begin(), lag_ms.end());
    if (lag_ms.size() < total) st.SkipWithError("not every event arrived");
    if (!lag_ms.empty()) {
      st.counters["rate_per_s"] = rate;
      st.counters["p50_ms"] = lag_ms[lag_ms.size() / 2];
      st.counters["p99_ms"] = lag_ms[lag_ms.size() * 99 / 100];
      st.counters["max_ms"] = lag_ms.back();
      st.counters["events"] = static_cast<double>(lag_ms.size());
    }
  }
}

// The offset map of 1,000 partitions, folded through the projection framework as serve does.
struct map_fixture {
  temp t;
  std::unique_ptr<nf::projection::store> store;
  nf::regions::regions_projection proj{{"mission.*"}};
  std::vector<std::pair<nf::topic_partition, std::int64_t>> committed;
  map_fixture() {
    fs::create_directories(t.dir / "store");
    store = nf::projection::store::open({.path = (t.dir / "store").string()}).value();
    (void)store->attach(proj);
    std::mt19937 rng(5);
    std::vector<nf::bus::message> batch;
    for (std::int32_t p = 0; p < 1000; ++p) {
      const nf::topic_partition tp{kTopic, nf::partition_id{p}};
      std::int64_t src = 0, tgt = 0;
      for (int run = 0; run < 100; ++run) {
        // A run of 10 records, then a skipped source record and a record of the target's own.
        for (int i = 0; i < 10; ++i) {
          nf::bus::message m;
          m.topic = kTopic;
          m.partition = tp.partition;
          m.off = nf::offset{tgt++};
          m.headers.push_back({nf::event::kMirrorHeader, "a " + std::to_string(src++)});
          batch.push_back(std::move(m));
        }
        ++src;
        ++tgt;
      }
      committed.emplace_back(tp, static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(src)));
      if (batch.size() >= 20'000) {
        (void)store->apply(proj, batch);
        batch.clear();
      }
    }
    if (!batch.empty()) (void)store->apply(proj, batch);
  }
};

map_fixture& fixture() {
  static map_fixture f;
  return f;
}

void BM_Translate1000(benchmark::State& st) {
  auto& f = fixture();
  nf::regions::regions_view view(*f.store, f.proj);
  for (auto _ : st) {
    auto r = view.translate("a", f.committed);
    if (!r || r->size() != 1000) st.SkipWithError("translate failed");
    benchmark::DoNotOptimize(r);
  }
  st.SetItemsProcessed(st.iterations() * 1000);
}

void BM_PointLookups1000(benchmark::State& st) {
  auto& f = fixture();
  for (auto _ : st) {
    auto reader = f.store->reader(f.proj).value();
    for (std::int32_t p = 0; p < 1000; ++p) {
      auto v = reader->get("l/a/mission.lifecycle/" + std::string(5 - std::to_string(p).size(), '0') + std::to_string(p));
      benchmark::DoNotOptimize(v);
    }
  }
  st.SetItemsProcessed(st.iterations() * 1000);
}

class rate_keeper : public nf::bench::ratio_reporter {
 public:
  using ratio_reporter::ratio_reporter;
  void ReportRuns(const std::vector<Run>& runs) override {
    ratio_reporter::ReportRuns(runs);
    for (const auto& r : runs)
      if (r.benchmark_name().rfind("BM_Replicate", 0) == 0)
        if (auto it = r.counters.find("items_per_second"); it != r.counters.end()) g_replicate_rate = it->second.value;
  }
};

}  // namespace

BENCHMARK(BM_Replicate)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_RecoverCopy)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_RawReadAndAppend)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_LagAtHalfThroughput)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_Translate1000)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_PointLookups1000)->Unit(benchmark::kMillisecond)->MinTime(0.5);

int main(int argc, char** argv) {
  nf::log::set_level("warn");
  benchmark::Initialize(&argc, argv);
  rate_keeper reporter({{"BM_Replicate", "BM_RawReadAndAppend"}, {"BM_RecoverCopy", "BM_RawReadAndAppend"}, {"BM_Translate1000", "BM_PointLookups1000"}}, {{"BM_Replicate", 0.5}});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
