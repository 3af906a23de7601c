// The regions section of the config file: each region by name, with the bus it is.
//   "region": "us-east",                       (core: the local region's name)
//   "regions": {
//     "us-east": {"data_dir": "/srv/nf/us-east"},                       an embedded bus
//     "eu-west": {"bus": {"kind": "kafka", "kafka": {"bootstrap_servers": "..."}},
//                 "location": {"lat": 53.3, "lon": -6.3}}
//   }
// A region's entry holds the same data_dir and bus keys as the top of the file; the local region
// needs none (it is this file's own data_dir and bus). Environment variables (NF_*) never change
// another region's settings.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "actors/regions/routing.h"
#include "core/config/config.h"

namespace nf::regions {

struct regions_settings {
  std::map<std::string, std::string> regions;  // name -> its {data_dir, bus} as JSON text
  std::map<std::string, location> locations;   // name -> where it is (for routing by distance)
  std::vector<std::string> names;              // every region the section names
};

result<regions_settings> regions_settings_of(const config::config& c);
result<void> check_regions_section(const std::string& json_text);

// The mirror section: links serve runs, and what the regions read model maps.
//   "mirror": {
//     "topics": ["mission.*", ...],   topics whose copied records the offset map folds (default below)
//     "links": [{"from": "us-east", "to": "eu-west", "topics": ["mission.*"], "batch": 1000}],
//     "lag_refresh_ms": 1000,
//     "heartbeat_ms": 1000, "down_after_ms": 5000,
//     "routing": {"latency_ms": {"us-east": {"eu-west": 75}}, "overload": 0.85, "load_penalty_ms": 50,
//                 "lag_penalty": 0.1, "km_per_ms": 100}
//   }
// A link's "to" defaults to the local region; its target must be the local bus or a Kafka
// region (an embedded region's bus belongs to its own server: run the link there).
inline const std::vector<std::string> kDefaultMirrorTopics = {"mission.*", "marketplace.*", "tenancy.*", "workflow.*", "evidence.*", "region.*"};

struct link_settings {
  std::string from, to;
  std::vector<std::string> topics = kDefaultMirrorTopics;
  std::int64_t batch = 1000;
};

struct mirror_settings {
  std::vector<std::string> topics = kDefaultMirrorTopics;
  bool topics_set = false;              // the config names them
  std::vector<link_settings> links;
  std::int64_t lag_refresh_ms = 1000;
  std::int64_t heartbeat_ms = 1000;     // how often serve says region.heartbeat
  std::int64_t down_after_ms = 5000;    // a region silent this long is down
  routing_policy routing;
};

result<mirror_settings> mirror_settings_of(const config::config& c);
result<void> check_mirror_section(const std::string& json_text);

// The configuration of region `name`: the local one's own (`c`) when it is c.region and the
// section does not name it, else c with that region's data_dir and bus. not_found naming the
// known regions for an unknown name.
result<config::config> region_config(const config::config& c, const std::string& name);

}  // namespace nf::regions
