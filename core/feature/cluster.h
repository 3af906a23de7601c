// Cluster membership: every `serve` instance has a stable instance id (config `instance.id`, or
// one generated once into its data dir) and appends a heartbeat to platform.instances every
// `period`: its id, a per-process incarnation, its HTTP address, its read models' lag and which
// partitions each of its actors' groups gave it. Any instance reads the topic to answer
// GET /cluster (`nexus-forge cluster status`) and the nf_cluster_* gauges.
//
// An id already live (another incarnation heard within two periods) refuses the start, naming
// the other instance; a clean stop announces itself, and after a crash the start waits for the
// dead incarnation to go quiet first.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/config/config.h"

namespace nf::feature {

inline constexpr const char* kInstancesTopic = "platform.instances";

struct membership_options {
  std::string instance_id;
  std::string address;                                  // where its HTTP server listens
  std::chrono::milliseconds period{2'000};
  // This instance's state for its heartbeat: {"lag": n, "actors": {"name": ["topic/p", ...]}}.
  std::function<nlohmann::json()> report;
};

// The instance id from config, else from <data_dir>/instance-id (created with a random id once).
result<std::string> instance_id_of(const config::config& cfg);

class membership {
 public:
  membership(bus::event_bus& bus, membership_options o);
  ~membership();
  membership(const membership&) = delete;
  membership& operator=(const membership&) = delete;

  // Checks that the id is not live elsewhere, then starts heartbeating.
  result<void> start();
  void stop();
  // {"self": id, "instances": [...], "groups": {actor: {"members": [...], "partitions": {id: [...]}}}}
  nlohmann::json status();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nf::feature
