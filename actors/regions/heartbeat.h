// serve's region.heartbeat, every mirror.heartbeat_ms on a thread of its own: the region, this
// instance, its load (the 1-minute load average per CPU, at most 1), the worst lag of the links
// it runs, its version and its last signed ledger tree head. A failed append is logged and counted; the next beat tries again.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "actors/regions/ledger_check.h"
#include "actors/regions/links.h"
#include "core/bus/bus.h"

namespace nf::regions {

class heartbeat {
 public:
  heartbeat(bus::event_bus& bus, std::string region, std::string instance, std::string version, std::chrono::milliseconds every,
            const std::vector<std::unique_ptr<link_runner>>& links, const nf::clock& clk, bool tree_heads)
      : bus_(bus), region_(std::move(region)), instance_(std::move(instance)), version_(std::move(version)), every_(every), links_(links), clk_(clk),
        heads_(bus), tree_heads_(tree_heads) {}
  ~heartbeat() { stop(); }
  void start();
  void stop();
  // One beat now (also what the thread does).
  result<void> beat();

 private:
  bus::event_bus& bus_;
  std::string region_, instance_, version_;
  std::chrono::milliseconds every_;
  const std::vector<std::unique_ptr<link_runner>>& links_;
  const nf::clock& clk_;
  tree_head_tracker heads_;  // the region's last signed ledger head, said with each beat
  bool tree_heads_;          // whether to follow the ledger for its last signed head
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace nf::regions
