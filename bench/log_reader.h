// Reads `n` events from an assigned consumer as fast as it goes: the raw-read baseline of the
// benchmarks that fold or scan a log.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/bus/bus.h"

namespace nf::bench {

// Events read (n unless the log is shorter, which marks the benchmark as failed).
inline std::int64_t read_events(bus::event_bus& b, const std::vector<std::pair<topic_partition, offset>>& from, std::int64_t n,
                                benchmark::State& st) {
  auto c = b.make_consumer({});
  if (!c || !(*c)->assign(from)) {
    st.SkipWithError("cannot read the log");
    return 0;
  }
  std::int64_t read = 0;
  while (read < n) {
    auto msgs = (*c)->poll(std::chrono::milliseconds(100), 4096);
    if (!msgs || msgs->empty()) {
      st.SkipWithError("short read");
      break;
    }
    read += static_cast<std::int64_t>(msgs->size());
    benchmark::DoNotOptimize(msgs->back().value.data());
  }
  return read;
}

}  // namespace nf::bench
