// The workflow engine on the embedded bus with sync durability (an in-process node, every
// commit fsynced), each with a raw baseline measured in the same run:
// - BM_Transitions: 2,000 runs of a 10-node chain started at once; node transitions (events the
//   engine appends to workflow.runs) per second until every run completed, against
//   BM_RawAppendSync, the same number of records of the same size appended straight to the bus
//   with group commit (what the engine's appends cost without deciding anything). Target:
//   >= 20,000 transitions/s;
// - BM_ConcurrentRuns10k: 10,000 runs that all wait on a delay at once: the process's resident
//   memory once every one of them waits (target: within 1 GiB), and how long starting them took;
// - BM_Run100kSteps: one run of 100,000 steps (100 nodes timing out and retried 125 times each):
//   its time and the process's peak memory growth while it runs;
// - BM_Timers100k: 100,000 runs, each waiting on a delay due 40 to 60 s after its start: every timer's
//   lateness (when timer_fired was decided minus its due time), p50/p99/max (target: each within
//   100 ms).
// Runs are started by appending run_requested commands to commands.workflows directly, as the
// routes do after their checks, so the figures are the engine's and not HTTP's.
#include <benchmark/benchmark.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

#include "actors/workflows/engine.h"
#include "actors/workflows/feature.h"
#include "bench/ratio_reporter.h"
#include "core/base/sha256.h"
#include "core/event/codec.h"
#include "core/metrics/metrics.h"
#include "projections/workflows/workflows.h"
#include "tests/support/node.h"
#include "workflows.pb.h"

namespace {

using namespace nf;
using nlohmann::json;

double rss_mib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

struct fixture {
  test::in_process_node node;
  explicit fixture(const std::string& name)
      : node(name, {.tenancy = false, .missions = false, .evidence = false, .producing = false, .deadletters = false,
                    .extra = {[] { return workflows::make_feature(); }}, .sync = true}) {}

  void define(const json& doc) {
    events::WorkflowDefined w;
    w.set_workflow_id(doc["id"].get<std::string>());
    w.set_version(1);
    w.set_document_json(workflows::canonical(doc).dump());
    event::new_event ev;
    ev.type = workflows::kDefined;
    ev.key = "bench/" + w.workflow_id();
    ev.tenant = "bench";
    const auto rec = event::to_record(*event::build(ev, w));
    (void)node.bus().append(topic_name{workflows::kDefinitionsTopic}, std::span<const bus::record>(&rec, 1));
  }
  // Appends run_requested commands for `n` runs, in batches.
  void start_runs(const std::string& wf, int n, const std::function<json(int)>& inputs, const std::string& prefix) {
    std::vector<bus::record> batch;
    for (int i = 0; i < n; ++i) {
      events::RunStart s;
      s.set_run_id(prefix + std::to_string(i));
      s.set_workflow_id(wf);
      s.set_version(1);
      s.set_inputs_json(inputs(i).dump());
      s.set_inputs_sha256(sha256_hex(s.inputs_json()));
      event::new_event ev;
      ev.type = workflows::kRunRequested;
      ev.key = s.run_id();
      ev.tenant = "bench";
      batch.push_back(event::to_record(*event::build(ev, s)));
      if (batch.size() == 500 || i == n - 1) {
        (void)node.bus().append(topic_name{workflows::kCommands}, batch);
        batch.clear();
      }
    }
  }
  std::int64_t end_of(const char* topic) {
    auto info = node.bus().describe_topic(topic_name{topic});
    std::int64_t sum = 0;
    for (std::int32_t p = 0; info && p < info->config.partitions; ++p) {
      auto e = node.bus().end_offset({topic_name{topic}, partition_id{p}});
      if (e) sum += e->get();
    }
    return sum;
  }
  std::uint64_t completed() {
    return metrics::registry::global().get_counter("nf_workflow_runs_total", "Workflow runs ended, by outcome", {{"outcome", "completed"}}).value();
  }
};

json chain(int n, const std::string& id) {
  json doc{{"id", id}, {"version", 1}, {"inputs", {{"n", "number"}}}, {"nodes", json::array()}, {"outputs", {{"last", "n" + std::to_string(n - 1) + ".out"}}}};
  for (int i = 0; i < n; ++i) {
    json node{{"id", "n" + std::to_string(i)}, {"type", "transform"}, {"config", {{"expression", i ? "input.prev + 1" : "n"}}}};
    if (i) node["inputs"] = {{"prev", "n" + std::to_string(i - 1) + ".out"}};
    doc["nodes"].push_back(node);
  }
  return doc;
}

constexpr int kChainRuns = 2000;
std::int64_t g_transitions = 0;
std::size_t g_record_bytes = 0;

void BM_Transitions(benchmark::State& st) {
  for (auto _ : st) {
    fixture f("bench-wf-transitions");
    f.define(chain(10, "chain"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the definition is read
    const auto before = f.end_of(workflows::kRunsTopic);
    const auto done0 = f.completed();
    const auto t0 = std::chrono::steady_clock::now();
    f.start_runs("chain", kChainRuns, [](int i) { return json{{"n", i}}; }, "0190a0b0-0000-7000-8000-1");
    while (f.completed() - done0 < static_cast<std::uint64_t>(kChainRuns)) {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(300)) {
        st.SkipWithError("the runs did not complete within 300 s");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto transitions = f.end_of(workflows::kRunsTopic) - before;
    g_transitions = transitions;
    st.SetIterationTime(secs);
    st.counters["transitions"] = static_cast<double>(transitions);
    st.counters["transitions_per_s"] = static_cast<double>(transitions) / secs;
    st.counters["us_per_transition"] = secs * 1e6 / static_cast<double>(transitions);
    st.SetItemsProcessed(transitions);
    // The size of a typical run event, for the baseline.
    g_record_bytes = 400;
  }
}

void BM_RawAppendSync(benchmark::State& st) {
  for (auto _ : st) {
    fixture f("bench-wf-raw");
    (void)f.node.bus().create_topic(topic_name{"bench.raw"}, {8, -1, -1});
    const auto n = g_transitions ? g_transitions : 64'000;
    const std::string payload(g_record_bytes ? g_record_bytes : 400, 'x');
    std::atomic<std::int64_t> done{0};
    const auto t0 = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < n; ++i) {
      bus::record r;
      r.key = "run-" + std::to_string(i % kChainRuns);
      r.value = payload;
      std::vector<bus::record> one;
      one.push_back(std::move(r));
      f.node.bus().append_async(topic_name{"bench.raw"}, std::move(one), [&done](const result<std::vector<bus::append_result>>&) { done.fetch_add(1); });
    }
    while (done.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.SetIterationTime(secs);
    st.counters["appends_per_s"] = static_cast<double>(n) / secs;
    st.SetItemsProcessed(n);
  }
}

void BM_ConcurrentRuns10k(benchmark::State& st) {
  for (auto _ : st) {
    fixture f("bench-wf-10k");
    f.define(json::parse(R"({"id": "waiter", "version": 1, "inputs": {"n": "number"}, "nodes": [
        {"id": "a", "type": "transform", "config": {"expression": "n + 1"}},
        {"id": "w", "type": "delay", "config": {"ms": 600000}, "inputs": {"in": "a.out"}},
        {"id": "b", "type": "noop", "inputs": {"in": "w.out"}}]})"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const double rss0 = rss_mib();
    const auto base = f.end_of(workflows::kRunsTopic);
    const auto t0 = std::chrono::steady_clock::now();
    f.start_runs("waiter", 10'000, [](int i) { return json{{"n", i}}; }, "0190a0b0-0000-7000-8000-2");
    // Every run waits once its 7 events are on the log: run_started; scheduled, started and
    // completed for a; scheduled, started and timer_set for w.
    const std::int64_t want = base + 10'000 * 7;
    while (f.end_of(workflows::kRunsTopic) < want) {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(300)) {
        st.SkipWithError(("the runs did not all wait within 300 s: " + std::to_string(f.end_of(workflows::kRunsTopic)) + " of " + std::to_string(want) + " events, " +
                          std::to_string(f.end_of(workflows::kCommands)) + " commands").c_str());
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    (void)t0;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the read model catches up
    st.SetIterationTime(secs);
    st.counters["rss_mib"] = rss_mib();
    st.counters["rss_growth_mib"] = rss_mib() - rss0;
    st.counters["runs_started_per_s"] = 10'000 / secs;
    st.SetItemsProcessed(10'000);
  }
}

void BM_Timers100k(benchmark::State& st) {
  for (auto _ : st) {
    fixture f("bench-wf-timers");
    f.define(json::parse(R"({"id": "sleeper", "version": 1, "inputs": {"ms": "number"}, "nodes": [
        {"id": "w", "type": "delay", "inputs": {"ms": "${ms}"}}]})"));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    constexpr int kTimers = 100'000;
    const auto start_ms = system_clock::instance().now_ms();
    // Due between 40 and 60 s from now: every timer is pending before the first is due.
    f.start_runs("sleeper", kTimers, [start_ms](int i) { return json{{"ms", 40'000 + (i * 7919) % 20'000}}; }, "0190a0b0-0000-7000-8000-3");
    (void)start_ms;
    const auto done0 = f.completed();
    const auto t0 = std::chrono::steady_clock::now();
    while (f.completed() - done0 < static_cast<std::uint64_t>(kTimers)) {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(240)) {
        st.SkipWithError("the timers did not all fire within 240 s");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Lateness of every timer_fired: its decision time minus its due time.
    std::vector<double> late;
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> fired;  // run -> (decided at, due)
    auto consumer = f.node.bus().make_consumer({});
    auto info = f.node.bus().describe_topic(topic_name{workflows::kRunsTopic});
    std::vector<std::pair<topic_partition, offset>> from;
    for (std::int32_t p = 0; p < info->config.partitions; ++p) from.push_back({{topic_name{workflows::kRunsTopic}, partition_id{p}}, offset{0}});
    (void)(*consumer)->assign(from);
    const auto end = f.end_of(workflows::kRunsTopic);
    std::int64_t read = 0;
    while (read < end) {
      auto batch = (*consumer)->poll(std::chrono::milliseconds(200), 10'000);
      if (!batch || batch->empty()) break;
      for (const auto& m : *batch) {
        ++read;
        auto env = event::from_message(m);
        if (!env || env->type() != workflows::kTimerFired) continue;
        events::NodeStep s;
        env->payload().UnpackTo(&s);
        late.push_back(static_cast<double>(env->occurred_at() - s.at()));
        fired[s.run_id()] = {env->occurred_at(), s.at()};
      }
    }
    // How much of it is asking (the due command's time) and how much deciding.
    std::map<std::string, std::int64_t> asked_at;
    {
      auto cc = f.node.bus().make_consumer({});
      auto ci = f.node.bus().describe_topic(topic_name{workflows::kCommands});
      std::vector<std::pair<topic_partition, offset>> cfrom;
      for (std::int32_t p = 0; p < ci->config.partitions; ++p) cfrom.push_back({{topic_name{workflows::kCommands}, partition_id{p}}, offset{0}});
      (void)(*cc)->assign(cfrom);
      const auto cend = f.end_of(workflows::kCommands);
      std::int64_t cread = 0;
      while (cread < cend) {
        auto batch = (*cc)->poll(std::chrono::milliseconds(200), 10'000);
        if (!batch || batch->empty()) break;
        for (const auto& m : *batch) {
          ++cread;
          auto env = event::from_message(m);
          if (!env || env->type() != workflows::kTimerDue) continue;
          events::RunCommand rc;
          env->payload().UnpackTo(&rc);
          if (!asked_at.count(rc.run_id())) asked_at[rc.run_id()] = env->occurred_at();
        }
      }
    }
    std::vector<double> ask_late, decide_late;
    for (const auto& [run, fired_at_due] : fired) {
      auto it = asked_at.find(run);
      if (it == asked_at.end()) continue;
      ask_late.push_back(static_cast<double>(it->second - fired_at_due.second));
      decide_late.push_back(static_cast<double>(fired_at_due.first - it->second));
    }
    std::sort(ask_late.begin(), ask_late.end());
    std::sort(decide_late.begin(), decide_late.end());
    if (!ask_late.empty()) {
      st.counters["ask_p50_ms"] = ask_late[ask_late.size() / 2];
      st.counters["ask_p99_ms"] = ask_late[ask_late.size() * 99 / 100];
      st.counters["decide_p50_ms"] = decide_late[decide_late.size() / 2];
      st.counters["decide_p99_ms"] = decide_late[decide_late.size() * 99 / 100];
    }
    std::sort(late.begin(), late.end());
    if (late.size() != kTimers) st.SkipWithError(("timer_fired events: " + std::to_string(late.size())).c_str());
    st.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (!late.empty()) {
      st.counters["late_p50_ms"] = late[late.size() / 2];
      st.counters["late_p99_ms"] = late[late.size() * 99 / 100];
      st.counters["late_max_ms"] = late.back();
      st.counters["within_100ms"] = static_cast<double>(std::upper_bound(late.begin(), late.end(), 100.0) - late.begin()) / static_cast<double>(late.size());
    }
    st.SetItemsProcessed(static_cast<std::int64_t>(late.size()));
  }
}

// One run of 100,000 steps: 100 nodes in parallel, each waiting for an event that never comes,
// timing out after 1 ms and retried at once 125 times (8 events an attempt: started, waiting, the
// timeout's timer set and fired, failed, retry scheduled, its timer set and fired). The run's document holds a node's
// latest attempt, not its history, so memory stays flat; the history is paged from the read model.
void BM_Run100kSteps(benchmark::State& st) {
  for (auto _ : st) {
    fixture f("bench-wf-100k");
    (void)f;
    json doc{{"id", "long"}, {"version", 1}, {"nodes", json::array()}};
    for (int i = 0; i < 100; ++i)
      doc["nodes"].push_back({{"id", "w" + std::to_string(i)}, {"type", "wait_for_event"}, {"config", {{"topic", "app.never"}}}, {"timeout_ms", 1},
                              {"on_error", "continue"}, {"retry", {{"max_attempts", 125}, {"initial_backoff_ms", 0}, {"max_backoff_ms", 0}}}});
    f.define(doc);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const double rss0 = rss_mib();
    const auto done0 = f.completed();
    const auto base = f.end_of(workflows::kRunsTopic);
    const auto t0 = std::chrono::steady_clock::now();
    f.start_runs("long", 1, [](int) { return json::object(); }, "0190a0b0-0000-7000-8000-4");
    double peak = rss0;
    while (f.completed() - done0 < 1) {
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(600)) {
        st.SkipWithError("the run did not complete within 600 s");
        return;
      }
      peak = std::max(peak, rss_mib());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto steps = f.end_of(workflows::kRunsTopic) - base;
    st.SetIterationTime(secs);
    st.counters["steps"] = static_cast<double>(steps);
    st.counters["steps_per_s"] = static_cast<double>(steps) / secs;
    st.counters["rss_growth_peak_mib"] = peak - rss0;
    st.SetItemsProcessed(steps);
  }
}

}  // namespace

BENCHMARK(BM_Run100kSteps)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Transitions)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RawAppendSync)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ConcurrentRuns10k)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Timers100k)->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_Transitions", "BM_RawAppendSync"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
