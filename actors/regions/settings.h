// The regions section of the config file: each region by name, with the bus it is.
//   "region": "us-east",                       (core: the local region's name)
//   "regions": {
//     "us-east": {"data_dir": "/srv/nf/us-east"},                       an embedded bus
//     "eu-west": {"bus": {"kind": "kafka", "kafka": {"bootstrap_servers": "..."}}}
//   }
// A region's entry holds the same data_dir and bus keys as the top of the file; the local region
// needs none (it is this file's own data_dir and bus). Environment variables (NF_*) never change
// another region's settings.
#pragma once

#include <map>
#include <string>

#include "core/base/result.h"
#include "core/config/config.h"

namespace nf::regions {

struct regions_settings {
  std::map<std::string, std::string> regions;  // name -> its {data_dir, bus} as JSON text
};

result<regions_settings> regions_settings_of(const config::config& c);
result<void> check_regions_section(const std::string& json_text);

// The configuration of region `name`: the local one's own (`c`) when it is c.region and the
// section does not name it, else c with that region's data_dir and bus. not_found naming the
// known regions for an unknown name.
result<config::config> region_config(const config::config& c, const std::string& name);

}  // namespace nf::regions
