// The links serve runs (mirror.links), each on a thread of its own: prepare, copy, refresh its
// lag; an error is logged, counted and shown in GET /regions, and the link starts again a second
// later from what the target holds (so nothing is copied twice or skipped).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/regions/replicator.h"
#include "actors/regions/settings.h"
#include "core/base/clock.h"

namespace nf::regions {

class link_runner {
 public:
  // The guard's target outlives the runner. `source_of` opens (or returns) the source region's
  // bus; a source that cannot be opened yet (its data directory not there, its cluster not
  // reachable) is an error the link shows and tries again a second later.
  using source_fn = std::function<result<bus::event_bus*>()>;
  link_runner(link_settings s, source_fn source_of, target_guard& target, std::chrono::milliseconds lag_refresh, const nf::clock& clk);
  ~link_runner();
  void start();
  void stop();
  // {from, to, topics, state, error, copied, skippedLoop, skippedSeen, lagEvents, lagMs, partitions: [...]}
  nlohmann::json status() const;
  const link_settings& settings() const { return s_; }

 private:
  void run();
  void publish(const std::vector<partition_state>& parts);

  link_settings s_;
  source_fn source_of_;
  target_guard& target_;
  std::chrono::milliseconds lag_refresh_;
  const nf::clock& clk_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::string state_ = "starting";
  std::string error_;
  std::vector<partition_state> parts_;
};

}  // namespace nf::regions
