// The marketplace's subcommands, through a running server's /marketplace routes:
//   nexus-forge publish DIR | --git PATH --ref REF   [--wait] [--json]
//   nexus-forge resolve NAME[@RANGE]                  [--json]
//   nexus-forge search QUERY [--category C] [--protocol P] [--capability X] [--min-rating R] [--page N] [--explain] [--json]
//   nexus-forge install NAME[@RANGE] [--dir agents] [--frozen] [--lock FILE] [--ledger-key PEM] [--json]
//   nexus-forge agent show NAME[@VERSION]             [--json]
//   nexus-forge agent review NAME@VERSION approve|reject [--feedback TEXT]
//   nexus-forge agent yank NAME@VERSION --reason TEXT
#pragma once

#include <string>
#include <vector>

#include "core/feature/feature.h"

namespace nf::marketplace {

struct cli_args {
  std::string server = "http://127.0.0.1:8080", key;
  std::string dir, git, ref = "HEAD";
  std::string spec;  // NAME[@RANGE] or NAME@VERSION
  std::string decision, feedback, reason;
  std::string query, category, protocol, capability;
  double min_rating = 0;
  int page = 1, per_page = 20;
  bool explain = false;
  std::string install_dir = "agents", lock = "nexus-forge.lock", ledger_key;
  bool frozen = false;
  bool wait = false;
  bool json = false;
  int timeout_ms = 60'000;
};

void add_commands(CLI::App& app, cli_args& args, std::vector<feature::feature::command>& out);

// A package directory as the publish body: {"manifest": agent.json, "files": {path: ...}}; files
// under .git are left out, symbolic links and executable bits kept.
result<nlohmann::json> package_body(const std::string& dir);

}  // namespace nf::marketplace
