// The workflow engine's hot paths, each with a ratio against a raw baseline in the same run:
// - BM_CronNextFire: the next fire time of schedules of mixed density (every 15 minutes on
//   weekdays, 02:30 on the 1st and 15th, noon on Mondays in January), against BM_MinuteScan,
//   which finds the same times by testing every minute from the start (what a scheduler without
//   a calendar-aware search does);
// - BM_ExpressionEval: a parsed transform expression (two paths, a comparison, a function call, a
//   conditional and a string function) against BM_HandWrittenLookups, the same reads and checks
//   written directly in C++ over the same JSON (what the expression stands for);
// - BM_SchemaValidate: an order (id, status, 20 items with price and quantity) checked against a
//   compiled schema of their types, bounds and required fields, against BM_SchemaWalk, a walk
//   over the same document touching every value (the least work any validation does).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <vector>

#include "actors/workflows/cron.h"
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

}  // namespace

BENCHMARK(BM_SchemaValidate)->MinTime(0.5);
BENCHMARK(BM_SchemaWalk)->MinTime(0.5);
BENCHMARK(BM_ExpressionEval)->MinTime(0.5);
BENCHMARK(BM_HandWrittenLookups)->MinTime(0.5);
BENCHMARK(BM_CronNextFire)->MinTime(0.5);
BENCHMARK(BM_MinuteScan)->MinTime(0.5);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter({{"BM_CronNextFire", "BM_MinuteScan"}, {"BM_ExpressionEval", "BM_HandWrittenLookups"},
                                      {"BM_SchemaValidate", "BM_SchemaWalk"}}, {});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
