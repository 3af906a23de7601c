// nexus-forge: the one binary. Wiring and command-line parsing only; behaviour lives in core/ and
// in the features under actors/.
#include <csignal>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>

#include "apps/nexus-forge/backup_commands.h"
#include "apps/nexus-forge/client_commands.h"
#include "actors/producing/commands.h"
#include "apps/nexus-forge/doctor_commands.h"
#include "apps/nexus-forge/projection_commands.h"
#include "core/actor/actor.h"
#include "core/base/number.h"
#include "core/bus/factory.h"
#include "core/bus/kafka.h"
#include "core/config/config.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/projection/projection.h"
#include "actors/evidence/feature.h"
#include "actors/missions/feature.h"
#include "actors/producing/feature.h"
#include "actors/console/feature.h"
#include "actors/deadletters/feature.h"
#include "actors/marketplace/feature.h"
#include "actors/workflows/feature.h"
#include "actors/regions/feature.h"
#include "actors/tenancy/feature.h"
#include "core/feature/node.h"

#ifndef NF_VERSION
#define NF_VERSION "0.0.0"
#endif

namespace {

using json = nlohmann::json;

int fail(const nf::error& e) {
  std::cerr << "error: " << e.message << " (" << nf::to_string(e.code) << ")\n";
  return 1;
}

// Short-lived commands keep stderr quiet unless the operator asked for a level explicitly.
bool quiet_commands = true;

nf::result<nf::config::config> load_config(const std::string& path) {
  NF_TRY_ASSIGN(auto cfg, nf::config::load(path));
  if (quiet_commands && cfg.log_level == "info" && !nf::config::process_env("NF_LOG_LEVEL")) cfg.log_level = "warn";
  if (!nf::log::set_level(cfg.log_level)) return nf::error{nf::errc::invalid_argument, "unknown log level '" + cfg.log_level + "'"};
  return cfg;
}

// Catches SIGINT and SIGTERM from construction on, so a signal that arrives while the
// process is still starting is not lost; wait() returns once one has arrived.
class signal_waiter {
 public:
  signal_waiter() : signals_(io_, SIGINT, SIGTERM) {
    signals_.async_wait([](const boost::system::error_code&, int sig) {
      nf::log::get("main")->info("received signal {}, shutting down", sig);
    });
  }
  void wait() { io_.run(); }

 private:
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
};

// ---- serve ------------------------------------------------------------------------------------

// Every feature of the product. Tenancy comes first: it provides the admission every route uses.
std::vector<std::unique_ptr<nf::feature::feature>> all_features() {
  std::vector<std::unique_ptr<nf::feature::feature>> f;
  f.push_back(nf::tenancy::make_feature());
  f.push_back(nf::missions::make_feature());
  f.push_back(nf::evidence::make_feature());
  f.push_back(nf::producing::make_feature());
  f.push_back(nf::deadletters::make_feature());
  f.push_back(nf::console::make_feature());
  f.push_back(nf::marketplace::make_feature());
  f.push_back(nf::workflows::make_feature());
  f.push_back(nf::regions::make_feature());
  return f;
}

// After a signal, the process ends within shutdown_timeout_ms whatever clients or a Kafka
// cluster do: if the ordered stop has not finished by then, it says so and exits.
class shutdown_watchdog {
 public:
  explicit shutdown_watchdog(std::chrono::milliseconds limit)
      : thread_([this, limit] {
          std::unique_lock lk(mu_);
          if (cv_.wait_for(lk, limit, [&] { return done_; })) return;
          nf::log::get("main")->error("shutdown took longer than {} ms (shutdown_timeout_ms); exiting without waiting for the rest",
                                      limit.count());
          std::fflush(nullptr);
          std::_Exit(0);
        }) {}
  ~shutdown_watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

int serve_until_signal(nf::config::config* cfg, signal_waiter& signals, bool as_json,
                       std::optional<shutdown_watchdog>& watchdog);

int cmd_serve(const std::string& config_path, const std::string& listen, bool as_json) {
  quiet_commands = false;
  signal_waiter signals;
  auto cfg = load_config(config_path);
  if (!cfg) return fail(cfg.error());
  if (!listen.empty()) cfg->http.listen = listen;
  std::optional<shutdown_watchdog> watchdog;
  // Every component lives inside serve_until_signal, so all of them are stopped and destroyed,
  // the bus last, before the process says it stopped.
  const int rc = serve_until_signal(&*cfg, signals, as_json, watchdog);
  if (rc == 0) nf::log::get("main")->info("stopped cleanly");
  return rc;
}

int serve_until_signal(nf::config::config* cfg, signal_waiter& signals, bool as_json,
                       std::optional<shutdown_watchdog>& watchdog) {
  auto bus = nf::bus::open_bus(*cfg, nf::bus::access::owner);
  if (!bus) return fail(bus.error());
  // Read models live next to the bus data, whichever bus is in use.
  std::error_code ec;
  std::filesystem::create_directories(cfg->data_dir, ec);
  auto store = nf::projection::store::open({cfg->data_dir + "/projections", false});
  if (!store) return fail(store.error());

  nf::feature::node_options no;
  no.http.listen = cfg->http.listen;
  no.http.max_body_bytes = static_cast<std::size_t>(cfg->http.max_body_bytes);
  no.http.subscriber_buffer = static_cast<std::size_t>(cfg->http.subscriber_buffer);
  no.http.slow_subscriber_timeout = std::chrono::milliseconds(cfg->http.slow_subscriber_timeout_ms);
  no.http.wait_for_timeout = std::chrono::milliseconds(cfg->http.wait_for_timeout_ms);
  no.http.workers = static_cast<int>(cfg->http.workers);
  no.http.version = NF_VERSION;
  // Destroyed before the store and the bus: every feature has stopped before they close.
  nf::feature::node node(*cfg, **bus, **store, all_features(), no);
  if (auto r = node.start(); !r) return fail(r.error());
  auto port = node.listen();
  if (!port) return fail(port.error());
  const std::string host = cfg->http.listen.substr(0, cfg->http.listen.rfind(':'));
  const std::string where = cfg->bus.kind == nf::config::bus_kind::embedded ? cfg->data_dir + "/bus" : cfg->bus.kafka.bootstrap_servers;
  if (as_json) {
    json j{{"listening", "http://" + host + ":" + std::to_string(*port)}, {"bus", nf::config::to_string(cfg->bus.kind)}, {"at", where}, {"region", cfg->region}};
    for (const auto& f : node.features())
      for (const auto& n : f->notes()) j[n.key] = n.value;
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << "listening on http://" << host << ":" << *port << std::endl;
    std::cout << "nexus-forge serving on the " << nf::config::to_string(cfg->bus.kind) << " bus at " << where << " (region "
              << cfg->region << "); Ctrl-C to stop" << std::endl;
    for (const auto& f : node.features())
      for (const auto& n : f->notes()) std::cout << n.text << std::endl;
  }
  signals.wait();
  watchdog.emplace(std::chrono::milliseconds(cfg->shutdown_timeout_ms));
  node.stop();
  return 0;
}

// ---- topics -----------------------------------------------------------------------------------

int cmd_topics_list(const std::string& config_path, bool as_json) {
  auto cfg = load_config(config_path);
  if (!cfg) return fail(cfg.error());
  auto bus = nf::bus::open_bus(*cfg, nf::bus::access::read_only);
  std::vector<nf::bus::topic_info> topics;
  if (bus) {
    auto t = (*bus)->list_topics();
    if (!t) return fail(t.error());
    topics = std::move(*t);
  } else if (bus.error().code != nf::errc::not_found) {
    return fail(bus.error());
  }
  json arr = json::array();
  for (const auto& t : topics) {
    json j{{"name", t.name.get()},
           {"partitions", t.config.partitions},
           {"retentionMs", t.config.retention_ms},
           {"retentionBytes", t.config.retention_bytes}};
    json ends = json::array();
    for (std::int32_t p = 0; p < t.config.partitions && bus; ++p) {
      nf::topic_partition tp{t.name, nf::partition_id{p}};
      auto b = (*bus)->begin_offset(tp);
      auto e = (*bus)->end_offset(tp);
      if (b && e) ends.push_back({{"partition", p}, {"begin", b->get()}, {"end", e->get()}});
    }
    j["offsets"] = ends;
    arr.push_back(j);
  }
  if (as_json) {
    std::cout << arr.dump() << "\n";
  } else {
    for (const auto& t : arr) {
      std::int64_t events = 0;
      for (const auto& o : t["offsets"]) events += o["end"].get<std::int64_t>() - o["begin"].get<std::int64_t>();
      std::cout << t["name"].get<std::string>() << "\tpartitions=" << t["partitions"] << "\tevents=" << events << "\n";
    }
  }
  return 0;
}

int cmd_topics_create(const std::string& config_path, const std::string& name, int partitions, std::int64_t retention_ms,
                      std::int64_t retention_bytes, bool as_json) {
  auto cfg = load_config(config_path);
  if (!cfg) return fail(cfg.error());
  auto bus = nf::bus::open_bus(*cfg, nf::bus::access::owner);
  if (!bus) return fail(bus.error());
  if (partitions <= 0) partitions = cfg->bus.default_partitions;
  auto r = (*bus)->create_topic(nf::topic_name{name}, {partitions, retention_ms, retention_bytes});
  if (!r) return fail(r.error());
  if (as_json) std::cout << json{{"name", name}, {"partitions", partitions}}.dump() << "\n";
  else std::cout << "created topic " << name << " with " << partitions << " partitions\n";
  return 0;
}

// ---- produce ----------------------------------------------------------------------------------

struct produce_args {
  std::string config, topic, key, type, payload, tenant;
};

// "--json @FILE" reads the payload from a file ("@-": standard input), for payloads too large
// for a command-line argument.
nf::result<std::string> payload_text(const std::string& arg) {
  if (arg.empty() || arg[0] != '@') return arg;
  const std::string path = arg.substr(1);
  std::stringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return nf::error{nf::errc::not_found, "cannot read payload file '" + path + "'"};
    ss << in.rdbuf();
  }
  return ss.str();
}

int cmd_produce(const produce_args& a) {
  auto cfg = load_config(a.config);
  if (!cfg) return fail(cfg.error());
  auto payload = payload_text(a.payload);
  if (!payload) return fail(payload.error());
  nf::event::new_event ev;
  ev.type = a.type;
  ev.key = a.key;
  ev.tenant = a.tenant;
  ev.payload_json = *payload;
  ev.region = cfg->region;
  ev.occurred_at = nf::system_clock::instance().now_ms();
  auto env = nf::event::build(ev);
  if (!env) return fail(env.error());
  auto bus = nf::bus::open_bus(*cfg, nf::bus::access::owner);
  if (!bus) {
    auto e = bus.error();
    if (e.code == nf::errc::locked) e.message += "; produce through it with --server http://HOST:PORT";
    return fail(e);
  }
  if (auto r = nf::bus::ensure_topics(**bus, *cfg); !r) return fail(r.error());
  const auto rec = nf::event::to_record(*env);
  auto res = (*bus)->append(nf::topic_name{a.topic}, std::span<const nf::bus::record>(&rec, 1));
  if (!res) {
    auto e = res.error();
    if (e.code == nf::errc::not_found) e.message += "; create it with: nexus-forge topics create " + a.topic;
    return fail(e);
  }
  const auto id = nf::event::event_id::from_raw(env->id());
  std::cout << json{{"topic", a.topic},
                    {"partition", (*res)[0].partition.get()},
                    {"offset", (*res)[0].off.get()},
                    {"id", id ? id->to_string() : std::string()}}
                   .dump()
            << std::endl;
  return 0;
}

// ---- consume ----------------------------------------------------------------------------------

struct consume_args {
  std::string config, topic, from = "earliest";
  std::optional<std::int64_t> count;
  std::optional<int> partition;
  bool follow = false;
};

int cmd_consume(const consume_args& a) {
  auto cfg = load_config(a.config);
  if (!cfg) return fail(cfg.error());
  auto bus = nf::bus::open_bus(*cfg, nf::bus::access::read_only);
  if (!bus) return fail(bus.error());
  auto& b = **bus;
  auto info = b.describe_topic(nf::topic_name{a.topic});
  if (!info) return fail(info.error());

  std::optional<std::int64_t> from_offset;
  if (a.from != "earliest" && a.from != "latest") {
    auto n = nf::parse_number<std::int64_t>(a.from, "--from", 0);
    if (!n) return fail({nf::errc::invalid_argument, "--from must be earliest, latest or a non-negative offset, got '" + a.from + "'"});
    from_offset = *n;
  }
  std::vector<std::pair<nf::topic_partition, nf::offset>> assign;
  std::map<nf::topic_partition, std::int64_t> stop_at;
  for (std::int32_t p = 0; p < info->config.partitions; ++p) {
    if (a.partition && *a.partition != p) continue;
    nf::topic_partition tp{nf::topic_name{a.topic}, nf::partition_id{p}};
    auto begin = b.begin_offset(tp);
    auto end = b.end_offset(tp);
    if (!begin) return fail(begin.error());
    if (!end) return fail(end.error());
    std::int64_t start = a.from == "latest" ? end->get() : begin->get();
    if (from_offset) start = std::clamp(*from_offset, begin->get(), end->get());
    assign.emplace_back(tp, nf::offset{start});
    if (start < end->get()) stop_at[tp] = end->get();
  }
  if (a.partition && assign.empty())
    return fail({nf::errc::not_found, "topic '" + a.topic + "' has no partition " + std::to_string(*a.partition)});
  auto consumer = b.make_consumer(nf::bus::consumer_options{});
  if (!consumer) return fail(consumer.error());
  if (auto r = (*consumer)->assign(assign); !r) return fail(r.error());

  const bool wait_for_more = a.follow || a.count.has_value();
  std::int64_t printed = 0;
  for (;;) {
    if (a.count && printed >= *a.count) break;
    if (!wait_for_more && stop_at.empty()) break;
    const std::size_t want = a.count ? static_cast<std::size_t>(*a.count - printed) : 1024;
    auto msgs = (*consumer)->poll(std::chrono::milliseconds(500), std::min<std::size_t>(want, 1024));
    if (!msgs) return fail(msgs.error());
    for (const auto& m : *msgs) {
      auto j = nf::event::to_json(m);
      if (!j) {
        // Not an envelope: show it raw rather than hide it.
        std::cerr << "warning: " << j.error().message << "\n";
        json raw{{"topic", m.topic.get()}, {"partition", m.partition.get()}, {"offset", m.off.get()}, {"timestamp", m.timestamp_ms},
                 {"key", m.key}, {"error", j.error().message}};
        std::cout << raw.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      } else {
        std::cout << j->dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      }
      ++printed;
      const nf::topic_partition tp{m.topic, m.partition};
      if (auto it = stop_at.find(tp); it != stop_at.end() && m.off.get() + 1 >= it->second) stop_at.erase(it);
      if (a.count && printed >= *a.count) break;
    }
    std::cout.flush();
  }
  return 0;
}

// ---- kafka-mock -------------------------------------------------------------------------------

int cmd_kafka_mock(const std::string& config_path, int brokers, const std::vector<std::string>& topics, bool as_json) {
  signal_waiter signals;
  // The mock cluster has no CreateTopics API, so it starts with every topic serve needs.
  auto cfg = config_path.empty() ? nf::config::load("") : load_config(config_path);
  if (!cfg) return fail(cfg.error());
  auto mc = nf::bus::kafka_mock_cluster::start(brokers);
  if (!mc) return fail(mc.error());
  std::map<std::string, int> wanted;
  for (const auto& [name, ts] : cfg->topics) wanted[name] = ts.partitions;
  for (const auto& spec : nf::feature::node::topics(all_features())) wanted[spec.name.get()] = nf::feature::partitions_for(spec, *cfg);
  for (const auto& [name, parts] : wanted)
    if (auto r = (*mc)->create_topic(name, parts); !r) return fail(r.error());
  for (const auto& spec : topics) {
    const auto colon = spec.find(':');
    const std::string name = spec.substr(0, colon);
    int parts = 3;
    if (colon != std::string::npos) {
      auto n = nf::parse_number<int>(std::string_view(spec).substr(colon + 1), "PARTITIONS", 1, 10'000);
      if (!n) return fail({nf::errc::invalid_argument, "--topic expects NAME[:PARTITIONS], got '" + spec + "': " + n.error().message});
      parts = *n;
    }
    if (auto v = nf::bus::validate_topic_name(name); !v) return fail(v.error());
    if (auto r = (*mc)->create_topic(name, parts); !r) return fail(r.error());
  }
  if (as_json) std::cout << json{{"bootstrapServers", (*mc)->bootstrap_servers()}, {"brokers", brokers}}.dump() << std::endl;
  else
    std::cout << (*mc)->bootstrap_servers() << std::endl
              << "# librdkafka mock cluster with " << brokers << " brokers on loopback; data is in memory. Use it with:\n"
              << "#   NF_BUS_KIND=kafka NF_KAFKA_BOOTSTRAP=" << (*mc)->bootstrap_servers() << " NF_KAFKA_FETCH_WAIT_MS=10 nexus-forge serve\n"
              << "# (the mock holds an empty fetch for the whole wait, so a short one keeps writes fast).\n"
              << "# It has no CreateTopics API: topics are the ones given by --config and --topic.\n"
              << "# Ctrl-C stops it." << std::endl;
  signals.wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The features live for the whole command: their subcommands' options bind to them.
  auto features = all_features();
  // Every feature's config section is a known key before any config file is read.
  for (const auto& f : features)
    for (auto& [name, check] : f->config_sections()) nf::config::register_section(name, check);
  CLI::App app{"nexus-forge: the event-sourced backbone of an AI-agent platform"};
  app.require_subcommand(1);
  app.set_version_flag("--version", NF_VERSION);

  bool as_json = false;
  std::string config_path = "config/nexus-forge.json";
  auto add_common = [&](CLI::App* sc) {
    sc->add_option("--config,-c", config_path, "configuration file (JSON)")->capture_default_str();
    sc->add_flag("--json", as_json, "machine-readable JSON output");
  };

  auto* version = app.add_subcommand("version", "print the version");
  version->add_flag("--json", as_json, "machine-readable JSON output");

  auto* serve = app.add_subcommand("serve", "run the HTTP server, actors and read models of every feature until SIGINT/SIGTERM");
  add_common(serve);
  std::string listen;
  serve->add_option("--listen", listen, "HOST:PORT for HTTP (overrides http.listen; port 0 picks a free port)");

  auto* topics = app.add_subcommand("topics", "list or create topics");
  topics->require_subcommand(1);
  auto* tlist = topics->add_subcommand("list", "list topics with partitions and offsets");
  add_common(tlist);
  nf::producing::topics_remote_args tra;
  tlist->add_option("--server", tra.server, "ask a running server (GET /topics) instead of reading the bus");
  tlist->add_option("--key", tra.key, "API key for --server (default: $NF_API_KEY)");
  auto* tcreate = topics->add_subcommand("create", "create a topic");
  add_common(tcreate);
  std::string tname;
  int tparts = 0;
  std::int64_t tret_ms = -1, tret_bytes = -1;
  tcreate->add_option("name", tname, "topic name")->required();
  tcreate->add_option("--partitions,-p", tparts, "partition count (default: bus.default_partitions)");
  tcreate->add_option("--retention-ms", tret_ms, "delete events older than this (-1: keep)");
  tcreate->add_option("--retention-bytes", tret_bytes, "keep at most this many bytes per partition (-1: no limit)");
  tcreate->add_option("--server", tra.server, "create through a running server (POST /topics) instead of opening the bus");
  tcreate->add_option("--key", tra.key, "API key for --server (default: $NF_API_KEY)");
  tcreate->add_flag("--accept-unknown-types", tra.accept_unknown_types,
                    "with --server: the topic takes event types nobody registered, as JSON payloads");

  produce_args pa;
  nf::producing::produce_remote_args pra;
  auto* produce = app.add_subcommand(
      "produce", "append events to a topic and print their positions: through a running server (--server), or directly to a bus "
                 "no server owns");
  produce->add_option("--config,-c", config_path, "configuration file (JSON), without --server")->capture_default_str();
  produce->add_option("--topic,-t", pa.topic, "topic")->required();
  produce->add_option("--key,-k", pa.key, "aggregate key; decides the partition");
  produce->add_option("--type", pa.type, "event type, e.g. mission.prompted");
  produce->add_option("--json,-j", pa.payload, "payload as a JSON object, or @FILE / @- to read it");
  produce->add_option("--tenant", pa.tenant, "tenant id (without --server; a server stamps the caller's)");
  produce->add_option("--server", pra.server, "append through a running server (POST /topics/{topic}/events)");
  produce->add_option("--api-key", pra.key, "API key for --server (default: $NF_API_KEY)");
  produce->add_option("--file,-f", pra.file, "with --server: NDJSON events {type,key,payload,id?} to append ('-': standard input)");
  produce->add_option("--batch", pra.batch, "with --file: events per request, each batch appended atomically")->capture_default_str();
  produce->add_flag("--output-json", pra.json, "with --server: print the server's answer (positions) as JSON");
  produce->add_flag("--quiet,-q", pra.quiet, "no progress on stderr");

  consume_args ca;
  auto* consume = app.add_subcommand("consume", "print events of a topic, one JSON object per line");
  // Output is always JSON lines; --json is accepted like on every other command.
  add_common(consume);
  consume->add_option("--topic,-t", ca.topic, "topic")->required();
  consume->add_option("--from", ca.from, "earliest, latest or an offset (per partition)")->capture_default_str();
  consume->add_option("--count,-n", ca.count, "exit after this many events (waits for them)");
  consume->add_option("--partition", ca.partition, "only this partition");
  consume->add_flag("--follow,-f", ca.follow, "keep waiting for new events");

  int brokers = 3;
  std::vector<std::string> mock_topics;
  auto* mock = app.add_subcommand("kafka-mock", "start librdkafka's mock Kafka cluster on loopback and print its bootstrap servers");
  std::string mock_config;
  mock->add_option("--config,-c", mock_config, "create the topics this configuration lists");
  mock->add_option("--brokers", brokers, "broker count")->capture_default_str();
  mock->add_option("--topic", mock_topics, "create NAME[:PARTITIONS] (repeatable)");
  mock->add_flag("--json", as_json, "machine-readable JSON output");

  nf::cli::cluster_status_args csa;
  auto* cluster = app.add_subcommand("cluster", "inspect a cluster of serve instances");
  cluster->require_subcommand(1);
  auto* cluster_status = cluster->add_subcommand("status", "the instances, each actor group's members and partitions, and each instance's lag");
  cluster_status->add_option("--server", csa.server, "any instance's URL")->capture_default_str();
  cluster_status->add_option("--key", csa.key, "API key (default: $NF_API_KEY)");
  cluster_status->add_flag("--json", csa.json, "machine-readable JSON output");

  nf::cli::subscribe_args sa;
  auto* sub = app.add_subcommand("subscribe", "stream events of topics matching patterns, e.g. 'mission.*'");
  sub->add_option("patterns", sa.patterns, "topic names or patterns")->required();
  sub->add_option("--server", sa.server, "read through a server's /subscribe (SSE)");
  sub->add_option("--key", sa.key, "API key for --server (default: $NF_API_KEY)");
  sub->add_option("--config,-c", config_path, "read the bus directly (read-only) when no --server is given")->capture_default_str();
  sub->add_option("--from", sa.from, "earliest, latest or a position id printed by --json")->capture_default_str();
  sub->add_option("--type", sa.type, "only events of this type");
  sub->add_option("--tenant", sa.tenant, "only events of this tenant");
  sub->add_option("--count,-n", sa.count, "exit after this many events");
  sub->add_flag("--json", sa.json, R"(print {"id":POSITION,"event":{...}} per line)");

  nf::cli::replay_args ra;
  auto* replay = app.add_subcommand("replay", "print the events of topics in time order (read-only; works beside a server)");
  replay->add_option("--config,-c", config_path, "configuration file (JSON)")->capture_default_str();
  replay->add_option("--topic,-t", ra.topic, "topic name or pattern")->required();
  replay->add_option("--from", ra.from, "first offset or RFC 3339 time (default: the beginning)");
  replay->add_option("--to", ra.to, "stop before this offset or RFC 3339 time (default: the end)");
  replay->add_flag("--json", ra.json, "one JSON object per line");
  replay->add_flag("--quiet,-q", ra.quiet, "no progress on stderr");
  replay->add_flag("--verify", ra.verify,
                   "check every artifact, validation and vault record event against the evidence ledger: recorded, unchanged, "
                   "and proved by an inclusion proof against the latest signed head (exit 1 otherwise)");
  replay->add_option("--public-key", ra.public_key, "for --verify: the ledger's public key (PEM); default: the data dir's signing key");

  // Each feature's own subcommands (mission, query, tenant, ...).
  std::vector<nf::feature::feature::command> feature_commands;
  // Every feature's read models, for the commands that check, describe or rebuild them.
  const auto read_models = [&features] {
    std::vector<nf::projection::projection*> all;
    for (const auto& f : features)
      for (auto* p : f->projections()) all.push_back(p);
    return all;
  };
  const nf::feature::command_context command_ctx{config_path, load_config, read_models};
  for (auto& f : features)
    for (auto& c : f->add_commands(app, command_ctx)) feature_commands.push_back(std::move(c));

  nf::cli::doctor_args da;
  auto* doctor = app.add_subcommand(
      "doctor", "check a stopped node's data: checksums of every table file and WAL record of the bus, offsets, read models "
                "against the bus's end offsets, the evidence ledger and every vault blob; exit 1 when something is wrong");
  doctor->add_option("--config,-c", config_path, "configuration file (JSON)")->capture_default_str();
  doctor->add_flag("--repair", da.repair,
                   "recover a damaged bus to its last consistent point (reports every offset lost) and rebuild read models "
                   "that are ahead of it");
  doctor->add_flag("--json", da.json, "one JSON report");

  nf::cli::projections_args proj_args;
  auto* projections_cmd = app.add_subcommand(
      "projections", "every read model: generation, applied positions, lag in events and ms, rebuild state; --digest adds each "
                     "state's SHA-256 (through --server, or on a stopped data dir)");
  projections_cmd->add_option("--config,-c", config_path, "configuration file (JSON)")->capture_default_str();
  projections_cmd->add_option("--server", proj_args.server, "a running server, http://HOST:PORT");
  projections_cmd->add_option("--key", proj_args.key, "API key with --server (default: $NF_API_KEY)");
  projections_cmd->add_flag("--digest", proj_args.digest, "compute each digest (reads the whole state)");
  projections_cmd->add_flag("--json", proj_args.json, "JSON output");
  projections_cmd->add_flag("--quiet,-q", proj_args.quiet, "no progress on stderr while digests are computed");
  auto* rebuild_cmd = app.add_subcommand(
      "rebuild", "rebuild a read model from the log into a new generation and swap it in (online through --server: queries keep "
                 "using the old one until the swap); progress on stderr; reports both digests");
  rebuild_cmd->add_option("name", proj_args.name, "the projection (see `projections`)");
  rebuild_cmd->add_flag("--all", proj_args.all, "every projection, one after the other");
  rebuild_cmd->add_option("--config,-c", config_path, "configuration file (JSON)")->capture_default_str();
  rebuild_cmd->add_option("--server", proj_args.server, "a running server, http://HOST:PORT");
  rebuild_cmd->add_option("--key", proj_args.key, "API key with --server (default: $NF_API_KEY)");
  rebuild_cmd->add_flag("--json", proj_args.json, "a JSON report: generations, events, seconds, old and new digest");
  rebuild_cmd->add_flag("--quiet,-q", proj_args.quiet, "no progress on stderr");

  nf::cli::backup_args bargs;
  std::string backup_id;
  auto* backup_cmd = app.add_subcommand("backup", "consistent point-in-time backups of a data dir (bus, read models, vault, keys)");
  backup_cmd->require_subcommand(1);
  auto* bcreate = backup_cmd->add_subcommand(
      "create", "back up into DIR (a second backup into the same DIR copies only what is new); --server backs up a running server");
  bcreate->add_option("dir", bargs.dir, "the backup directory (made if missing)")->required();
  bcreate->add_option("--config,-c", config_path, "configuration file (JSON) of a stopped instance")->capture_default_str();
  bcreate->add_option("--server", bargs.server, "a running server, http://HOST:PORT (DIR is then on its machine)");
  bcreate->add_option("--key", bargs.key, "API key with --server (default: $NF_API_KEY)");
  bcreate->add_flag("--json", bargs.json, "print the manifest as JSON");
  bcreate->add_flag("--quiet,-q", bargs.quiet, "no progress on stderr");
  auto* blist = backup_cmd->add_subcommand("list", "the finished backups in DIR");
  blist->add_option("dir", bargs.dir, "the backup directory")->required();
  blist->add_flag("--json", bargs.json, "the manifests as JSON");
  auto* bverify = backup_cmd->add_subcommand("verify", "re-read every file of a backup against its checksum (exit 1 naming each damaged one)");
  bverify->add_option("dir", bargs.dir, "the backup directory")->required();
  bverify->add_option("id", backup_id, "the backup (default: the latest)");
  bverify->add_flag("--json", bargs.json, "JSON report");
  bverify->add_flag("--quiet,-q", bargs.quiet, "no progress on stderr");
  auto* restore_cmd = app.add_subcommand("restore", "restore a backup into an empty data dir (the server must be stopped)");
  restore_cmd->add_option("dir", bargs.dir, "the backup directory")->required();
  restore_cmd->add_option("id", backup_id, "the backup (default: the latest)");
  restore_cmd->add_option("--data-dir", bargs.data_dir, "the data directory to restore into (missing or empty)")->required();
  restore_cmd->add_flag("--force", bargs.force, "replace what a stopped instance's data dir holds");
  restore_cmd->add_flag("--json", bargs.json, "JSON report");
  restore_cmd->add_flag("--quiet,-q", bargs.quiet, "no progress on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  // Every command validates and renders events by their declared types.
  nf::actor::register_events(nf::event::type_registry::global());
  for (const auto& f : features) f->register_events(nf::event::type_registry::global());

  try {
    if (*version) {
      if (as_json) std::cout << json{{"version", NF_VERSION}}.dump() << "\n";
      else std::cout << "nexus-forge " << NF_VERSION << "\n";
      return 0;
    }
    if (*serve) return cmd_serve(config_path, listen, as_json);
    if (*tlist && !tra.server.empty()) {
      tra.json = as_json;
      return nf::producing::topics_list_remote(tra);
    }
    if (*tlist) return cmd_topics_list(config_path, as_json);
    if (*tcreate && !tra.server.empty()) {
      tra.json = as_json;
      tra.name = tname;
      tra.partitions = tparts;
      tra.retention_ms = tret_ms;
      return nf::producing::topics_create_remote(tra);
    }
    if (*tcreate) return cmd_topics_create(config_path, tname, tparts, tret_ms, tret_bytes, as_json);
    if (*produce && !pra.server.empty()) {
      pra.topic = pa.topic;
      pra.type = pa.type;
      pra.event_key = pa.key;
      auto payload = payload_text(pa.payload.empty() ? "{}" : pa.payload);
      if (!payload) return fail(payload.error());
      pra.payload = *payload;
      return nf::producing::produce_remote(pra);
    }
    if (*produce) {
      if (pa.key.empty() || pa.type.empty() || pa.payload.empty()) {
        std::cerr << "error: produce needs --key, --type and --json (or --server with --file)\n";
        return 2;
      }
      pa.config = config_path;
      return cmd_produce(pa);
    }
    if (*consume) {
      ca.config = config_path;
      return cmd_consume(ca);
    }
    if (*mock) return cmd_kafka_mock(mock_config, brokers, mock_topics, as_json);
    for (const auto& c : feature_commands)
      if (*c.sub) return c.run();
    if (*cluster_status) return nf::cli::cluster_status(csa);
    if (*sub) {
      sa.config = config_path;
      return nf::cli::subscribe(sa);
    }
    const auto all = read_models();
    if (*projections_cmd || *rebuild_cmd) {
      std::optional<nf::config::config> cfg;
      if (proj_args.server.empty()) {
        auto loaded = load_config(config_path);
        if (!loaded) return fail(loaded.error());
        cfg = std::move(*loaded);
      }
      const nf::config::config* c = cfg ? &*cfg : nullptr;
      return *projections_cmd ? nf::cli::projections(proj_args, c, all) : nf::cli::rebuild(proj_args, c, all);
    }
    if (*backup_cmd || *restore_cmd) {
      if (!backup_id.empty()) {
        auto id = nf::parse_number<std::uint32_t>(backup_id, "the backup id", 1);
        if (!id) return fail(id.error());
        bargs.id = *id;
      }
      if (*blist) return nf::cli::backup_list(bargs);
      if (*bverify) return nf::cli::backup_verify(bargs);
      if (*restore_cmd) return nf::cli::backup_restore(bargs);
      std::optional<nf::config::config> cfg;
      if (bargs.server.empty()) {
        auto loaded = load_config(config_path);
        if (!loaded) return fail(loaded.error());
        cfg = std::move(*loaded);
      }
      return nf::cli::backup_create(bargs, cfg ? &*cfg : nullptr);
    }
    if (*doctor) {
      auto cfg = load_config(config_path);
      if (!cfg) return fail(cfg.error());
      return nf::cli::doctor(da, *cfg, all);
    }
    if (*replay) {
      ra.config = config_path;
      auto cfg = load_config(config_path);
      if (!cfg) return fail(cfg.error());
      return nf::cli::replay(ra, *cfg);
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
