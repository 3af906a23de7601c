// Google Benchmark reporter that, after the normal console output, prints each benchmark's
// items/s divided by its raw baseline measured in the same run.
#pragma once

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

namespace nf::bench {

// p50_us and p99_us counters from per-operation latencies in microseconds (sorts them).
inline void latency_counters(benchmark::State& st, std::vector<double>& us) {
  if (us.empty()) return;
  std::sort(us.begin(), us.end());
  st.counters["p50_us"] = us[us.size() / 2];
  st.counters["p99_us"] = us[us.size() * 99 / 100];
}

class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  // pairs: {prefix of the measured benchmark, prefix of its baseline}; the rest of the name
  // (arguments) must match. Targets are the minimum acceptable ratios.
  ratio_reporter(std::vector<std::pair<std::string, std::string>> pairs, std::map<std::string, double> targets)
      : pairs_(std::move(pairs)), targets_(std::move(targets)) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration && r.aggregate_name != "median") continue;
      auto it = r.counters.find("items_per_second");
      if (it == r.counters.end()) continue;
      std::string name = r.benchmark_name();
      if (!r.aggregate_name.empty()) name = name.substr(0, name.rfind('_'));
      rates_[name] = it->second.value;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\n%-58s %14s %14s %8s %8s\n", "ratio (same run)", "items/s", "baseline/s", "ratio", "target");
    for (const auto& [measured, baseline] : pairs_) {
      for (const auto& [name, rate] : rates_) {
        if (name.rfind(measured, 0) != 0) continue;
        const std::string args = name.substr(measured.size());
        auto b = rates_.find(baseline + args);
        if (b == rates_.end()) {
          // A multi-threaded run compares with the single-threaded baseline.
          const auto th = args.find("/threads:");
          if (th != std::string::npos) b = rates_.find(baseline + args.substr(0, th));
        }
        if (b == rates_.end() || b->second <= 0) continue;
        const double ratio = rate / b->second;
        auto t = targets_.find(measured);
        std::printf("%-58s %14.0f %14.0f %8.2f %8s\n", name.c_str(), rate, b->second, ratio,
                    t == targets_.end() ? "-" : (">=" + std::to_string(t->second).substr(0, 4)).c_str());
      }
    }
    std::fflush(stdout);
  }

 private:
  std::vector<std::pair<std::string, std::string>> pairs_;
  std::map<std::string, double> targets_;
  std::map<std::string, double> rates_;
};

}  // namespace nf::bench
