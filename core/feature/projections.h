// Read models as a first-class object: each projection's generation, applied positions, lag in
// events and milliseconds, rebuild state and (on demand) digest; and rebuilds into a new
// generation while queries keep being served from the old one, swapped in atomically
// (projection::store::rebuild). Served as GET /projections[/{name}] and
// POST /projections/{name}/rebuild by the node; `nexus-forge projections` and `rebuild` use the
// same descriptions offline.
//
// The digest is SHA-256 over every key and value of the projection's state in key order, each
// prefixed by its length as 8 big-endian bytes (offsets and claims excluded): two stores that
// folded the same events hold the same digest, whichever instance or region folded them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/http/routes.h"
#include "core/projection/projection.h"

namespace nf::feature {

// {name, generation, topics, positions[{topic, partition, applied, end, lag}], lagEvents, lagMs,
//  digest (with `with_digest`)}
// `digest_progress` is passed to store::digest (keys read so far).
result<nlohmann::json> describe_projection(projection::store& store, bus::event_bus& bus, const projection::projection& p, bool with_digest,
                                           const nf::clock& clk, const std::function<void(std::uint64_t)>& digest_progress = {});

class projection_ops {
 public:
  projection_ops(projection::store& store, bus::event_bus& bus, std::vector<projection::projection*> all, const nf::clock& clk);
  // Waits for running rebuilds (a rebuild cannot be interrupted half-way; it is safe to stop the
  // process, which keeps the old generation).
  ~projection_ops();
  projection_ops(const projection_ops&) = delete;
  projection_ops& operator=(const projection_ops&) = delete;

  projection::projection* find(const std::string& name) const;
  // describe_projection() plus the rebuild state: {state: idle|running|done|failed, applied,
  // total, eventsPerSecond, etaSeconds, startedAt, finishedAt, fromGeneration, toGeneration,
  // oldDigest, newDigest, error}.
  result<nlohmann::json> describe(const projection::projection& p, bool with_digest);
  // Starts a rebuild on a thread of its own; errc::conflict while one runs for that projection.
  result<nlohmann::json> start_rebuild(projection::projection& p);

  // GET /projections, GET /projections/{name}, POST /projections/{name}/rebuild.
  void add_routes(http::route_table& t);

 private:
  struct rebuild_state {
    std::string state = "idle";
    std::uint64_t applied = 0, total = 0;
    double rate = 0;
    std::int64_t started_ms = 0, finished_ms = 0;
    std::uint64_t from_gen = 0, to_gen = 0;
    std::string old_digest, new_digest, error;
  };
  nlohmann::json to_json(const rebuild_state& r) const;
  void run_rebuild(projection::projection& p);

  projection::store& store_;
  bus::event_bus& bus_;
  std::vector<projection::projection*> all_;
  const nf::clock& clk_;
  std::mutex mu_;
  std::map<std::string, rebuild_state> rebuilds_;
  std::map<std::string, std::thread> threads_;  // the latest rebuild of each projection
};

}  // namespace nf::feature
