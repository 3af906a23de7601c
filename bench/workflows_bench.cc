// The workflow engine's hot paths, each with a ratio against a raw baseline in the same run:
// - BM_CronNextFire: the next fire time of schedules of mixed density (every 15 minutes on
//   weekdays, 02:30 on the 1st and 15th, noon on Mondays in January), against BM_MinuteScan,
//   which finds the same times by testing every minute from the start (what a scheduler without
//   a calendar-aware search does);
// - BM_ExpressionEval: a parsed transform expression (two paths, a comparison, a function call, a
//   conditional and a string function) against BM_HandWrittenLookups, the same reads and checks
//   written directly in C++ over the same JSON (what the expression stands for);
// - BM_Compile1000: compiling a definition of 1,000 nodes (a chain of transforms, each reading the
//   one before), against BM_ParseDocument1000, parsing the same document's JSON text (the least
//   any compile does); the target is under 50 ms;
// - BM_EngineNode: the engine deciding a 100-node run (scheduled, started and completed events
//   built as envelopes and folded into the run's document, as the engine actor does before it
//   appends), per node, against BM_NodeWork, running the same nodes' work alone; the engine's
//   overhead per node is their difference (target under 50 us);
// - BM_SchemaValidate: an order (id, status, 20 items with price and quantity) checked against a
//   compiled schema of their types, bounds and required fields, against BM_SchemaWalk, a walk
//   over the same document touching every value (the least work any validation does).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <vector>

#include "actors/workflows/cron.h"
#include "actors/workflows/definition.h"
#include "actors/workflows/engine.h"
#include "actors/workflows/events.h"
#include "actors/workflows/nodes.h"
#include "core/event/codec.h"
#include "projections/workflows/workflows.h"
#include "workflows.pb.h"
#include "actors/workflows/expression.h"
#include "actors/workflows/json_schema.h"
#include "bench/ratio_reporter.h"

namespace {

using namespace nf::workflows;

const std::vector<cron_schedule>& schedules() {
  static const std::vector<cron_schedule> s = [] {
    std::vector<cron_schedule> out;
    for (const char* e : {"*/15 9-17 * * mon-fri", "30 2 1,15 * *", "0 12 * jan mon"}) out.push_back(*parse_cron(e));
    return out;
  }();
  return s;
}

constexpr std::int64_t kStart = 1'796'300'000'000;  // 2026-12-03

void BM_CronNextFire(benchmark::State& st) {
  std::int64_t n = 0, t = kStart;
  for (auto _ : st) {
    for (const auto& s : schedules()) benchmark::DoNotOptimize(next_fire(s, t));
    t += 3'600'000;  // a different hour each round
    n += static_cast<std::int64_t>(schedules().size());
  }
  st.SetItemsProcessed(n);
}

bool matches(const cron_schedule& s, std::int64_t minute) {
  using namespace std::chrono;
  const sys_time<minutes> tp{minutes(minute)};
  const auto day = floor<days>(tp);
  const year_month_day ymd(day);
  const auto m = (tp - day).count();
  const bool dom = s.days[static_cast<unsigned>(ymd.day())], dow = s.weekdays[weekday(day).c_encoding()];
  const bool day_ok = s.days_star || s.weekdays_star ? dom && dow : dom || dow;
  return s.minutes[static_cast<std::size_t>(m % 60)] && s.hours[static_cast<std::size_t>(m / 60)] && s.months[static_cast<unsigned>(ymd.month())] && day_ok;
}

void BM_MinuteScan(benchmark::State& st) {
  std::int64_t n = 0, t = kStart;
  for (auto _ : st) {
    for (const auto& s : schedules()) {
      std::int64_t m = t / 60'000 + 1;
      while (!matches(s, m)) ++m;
      benchmark::DoNotOptimize(m);
    }
    t += 3'600'000;
    n += static_cast<std::int64_t>(schedules().size());
  }
  st.SetItemsProcessed(n);
}

const nlohmann::json& scope() {
  static const nlohmann::json s = nlohmann::json::parse(
      R"({"inputs":{"customer":"Ada","order":{"total":120.5}},"vars":{"threshold":100,"tags":["x","y"]}})");
  return s;
}

void BM_ExpressionEval(benchmark::State& st) {
  const auto e = expression::parse("inputs.order.total > vars.threshold && contains(vars.tags, 'y') ? upper(inputs.customer) : 'none'").value();
  std::int64_t n = 0;
  for (auto _ : st) {
    benchmark::DoNotOptimize(e.eval(scope()));
    ++n;
  }
  st.SetItemsProcessed(n);
}

void BM_HandWrittenLookups(benchmark::State& st) {
  std::int64_t n = 0;
  for (auto _ : st) {
    const auto& s = scope();
    const auto& tags = s["vars"]["tags"];
    nlohmann::json out;
    if (s["inputs"]["order"]["total"].get<double>() > s["vars"]["threshold"].get<double>() &&
        std::find(tags.begin(), tags.end(), nlohmann::json("y")) != tags.end()) {
      std::string c = s["inputs"]["customer"].get<std::string>();
      for (auto& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      out = c;
    } else {
      out = "none";
    }
    benchmark::DoNotOptimize(out);
    ++n;
  }
  st.SetItemsProcessed(n);
}

const nlohmann::json& order() {
  static const nlohmann::json o = [] {
    nlohmann::json j{{"id", "order-1"}, {"status", "paid"}, {"items", nlohmann::json::array()}};
    for (int i = 0; i < 20; ++i) j["items"].push_back({{"sku", "s" + std::to_string(i)}, {"price", 1.5 * i}, {"qty", i % 5 + 1}});
    return j;
  }();
  return o;
}

void BM_SchemaValidate(benchmark::State& st) {
  const auto s = json_schema::compile(nlohmann::json::parse(R"({"type":"object","required":["id","items"],"properties":{
      "id":{"type":"string","minLength":1},"status":{"enum":["new","paid"]},
      "items":{"type":"array","maxItems":100,"items":{"type":"object","required":["sku","price"],"additionalProperties":false,
        "properties":{"sku":{"type":"string"},"price":{"type":"number","minimum":0},"qty":{"type":"integer","minimum":1,"maximum":99}}}}}})"))
                     .value();
  std::int64_t n = 0;
  for (auto _ : st) {
    benchmark::DoNotOptimize(s.validate(order()));
    ++n;
  }
  st.SetItemsProcessed(n);
}

void BM_SchemaWalk(benchmark::State& st) {
  std::int64_t n = 0;
  for (auto _ : st) {
    std::size_t seen = 0;
    const auto& o = order();
    seen += o["id"].is_string() + o["status"].is_string();
    for (const auto& it : o["items"])
      for (const auto& [k, v] : it.items()) seen += k.size() + v.is_number();
    benchmark::DoNotOptimize(seen);
    ++n;
  }
  st.SetItemsProcessed(n);
}

nlohmann::json chain(int n) {
  nlohmann::json doc{{"id", "chain"}, {"version", 1}, {"inputs", {{"n", "number"}}}, {"nodes", nlohmann::json::array()}, {"outputs", {{"last", "n" + std::to_string(n - 1) + ".out"}}}};
  for (int i = 0; i < n; ++i) {
    nlohmann::json node{{"id", "n" + std::to_string(i)}, {"type", "transform"}, {"config", {{"expression", i ? "input.prev + 1" : "n"}}}};
    if (i) node["inputs"] = {{"prev", "n" + std::to_string(i - 1) + ".out"}};
    doc["nodes"].push_back(node);
  }
  return doc;
}

void BM_Compile1000(benchmark::State& st) {
  const auto text = chain(1000).dump();
  for (auto _ : st) {
    auto c = compile(nlohmann::json::parse(text), {});
    if (!c.def) st.SkipWithError("the chain does not compile");
    benchmark::DoNotOptimize(c);
  }
  st.SetItemsProcessed(st.iterations());
}

void BM_ParseDocument1000(benchmark::State& st) {
  const auto text = chain(1000).dump();
  for (auto _ : st) benchmark::DoNotOptimize(nlohmann::json::parse(text));
  st.SetItemsProcessed(st.iterations());
}

class no_effects final : public effects {
 public:
  nf::result<nlohmann::json> emit_event(const nlohmann::json&, const std::string&, const nlohmann::json&) override { return nlohmann::json(); }
  nf::result<void> start_wait(const nlohmann::json&, const std::string&, int, const nlohmann::json&) override { return nf::ok(); }
  void notify_parent(const nlohmann::json&) override {}
};

constexpr int kRunNodes = 100;

void BM_EngineNode(benchmark::State& st) {
  static const bool registered = [] {
    register_events(nf::event::type_registry::global());
    return true;
  }();
  (void)registered;
  auto c = compile(chain(kRunNodes), {});
  no_effects fx;
  std::int64_t nodes = 0;
  for (auto _ : st) {
    nf::events::RunStart s;
    s.set_run_id("0190a0b0-0000-7000-8000-000000000001");
    s.set_workflow_id("chain");
    s.set_version(1);
    s.set_inputs_json(R"({"n": 1})");
    nf::event::new_event ev;
    ev.type = kRunStarted;
    ev.key = s.run_id();
    ev.tenant = "acme";
    auto env = nf::event::build(ev, s);
    nlohmann::json doc;
    (void)fold_run(doc, *env, 0, nullptr);
    run_decider d(*c.def, doc, 1'700'000'000'000, [&](const char* type, const google::protobuf::Message& msg) -> nf::result<void> {
      nf::event::new_event e;
      e.type = type;
      e.key = "0190a0b0-0000-7000-8000-000000000001";
      e.tenant = "acme";
      NF_TRY_ASSIGN(auto built, nf::event::build(e, msg));
      NF_TRY(fold_run(doc, built, 0, nullptr));
      return nf::ok();
    }, fx);
    if (!d.advance() || doc.value("status", "") != "completed") st.SkipWithError("the run did not complete");
    nodes += kRunNodes;
  }
  st.SetItemsProcessed(nodes);
}

void BM_NodeWork(benchmark::State& st) {
  auto c = compile(chain(kRunNodes), {});
  const auto* type = node_registry::builtin().find("transform");
  std::int64_t nodes = 0;
  for (auto _ : st) {
    nlohmann::json scope{{"inputs", {{"n", 1}}}, {"n", 1}, {"vars", nlohmann::json::object()}, {"nodes", nlohmann::json::object()}};
    nlohmann::json prev = 1;
    for (const auto& spec : c.def->nodes) {
      nlohmann::json inputs{{"prev", prev}};
      auto out = type->run(node_call{spec, inputs, scope, "r", 1, 0});
      prev = out.output["out"];
    }
    benchmark::DoNotOptimize(prev);
    nodes += kRunNodes;
  }
  st.SetItemsProcessed(nodes);
}

}  // namespace

BENCHMARK(BM_Compile1000)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK(BM_ParseDocument1000)->Unit(benchmark::kMillisecond)->MinTime(0.5);
BENCHMARK(BM_EngineNode)->MinTime(1.0);
BENCHMARK(BM_NodeWork)->MinTime(0.5);
BENCHMARK(BM_SchemaValidate)->MinTime(0.5);
BENCHMARK(BM_SchemaWalk)->MinTime(0.5);
BENCHMARK(BM_ExpressionEval)->MinTime(0.5);
BENCHMARK(BM_HandWrittenLookups)->MinTime(0.5);
BENCHMARK(BM_CronNextFire)->MinTime(0.5);
BENCHMARK(BM_MinuteScan)->MinTime(0.5);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_CronNextFire", "BM_MinuteScan"}, {"BM_ExpressionEval", "BM_HandWrittenLookups"},
                                      {"BM_SchemaValidate", "BM_SchemaWalk"}, {"BM_Compile1000", "BM_ParseDocument1000"}, {"BM_EngineNode", "BM_NodeWork"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
