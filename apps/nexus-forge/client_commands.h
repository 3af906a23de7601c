// Commands of the core machinery: subscribe (through a server, or the bus read-only) and replay.
// Each feature declares its own subcommands (feature::add_commands).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace nf::cli {

struct subscribe_args {
  std::vector<std::string> patterns;
  std::string server;             // empty: read the bus of --config directly
  std::string key;
  std::string config;
  std::string from = "latest";
  std::optional<std::string> type, tenant;
  std::optional<long long> count;
  bool json = false;
};
int subscribe(const subscribe_args& a);

struct replay_args {
  std::string config;
  std::string topic;              // exact name or pattern
  std::string from, to;           // offset or RFC 3339 time; empty: whole log
  bool json = false;
  bool quiet = false;             // no progress on stderr
  bool verify = false;            // check each artifact/validation/record event against the ledger
  std::string public_key;         // for --verify: PEM file; empty: the data dir's signing key
};
int replay(const replay_args& a, const nf::config::config& cfg);

struct cluster_status_args {
  std::string server = "http://127.0.0.1:7070";
  std::string key;                // default: $NF_API_KEY
  bool json = false;
};
// GET /cluster of any instance: the instances, each actor group's members and partitions, lag.
int cluster_status(const cluster_status_args& a);

}  // namespace nf::cli
