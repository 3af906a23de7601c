// Bus factory: maps configuration onto the embedded or Kafka implementation.
#include "core/bus/factory.h"

#include "core/bus/embedded.h"
#include "core/bus/kafka.h"

namespace nf::bus {

embedded_options embedded_options_of(const config::config& cfg, access mode) {
  embedded_options o;
  o.path = cfg.data_dir + "/bus";
  o.sync = cfg.bus.embedded.mode == config::durability::sync;
  o.max_event_bytes = static_cast<std::size_t>(cfg.bus.max_event_bytes);
  o.read_only = mode == access::read_only;
  o.retention_check_ms = cfg.bus.embedded.retention_check_ms;
  o.group_commit_wait_us = cfg.bus.embedded.group_commit_wait_us;
  return o;
}

result<std::unique_ptr<event_bus>> open_bus(const config::config& cfg, access mode) {
  if (cfg.bus.kind == config::bus_kind::embedded) {
    NF_TRY_ASSIGN(auto b, open_embedded(embedded_options_of(cfg, mode)));
    return std::unique_ptr<event_bus>(std::move(b));
  }
  kafka_options o;
  o.bootstrap_servers = cfg.bus.kafka.bootstrap_servers;
  o.properties = cfg.bus.kafka.properties;
  o.max_event_bytes = static_cast<std::size_t>(cfg.bus.max_event_bytes);
  o.session_timeout_ms = cfg.bus.kafka.session_timeout_ms;
  o.fetch_wait_ms = cfg.bus.kafka.fetch_wait_ms;
  o.metadata_refresh_ms = cfg.bus.kafka.metadata_refresh_ms;
  return open_kafka(o);
}

result<void> ensure_topics(event_bus& bus, const config::config& cfg) {
  NF_TRY_ASSIGN(auto existing, bus.list_topics());
  for (const auto& [name, t] : cfg.topics) {
    bool found = false;
    for (const auto& e : existing) found = found || e.name.get() == name;
    if (found) continue;
    auto r = bus.create_topic(topic_name{name}, topic_config{t.partitions, t.retention_ms, t.retention_bytes});
    if (!r && r.error().code != errc::already_exists) return r;
  }
  return ok();
}

}  // namespace nf::bus
