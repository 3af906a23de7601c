// `nexus-forge deadletter list|show ID|replay ID|--all|discard ID`, through a running server's
// /deadletters routes (the server owns the store and runs the actors that replays go back to).
#pragma once

#include <vector>

#include "core/feature/feature.h"

namespace nf::deadletters {

struct cli_args {
  std::string server, key;
  std::string id;
  std::string actor, status, reason;
  int limit = 100;
  bool all = false;
  bool json = false;
  bool no_wait = false;
  int timeout_ms = 10'000;
};

void add_commands(CLI::App& app, cli_args& args, std::vector<feature::feature::command>& out);

}  // namespace nf::deadletters
