#include "actors/regions/heartbeat.h"

#include <cstdlib>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "projections/regions/regions.h"
#include "regions.pb.h"

namespace nf::regions {

void heartbeat::start() {
  thread_ = std::thread([this] {
    auto& failed = metrics::registry::global().get_counter("nf_region_heartbeat_failures_total", "Heartbeats this server could not append");
    while (!stop_) {
      if (auto r = beat(); !r) {
        failed.inc();
        nf::log::get("regions")->warn("region.heartbeat not appended: {}", r.error().message);
      }
      const auto until = std::chrono::steady_clock::now() + every_;
      while (!stop_ && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
}

void heartbeat::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

result<void> heartbeat::beat() {
  events::RegionHeartbeat hb;
  hb.set_region(region_);
  hb.set_instance(instance_);
  hb.set_version(version_);
  double avg[1] = {0};
  const auto cpus = std::max(1u, std::thread::hardware_concurrency());
  if (::getloadavg(avg, 1) == 1) hb.set_load(std::clamp(avg[0] / cpus, 0.0, 1.0));
  std::int64_t lag_ms = 0, lag_events = 0;
  std::vector<bus::record> lags;
  for (const auto& l : links_) {
    const auto s = l->status();
    lag_ms = std::max(lag_ms, s.value("lagMs", std::int64_t{0}));
    lag_events += s.value("lagEvents", std::int64_t{0});
    // Each link's lag, as an event of its own (region.replication_lag on region.lag).
    events::ReplicationLag rl;
    rl.set_from(s.value("from", ""));
    rl.set_to(s.value("to", ""));
    rl.set_state(s.value("state", ""));
    rl.set_lag_events(s.value("lagEvents", std::int64_t{0}));
    rl.set_lag_ms(s.value("lagMs", std::int64_t{0}));
    for (const auto& p : s.value("partitions", nlohmann::json::array())) {
      auto* pl = rl.add_partitions();
      pl->set_topic(p.value("topic", ""));
      pl->set_partition(p.value("partition", 0));
      pl->set_next(p.value("next", std::int64_t{0}));
      pl->set_source_end(p.value("sourceEnd", std::int64_t{0}));
      pl->set_lag_events(p.value("lagEvents", std::int64_t{0}));
      pl->set_lag_ms(p.value("lagMs", std::int64_t{0}));
    }
    event::new_event lev;
    lev.type = kReplicationLag;
    lev.key = rl.from() + ">" + rl.to();
    lev.region = region_;
    lev.occurred_at = clk_.now_ms();
    NF_TRY_ASSIGN(auto lenv, event::build(lev, rl));
    lags.push_back(event::to_record(lenv));
  }
  if (!lags.empty()) NF_TRY(bus_.append(topic_name{kLagTopic}, std::span<const bus::record>(lags.data(), lags.size())));
  std::optional<tree_head_seen> head;
  if (tree_heads_) {
    NF_TRY_ASSIGN(head, heads_.latest());
  }
  if (head) {
    hb.set_tree_size(head->size);
    hb.set_tree_root(std::string(head->root.begin(), head->root.end()));
  }
  hb.set_lag_ms(lag_ms);
  hb.set_lag_events(lag_events);
  hb.set_links(static_cast<std::int32_t>(links_.size()));
  event::new_event ev;
  ev.type = kHeartbeat;
  ev.key = region_;
  ev.region = region_;
  ev.occurred_at = clk_.now_ms();
  NF_TRY_ASSIGN(auto env, event::build(ev, hb));
  const auto rec = event::to_record(env);
  NF_TRY(bus_.append(topic_name{kHeartbeatsTopic}, std::span<const bus::record>(&rec, 1)));
  return ok();
}

}  // namespace nf::regions
