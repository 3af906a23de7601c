// The producing feature's client commands, through a running server: `nexus-forge produce
// --server` (one event, or an NDJSON file in atomic batches with progress) and `nexus-forge topics
// create|list --server`. Without --server those commands work on the bus directly (the app's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nf::producing {

struct produce_remote_args {
  std::string server, key, topic;
  std::string type, event_key, payload;  // one event (when no --file)
  std::string file;                      // NDJSON of events; "-": standard input
  std::size_t batch = 500;               // events per request
  bool json = false;
  bool quiet = false;                    // no progress on stderr
};
// POST /topics/{topic}/events: one event, or an NDJSON file in batches (each atomic), with progress.
int produce_remote(const produce_remote_args& a);

struct topics_remote_args {
  std::string server, key;
  std::string name;
  int partitions = 0;                    // 0: the server's default
  std::int64_t retention_ms = -1;
  bool accept_unknown_types = false;
  bool json = false;
};
int topics_create_remote(const topics_remote_args& a);
int topics_list_remote(const topics_remote_args& a);

}  // namespace nf::producing
