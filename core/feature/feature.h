// What a feature is to the application that hosts it. A feature (actors/<name>/) owns a whole
// vertical: its topics, event types, read models, actors, routes and permissions, config
// section and CLI subcommands. The app only collects features: it asks each for its topics,
// starts each with the shared machinery (the host), runs the HTTP server over the routes they
// registered, and stops them in reverse order before the bus closes.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/actor/actor.h"
#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/config/config.h"
#include "core/config/section.h"
#include "core/event/types.h"
#include "core/http/routes.h"
#include "core/projection/projection.h"
#include "core/streams/visibility.h"

namespace CLI {
class App;
}

namespace nf::feature {

struct topic_spec {
  topic_name name;
  int partitions = 0;                  // 0: the config's topics section, else bus.default_partitions
  bool single_partition = false;       // exactly one partition: the topic's order is the feature's order
  // Set: as many partitions as that topic gets (a command topic and its outcome topic, so a key's
  // command and outcome share a partition number; see core/command/owner.h).
  std::optional<topic_name> partitions_like = std::nullopt;
  std::int64_t retention_ms = -1;      // when the topic is created; -1: keep forever
  // Count records per key (bus::topic_config::key_versions), so appends can expect a version. On
  // Kafka the bus does not check them (errc::unsupported from append).
  bool key_versions = false;
  // Kafka's cleanup.policy=compact (bus::topic_config::compact): the bus keeps at least every key's
  // latest record. For topics whose records are each a key's whole current state.
  bool compact = false;
};

// What the application gives a feature's subcommands: the configuration as every command loads it
// (feature sections registered and checked, log level applied). Outlives the parse.
struct command_context {
  std::string default_config;                                            // --config's default
  std::function<result<config::config>(const std::string& path)> load_config;
  // Every feature's read models (for commands that rebuild a whole data directory).
  std::function<std::vector<projection::projection*>()> read_models;
};

// The shared machinery a feature starts with. Everything outlives the feature.
struct host {
  const config::config& cfg;
  bus::event_bus& bus;
  projection::store& store;            // the read models' RocksDB
  actor::runtime& actors;              // started by the app after every feature has added its actors
  http::route_table& routes;
  streams::topic_visibility& visibility;
  const nf::clock& clock;
  // The feeds of its read models: a read with NF-Wait-For waits on those that read the token's
  // topics (read-your-writes across instances).
  std::vector<projection::feed*>& feeds;
  // The server's version (what /healthz reports).
  std::string version = "0.0.0";
};

class feature {
 public:
  virtual ~feature() = default;
  virtual std::string_view name() const = 0;
  // The topics it reads and writes; serve and kafka-mock create the missing ones (partitions from
  // the config's topics section, else bus.default_partitions; one for single-partition topics).
  virtual std::vector<topic_spec> topics() const = 0;
  // Its command-line subcommands: adds them to `app` (before parsing) and returns, for each, what
  // runs it when chosen. Options bind to the feature object, which outlives the parse.
  struct command {
    CLI::App* sub;
    std::function<int()> run;
  };
  virtual std::vector<command> add_commands(CLI::App& app, const command_context& ctx) {
    (void)app;
    (void)ctx;
    return {};
  }
  // Its own sections of the config file, with their checks (registered before the config loads).
  virtual std::vector<std::pair<std::string, config::section_check>> config_sections() const { return {}; }
  // Declares its event types (called before start, and by commands that only read or write events).
  virtual void register_events(event::type_registry& reg) const = 0;
  // Opens its read models, adds its actors to the runtime, registers its routes and marks its
  // restricted topics. An error stops the start-up with its message.
  virtual result<void> start(host& h) = 0;
  // For /readyz: whether its read models have caught up with the log; adds their lag to `details`.
  virtual bool ready(nlohmann::json& details) const {
    (void)details;
    return true;
  }
  // What serve prints once started (e.g. a secret shown once): `key` in --json output, `text` otherwise.
  struct note {
    std::string key, value, text;
  };
  virtual std::vector<note> notes() const { return {}; }
  // The admission it provides for every route (at most one feature does), valid after start.
  virtual http::admission* admission() { return nullptr; }
  // Its read models (owned by the feature; valid before start(), so offline commands can
  // describe and rebuild them): GET /projections, `nexus-forge projections` and `rebuild`.
  virtual std::vector<projection::projection*> projections() { return {}; }
  // Stops what start began. Called after the HTTP server and the actor runtime stopped, in
  // reverse start order, before the bus closes.
  virtual void stop() = 0;
};

// Partition counts for `topics` under `cfg`.
int partitions_for(const topic_spec& t, const config::config& cfg);
// Creates the missing topics; invalid_argument when a single-partition topic has more than one.
result<void> ensure_topics(bus::event_bus& bus, const config::config& cfg, const std::vector<topic_spec>& topics);

}  // namespace nf::feature
