// Topic creation from what features declare.
#include "core/feature/feature.h"

#include "core/bus/factory.h"

namespace nf::feature {

int partitions_for(const topic_spec& t, const config::config& cfg) {
  if (t.single_partition) return 1;
  if (t.partitions_like && !cfg.topics.count(t.name.get())) return partitions_for(topic_spec{*t.partitions_like}, cfg);
  if (auto it = cfg.topics.find(t.name.get()); it != cfg.topics.end()) return it->second.partitions;
  return t.partitions > 0 ? t.partitions : cfg.bus.default_partitions;
}

result<void> ensure_topics(bus::event_bus& bus, const config::config& cfg, const std::vector<topic_spec>& topics) {
  NF_TRY(bus::ensure_topics(bus, cfg));
  for (const auto& t : topics) {
    auto info = bus.describe_topic(t.name);
    if (!info) {
      bus::topic_config tc{.partitions = partitions_for(t, cfg), .retention_ms = t.retention_ms, .key_versions = t.key_versions, .compact = t.compact};
      auto r = bus.create_topic(t.name, tc);
      // A bus that cannot keep key versions (Kafka) gets the topic without them.
      if (!r && r.error().code == errc::unsupported && t.key_versions) {
        tc.key_versions = false;
        r = bus.create_topic(t.name, tc);
      }
      if (!r && r.error().code != errc::already_exists) return r;
      info = bus.describe_topic(t.name);
    }
    // A topic made before its feature asked for key versions counts the records it holds.
    if (t.key_versions && info && !info->config.key_versions) {
      auto r = bus.track_key_versions(t.name);
      if (!r && r.error().code != errc::unsupported) return r;
    }
    if (t.single_partition && info && info->config.partitions != 1)
      return error{errc::invalid_argument,
                   t.name.get() + " has " + std::to_string(info->config.partitions) + " partitions; it needs exactly one"};
  }
  return ok();
}

}  // namespace nf::feature
