// Memory bound: appends N events (default 5,000,000) of 256 bytes to the embedded bus and
// samples the process RSS. Exits non-zero if the peak exceeds the limit (default 300 MB).
// Run: build/bench/nf_bench_memory [events] [limit_mb]
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/bus/embedded.h"
#include "bench/rss.h"
#include "core/log/log.h"

namespace {
using nf::bench::rss_kb;
}  // namespace

int main(int argc, char** argv) {
  const long long events = argc > 1 ? std::stoll(argv[1]) : 5'000'000;
  const long limit_mb = argc > 2 ? std::stol(argv[2]) : 300;
  nf::log::set_level("warn");
  const auto dir = std::filesystem::temp_directory_path() / ("nf-bench-mem-" + std::to_string(::getpid()));
  nf::bus::embedded_options o;
  o.path = dir.string();
  o.sync = false;
  o.retention_check_ms = 0;
  auto bus = nf::bus::open_embedded(o);
  if (!bus || !(*bus)->create_topic(nf::topic_name{"mem"}, {3, -1, -1})) {
    std::fprintf(stderr, "cannot open bus\n");
    return 2;
  }
  std::vector<nf::bus::record> batch(1000);
  for (auto& r : batch) r.value.assign(256, 'p');
  long peak = rss_kb();
  const long start = peak;
  const auto t0 = std::chrono::steady_clock::now();
  for (long long i = 0; i < events;) {
    for (auto& r : batch) r.key = "key-" + std::to_string(i++ % 100000);
    if (!(*bus)->append(nf::topic_name{"mem"}, batch)) {
      std::fprintf(stderr, "append failed\n");
      return 2;
    }
    if (i % 100'000 == 0) {
      peak = std::max(peak, rss_kb());
      if (i % 1'000'000 == 0) std::fprintf(stderr, "%lld events, rss %ld MB\n", i, rss_kb() / 1024);
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  peak = std::max(peak, rss_kb());
  bus->reset();
  std::filesystem::remove_all(dir);
  std::printf("appended %lld events of 256 B in %.1f s (%.0f events/s); RSS start %ld MB, peak %ld MB, limit %ld MB: %s\n",
              events, secs, static_cast<double>(events) / secs, start / 1024, peak / 1024, limit_mb,
              peak / 1024 < limit_mb ? "PASS" : "FAIL");
  return peak / 1024 < limit_mb ? 0 : 1;
}
