// Process configuration: a JSON file (config/nexus-forge.json) plus NF_* environment overrides.
// Unknown keys and wrong types fail at startup with a message naming the key. core/config holds
// the shared sections only; each feature owns and checks its own (see section.h).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace nf::config {

enum class bus_kind { embedded, kafka };
enum class durability { sync, async };

struct embedded_config {
  durability mode = durability::sync;          // sync: fsync before ack (group commit); async: WAL, no fsync
  std::int64_t retention_check_ms = 60'000;    // how often retention runs
  std::int64_t group_commit_wait_us = 400;     // see embedded_options::group_commit_wait_us
};

struct kafka_config {
  std::string bootstrap_servers;               // required when bus.kind = kafka
  std::map<std::string, std::string> properties;  // extra librdkafka properties, passed through
  std::int32_t session_timeout_ms = 10'000;
  std::int32_t metadata_refresh_ms = 5'000;    // how fast wildcard subscriptions see new topics
  // How long a broker may hold a fetch that finds no new data (fetch.wait.max.ms). A broker
  // answers as soon as data arrives; librdkafka's mock cluster does not, so against it this is
  // a latency floor per hop (use 10 there).
  std::int32_t fetch_wait_ms = 100;
};

struct bus_config {
  bus_kind kind = bus_kind::embedded;
  std::int64_t max_event_bytes = 1 << 20;      // 1 MiB, key + value + headers
  std::int32_t default_partitions = 3;         // for topics created without an explicit count
  embedded_config embedded;
  kafka_config kafka;
};

struct topic_settings {
  std::int32_t partitions = 3;
  std::int64_t retention_ms = -1;              // -1: keep forever
  std::int64_t retention_bytes = -1;           // -1: no size limit (per partition)
  bool accept_unknown_types = false;           // POST /topics/{t}/events takes types nobody registered
};

struct actor_settings {
  bool enabled = true;
  std::size_t mailbox_capacity = 1024;         // messages buffered before the subscription pauses
  std::uint32_t max_failures = 5;              // failures on one event before it is dead-lettered
  std::int64_t backoff_initial_ms = 100;
  std::int64_t backoff_max_ms = 10'000;
};

struct http_settings {
  std::string listen = "127.0.0.1:7070";
  std::int64_t max_body_bytes = 1 << 20;
  std::int64_t subscriber_buffer = 1024;          // events queued per SSE/WebSocket subscriber
  std::int64_t slow_subscriber_timeout_ms = 10'000;  // a full buffer this long closes the stream
  std::int64_t wait_for_timeout_ms = 5'000;       // how long a read with NF-Wait-For waits for this instance's read models
  std::int64_t ready_lag_events = 1'000;          // /readyz answers 200 only within this many unapplied events
  std::int64_t max_batch_events = 1'000;          // events in one POST /topics/{topic}/events
  // Threads for handlers that append or wait: each concurrent durable write holds one while its
  // fsync (shared by every write in flight) completes, so this bounds writes per fsync.
  std::int64_t workers = 32;
};

struct config {
  std::string data_dir = "./data";
  // The vault (content-addressed blobs: evidence uploads, marketplace packages); empty:
  // <data_dir>/evidence/blobs. Instances of a cluster share one (a network file system).
  std::string vault_dir;
  std::string region = "local";
  std::string log_level = "info";
  std::int64_t shutdown_timeout_ms = 10'000;     // after SIGTERM/SIGINT the process exits within this long
  std::string instance_id;                       // instance.id; empty: generated once into <data_dir>/instance-id
  http_settings http;
  bus_config bus;
  std::map<std::string, topic_settings> topics;
  std::map<std::string, actor_settings> actors;
  // Features' own sections ("ledger", "auth", ...), as JSON text; each feature reads its own
  // (core/config/section.h). Only sections a feature registered are accepted.
  std::map<std::string, std::string> sections;

  // Settings for one actor: its own section if present, else the defaults.
  actor_settings actor(const std::string& name) const;
};

using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment.
std::optional<std::string> process_env(const std::string& name);

// Parses JSON text. `source` names the file in messages.
result<config> parse(const std::string& json_text, const std::string& source, const env_lookup& env);

// Reads and parses a file; an empty path means "defaults plus environment".
result<config> load(const std::string& path, const env_lookup& env = process_env);

const char* to_string(bus_kind k);

}  // namespace nf::config
