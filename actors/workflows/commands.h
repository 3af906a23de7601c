// The workflow subcommands, through a running server's /workflows and /runs routes:
//   nexus-forge workflow apply FILE              define a version (JSON or YAML file)
//   nexus-forge workflow validate FILE           compile it, store nothing
//   nexus-forge workflow run ID --input k=v ... [--version N] [--idempotency-key K] [--wait]
//   nexus-forge workflow status RUN
//   nexus-forge workflow history RUN
//   nexus-forge workflow reset RUN --node N [--input k=v ...]
//   nexus-forge workflow export ID [--version N] [--format yaml|json]
//   nexus-forge workflow schedule ID --cron '*/15 * * * *' [--input k=v] [--overlap P] [--catchup P]
//   nexus-forge workflow templates
//   nexus-forge workflow nodes
// Every one has --server, --key and --json.
#pragma once

#include <string>
#include <vector>

#include "core/feature/feature.h"

namespace nf::workflows {

struct cli_args {
  std::string server = "http://127.0.0.1:8080", key;
  std::string file, id, run, node, format = "yaml", idempotency_key;
  std::string cron, overlap = "skip", catchup = "latest";
  std::vector<std::string> inputs;
  std::int64_t version = 0;
  bool wait = false;
  bool json = false;
  int timeout_ms = 60'000;
};

void add_commands(CLI::App& app, cli_args& args, std::vector<feature::feature::command>& out);

}  // namespace nf::workflows
