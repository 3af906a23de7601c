// `nexus-forge mirror` (copy topics from one region to another until stopped, or --once until
// caught up), `nexus-forge mirror translate` (a consumer group's positions on the target) and
// `nexus-forge region failover` (through the server of the region to promote), and
// `region recover` / `region failback` (a stopped region's log rebuilt from a peer: recovery.h).
// Both open the regions' buses themselves: an embedded source is read beside its running
// server; an embedded target must not be served by another process meanwhile.
#pragma once

#include <string>
#include <vector>

#include "core/feature/feature.h"

namespace nf::regions {

struct cli_args {
  std::string config;
  std::string from, to;
  std::string topics = "mission.*,marketplace.*,tenancy.*,workflow.*,evidence.*";
  std::string group;
  std::string server, key;
  std::string region;       // recover/failback: the region to rebuild (default: the config's)
  std::string peer_server;  // recover/failback: the peer's server, for its digests
  int batch = 1000;
  bool once = false;
  bool apply = false;
  bool json = false;
  bool quiet = false;
};

void add_commands(CLI::App& app, cli_args& args, const feature::command_context& ctx, std::vector<feature::feature::command>& out);

}  // namespace nf::regions
