// Region routing (pure): which healthy region a client should use. Each candidate's cost is its
// estimated round trip from the client (a configured latency matrix when the client names a
// region it has a row for, else great-circle distance at fibre speed) plus penalties for its
// replication lag and its load. Down regions are never chosen; an overloaded one only when every
// healthy region is overloaded. The answer ranks every region with the reason for its place.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace nf::regions {

struct location {
  double lat = 0, lon = 0;  // degrees
};

// What the health read model knows of a region.
struct region_state {
  std::string name;
  std::optional<location> where;
  bool up = false;               // a heartbeat within the silence limit
  double load = 0;               // 0..1 (the busiest of its own measures)
  std::int64_t lag_ms = 0;       // how far its copies are behind (its links' worst)
};

struct routing_policy {
  // latency_ms[from][to]: measured round trips; a client naming a region uses its row.
  std::map<std::string, std::map<std::string, double>> latency_ms;
  double overload = 0.85;        // load at or above this: overloaded
  double load_penalty_ms = 50;   // added per unit of load
  double lag_penalty = 0.1;      // ms added per ms of replication lag
  double km_per_ms = 100;        // great-circle km per ms of round trip (fibre, both ways, with detours)
};

// Where the client is: a region's name, or a position.
struct client_at {
  std::optional<std::string> region;
  std::optional<location> where;
};

struct candidate {
  std::string region;
  double cost_ms = 0;            // the estimate the ranking used
  double base_ms = 0;            // latency alone
  bool up = false, overloaded = false;
  std::string why;               // "chosen", "down", "overloaded", "slower", "no latency known"
};

struct route_decision {
  std::string region;            // empty: no region can take the client
  std::vector<candidate> ranked; // best first; down ones last
};

// Great-circle distance in km (haversine, mean Earth radius).
double distance_km(const location& a, const location& b);
// "us-east" or "40.7,-74.0": a client's place, or invalid_argument naming what is wrong.
result<client_at> parse_client(const std::string& text);
result<route_decision> route(const client_at& client, const std::vector<region_state>& regions, const routing_policy& policy);

}  // namespace nf::regions
