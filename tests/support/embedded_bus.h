// An embedded bus in a test's temp directory: no fsync, no retention sweeps. Header-only, so the
// test-support library itself does not link the bus.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/bus/embedded.h"

namespace nf::test {

inline std::unique_ptr<bus::embedded_bus> open_test_bus(const std::filesystem::path& dir) {
  bus::embedded_options o;
  o.path = dir.string();
  o.sync = false;
  o.retention_check_ms = 0;
  return std::move(bus::open_embedded(o).value());
}

// Every record of a topic as the log holds it, partition by partition (empty for no such topic).
inline std::vector<bus::message> read_topic(bus::event_bus& b, const std::string& topic) {
  std::vector<bus::message> out;
  auto info = b.describe_topic(topic_name{topic});
  if (!info) return out;
  for (std::int32_t p = 0; p < info->config.partitions; ++p) {
    const topic_partition tp{topic_name{topic}, partition_id{p}};
    const auto end = b.end_offset(tp).value().get();
    auto c = b.make_consumer({});
    if (!c || !(*c)->assign({{tp, offset{0}}})) return {};
    // An empty poll is not the end: a Kafka consumer's first fetch of a partition can take longer
    // than one poll (under the sanitizers it often does). Read to the end offset taken above, for
    // as long as the deadline allows (a log whose retention dropped its start is read from there).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (std::int64_t next = 0; next < end && std::chrono::steady_clock::now() < deadline;) {
      auto msgs = (*c)->poll(std::chrono::milliseconds(200), 1000);
      if (!msgs) break;
      for (auto& m : *msgs) {
        next = m.off.get() + 1;
        out.push_back(std::move(m));
      }
    }
  }
  return out;
}

}  // namespace nf::test
