#include "actors/regions/commands.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actors/regions/recovery.h"
#include "actors/regions/replicator.h"
#include "actors/regions/settings.h"
#include "core/base/text.h"
#include "core/bus/factory.h"
#include "core/http/client.h"

namespace nf::regions {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

int fail(const std::string& message, int rc = 1) {
  std::cerr << "error: " << message << "\n";
  return rc;
}

std::vector<std::string> topic_list(const std::string& csv) {
  std::vector<std::string> out;
  for (auto part : split(csv, ',')) {
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

struct opened {
  std::unique_ptr<bus::event_bus> source, target;
};

// The source is read beside its server when it runs (read-only); the target is written.
result<opened> open_pair(const config::config& cfg, const cli_args& a) {
  if (a.from.empty() || a.to.empty()) return error{errc::invalid_argument, "--from and --to name two regions of the configuration"};
  if (a.from == a.to) return error{errc::invalid_argument, "a link from region " + a.from + " to itself copies nothing"};
  NF_TRY_ASSIGN(auto from, region_config(cfg, a.from));
  NF_TRY_ASSIGN(auto to, region_config(cfg, a.to));
  if (from.bus.kind == config::bus_kind::embedded && to.bus.kind == config::bus_kind::embedded && from.data_dir == to.data_dir)
    return error{errc::invalid_argument, "regions " + a.from + " and " + a.to + " are the same data directory '" + from.data_dir + "'"};
  opened o;
  auto src = bus::open_bus(from, bus::access::read_only);
  if (!src) return error{src.error().code, "region " + a.from + ": " + src.error().message};
  o.source = std::move(*src);
  auto dst = bus::open_bus(to, bus::access::owner);
  if (!dst) return error{dst.error().code, "region " + a.to + ": " + dst.error().message};
  o.target = std::move(*dst);
  return o;
}

json lag_json(const std::vector<partition_state>& parts) {
  json out = json::array();
  for (const auto& p : parts)
    out.push_back({{"topic", p.tp.topic.get()}, {"partition", p.tp.partition.get()}, {"next", p.next}, {"sourceEnd", p.source_end},
                   {"lagEvents", p.lag_events()}, {"copied", p.copied}, {"skippedLoop", p.skipped_loop}, {"skippedSeen", p.skipped_seen}, {"skippedFence", p.skipped_fence}});
  return out;
}

int mirror(const config::config& cfg, const cli_args& a) {
  if (a.batch < 1 || a.batch > 100'000) return fail("--batch must be from 1 to 100000", 2);
  auto pair = open_pair(cfg, a);
  if (!pair) return fail(pair.error().message, 2);
  target_guard guard(*pair->target);
  replicator r(*pair->source, guard, link_options{a.from, a.to, topic_list(a.topics), static_cast<std::size_t>(a.batch)});
  if (auto p = r.prepare(); !p) return fail(p.error().message, 2);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  const auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  auto last_refresh = started;
  std::int64_t read = 0;
  std::vector<partition_state> parts;
  auto report = [&](bool final_line) {
    std::int64_t copied = 0, lag = 0;
    for (const auto& p : parts) {
      copied += p.copied;
      lag += p.lag_events();
    }
    if (a.quiet) return;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << "\rmirror " << a.from << " -> " << a.to << ": " << copied << " copied, " << read - copied << " skipped, lag " << lag << " events ("
              << static_cast<std::int64_t>(secs > 0 ? static_cast<double>(read) / secs : 0) << " read/s)   " << (final_line ? "\n" : "") << std::flush;
  };
  while (!g_stop.load()) {
    auto n = r.step(200ms);
    if (!n) return fail(n.error().message);
    read += static_cast<std::int64_t>(*n);
    const auto now = std::chrono::steady_clock::now();
    const bool idle = *n == 0;
    if (idle || now - last_report > 1s) {
      auto l = r.lag();
      if (!l) return fail(l.error().message);
      parts = std::move(*l);
      report(false);
      last_report = now;
      if (a.once && idle) {
        bool caught_up = true;
        for (const auto& p : parts) caught_up = caught_up && p.lag_events() == 0;
        if (caught_up) break;
      }
    }
    if (now - last_refresh > 5s) {
      if (auto t = r.refresh_topics(); !t) return fail(t.error().message);
      last_refresh = now;
    }
  }
  auto l = r.lag();
  if (!l) return fail(l.error().message);
  parts = std::move(*l);
  report(true);
  if (a.json) {
    std::int64_t copied = 0, loop = 0, seen = 0;
    for (const auto& p : parts) {
      copied += p.copied;
      loop += p.skipped_loop;
      seen += p.skipped_seen;
    }
    std::cout << json{{"from", a.from}, {"to", a.to}, {"copied", copied}, {"skippedLoop", loop}, {"skippedSeen", seen}, {"partitions", lag_json(parts)}}.dump() << "\n";
  }
  return 0;
}

int translate_cmd(const config::config& cfg, const cli_args& a) {
  auto pair = open_pair(cfg, a);
  if (!pair) return fail(pair.error().message, 2);
  auto t = translate(*pair->source, *pair->target, a.group, a.from, topic_list(a.topics));
  if (!t) return fail(t.error().message, 2);
  if (a.apply && !t->empty()) {
    bus::consumer_options co;
    co.group = a.group;
    auto c = pair->target->make_consumer(co);
    if (!c) return fail(c.error().message);
    std::vector<std::pair<topic_partition, offset>> at;
    for (const auto& x : *t) at.emplace_back(x.tp, offset{x.target});
    if (auto r = (*c)->commit(at); !r) return fail("committing group " + a.group + " in region " + a.to + ": " + r.error().message);
  }
  if (a.json) {
    json out = json::array();
    for (const auto& x : *t) out.push_back({{"topic", x.tp.topic.get()}, {"partition", x.tp.partition.get()}, {"source", x.source}, {"target", x.target}});
    std::cout << json{{"group", a.group}, {"from", a.from}, {"to", a.to}, {"applied", a.apply}, {"partitions", out}}.dump() << "\n";
    return 0;
  }
  if (t->empty()) std::cout << "group " << a.group << " has committed nothing in region " << a.from << " on these topics\n";
  for (const auto& x : *t) std::cout << to_string(x.tp) << "\t" << a.from << " " << x.source << "\t-> " << a.to << " " << x.target << "\n";
  if (a.apply) std::cout << "committed for group " << a.group << " in region " << a.to << "\n";
  return 0;
}

int failover_cmd(const cli_args& a) {
  if (a.to.empty() || a.from.empty()) return fail("--to (the region to promote) and --from (the region it replaces) are required", 2);
  if (!http::client::parse_server(a.server)) return fail("--server must look like http://HOST:PORT (the server of region " + a.to + ")", 2);
  std::string err;
  auto r = http::client::call(a.server, http::verb::post, "/regions/failover", json{{"from", a.from}}.dump(), err, http::client::key_or_env(a.key));
  if (!r) return fail(err);
  if (r->status != 200) return http::client::api_error(*r);
  const auto doc = json::parse(r->body, nullptr, false);
  if (!doc.is_object()) return fail("the server's answer is not JSON");
  if (doc.value("region", "") != a.to)
    return fail("the server at " + a.server + " is region " + doc.value("region", "") + ", not " + a.to + "; it was promoted anyway (epoch " +
                std::to_string(doc.value("epoch", std::int64_t{0})) + ")");
  if (a.json) {
    std::cout << doc.dump() << "\n";
    return 0;
  }
  std::cout << "region " << a.to << " is the primary at epoch " << doc.value("epoch", std::int64_t{0}) << ", replacing " << a.from << "\n"
            << "its ledger (" << doc.value("treeSize", std::uint64_t{0}) << " leaves) extends the last head " << a.from << " signed ("
            << doc.value("sourceTreeSize", std::uint64_t{0}) << " leaves, read from its " << doc.value("headFrom", "") << ")\n";
  return 0;
}

int recover_cmd(const config::config& cfg, const cli_args& a, const std::vector<projection::projection*>& read_models, bool failback) {
  if (a.batch < 1 || a.batch > 100'000) return fail("--batch must be from 1 to 100000", 2);
  if (!a.peer_server.empty() && !http::client::parse_server(a.peer_server)) return fail("--peer-server must look like http://HOST:PORT", 2);
  recover_options o;
  o.region = a.region;
  o.from = a.from;
  o.peer_server = a.peer_server;
  o.key = a.key;
  o.batch = static_cast<std::size_t>(a.batch);
  o.failback = failback;
  o.quiet = a.quiet;
  auto r = recover_region(cfg, o, read_models, std::cerr);
  if (!r) return fail(r.error().message, r.error().code == errc::invalid_argument || r.error().code == errc::not_found ? 2 : 1);
  const auto& j = *r;
  const bool differ = j.value("digestsCompared", false) && !j.value("allEqual", false);
  if (a.json) {
    std::cout << j.dump() << "\n";
    return differ ? 3 : 0;
  }
  const auto region = j.value("region", "");
  std::cout << "region " << region << " rebuilt from " << a.from << ": " << j.value("copied", std::int64_t{0}) << " events copied ("
            << j.value("ownEventsRecovered", std::int64_t{0}) << " of them its own), " << j.value("partitions", 0) << " partitions\n";
  if (!j.value("keptAside", "").empty()) std::cout << "the previous log and read models are kept in " << j.value("keptAside", "") << "\n";
  if (failback) {
    const auto& d = j["diverged"];
    std::cout << d.value("count", std::int64_t{0}) << " events of " << region << " never reached " << a.from << "; kept on topic " << d.value("topic", "")
              << ", not applied\n";
    for (const auto& e : d["events"])
      std::cout << "  " << e.value("topic", "") << "/" << e.value("partition", 0) << "@" << e.value("offset", std::int64_t{0}) << "\t" << e.value("id", "")
                << "\t" << e.value("type", "") << "\n";
  }
  for (const auto& p : j["projections"]) {
    std::cout << "  " << p.value("name", "") << "\t" << p.value("events", std::uint64_t{0}) << " events\tdigest " << p.value("digest", "").substr(0, 16);
    if (p.contains("equal")) std::cout << (p.value("equal", false) ? "\tequals " : "\tDIFFERS from ") << a.from << "'s";
    std::cout << "\n";
  }
  if (!j.value("digestsCompared", false)) std::cout << "digests not compared: " << j.value("peerDigestsError", "") << "\n";
  if (failback) std::cout << "start region " << region << "'s server; `nexus-forge region failover --to " << region << " --from " << a.from
                          << " --server URL` makes it the primary again\n";
  return differ ? 3 : 0;
}

}  // namespace

void add_commands(CLI::App& app, cli_args& args, const feature::command_context& ctx, std::vector<feature::feature::command>& out) {
  args.config = ctx.default_config;
  auto* m = app.add_subcommand("mirror",
                               "copy topics from one region to another, exactly once, with ids, keys, partitions, timestamps and headers kept; "
                               "runs until SIGINT/SIGTERM, or with --once until caught up; progress on stderr");
  auto common = [&args](CLI::App* s) {
    s->add_option("--config,-c", args.config, "configuration file naming the regions (JSON)")->capture_default_str();
    s->add_option("--from", args.from, "the source region (required)");
    s->add_option("--to", args.to, "the target region (required)");
    s->add_option("--topics", args.topics, "topics or patterns, comma-separated")->capture_default_str();
    s->add_flag("--json", args.json, "JSON output");
  };
  common(m);
  m->add_option("--batch", args.batch, "records read per poll")->capture_default_str();
  m->add_flag("--once", args.once, "stop once every partition is caught up");
  m->add_flag("--quiet,-q", args.quiet, "no progress on stderr");
  auto* t = m->add_subcommand("translate",
                              "a consumer group's committed positions in the source region as positions in the target region, so a consumer "
                              "that fails over neither skips nor re-reads an event");
  common(t);
  t->add_option("--group", args.group, "the consumer group")->required();
  t->add_flag("--apply", args.apply, "commit the translated positions for the group in the target region");
  auto run = [&args, ctx](int (*fn)(const config::config&, const cli_args&)) {
    auto cfg = ctx.load_config(args.config);
    if (!cfg) return fail(cfg.error().message, 2);
    return fn(*cfg, args);
  };
  out.push_back({t, [run] { return run(translate_cmd); }});
  auto* region = app.add_subcommand("region", "a region's role: failover (through the server of the region to promote), recover, failback");
  region->require_subcommand(1);
  auto* fo = region->add_subcommand("failover",
                                    "promote the region --to in place of --from, once its ledger is proved (a consistency proof) to extend the last "
                                    "tree head --from signed; refused, naming the missing leaves, when it does not");
  fo->add_option("--to", args.to, "the region to promote (the server's own)")->required();
  fo->add_option("--from", args.from, "the region it replaces")->required();
  fo->add_option("--server", args.server, "the server of region --to, http://HOST:PORT")->required();
  fo->add_option("--key", args.key, "API key of the platform admin (default: $NF_API_KEY)");
  fo->add_flag("--json", args.json, "JSON output (the region.promoted document)");
  out.push_back({fo, [&args] { return failover_cmd(args); }});
  auto rebuild_from_peer = [&args, &out, ctx](CLI::App* r, bool failback) {
    r->add_option("--config,-c", args.config, "configuration file naming the regions (JSON)")->capture_default_str();
    r->add_option("--from", args.from, "the peer region to copy from")->required();
    r->add_option("--region", args.region, "the region to rebuild (default: the configuration's own)");
    r->add_option("--peer-server", args.peer_server, "the peer's server, http://HOST:PORT, to compare read model digests with");
    r->add_option("--key", args.key, "API key for --peer-server (default: $NF_API_KEY)");
    r->add_option("--batch", args.batch, "records read per poll")->capture_default_str();
    r->add_flag("--json", args.json, "JSON output (the report)");
    r->add_flag("--quiet,-q", args.quiet, "no progress on stderr");
    out.push_back({r, [&args, ctx, failback] {
                     auto cfg = ctx.load_config(args.config);
                     if (!cfg) return fail(cfg.error().message, 2);
                     return recover_cmd(*cfg, args, ctx.read_models ? ctx.read_models() : std::vector<projection::projection*>{}, failback);
                   }});
  };
  rebuild_from_peer(region->add_subcommand("recover",
                                           "rebuild this (stopped, embedded) region from a peer: its log and read models are moved aside, every "
                                           "topic of the peer is copied (its own events included), every read model is rebuilt with progress and "
                                           "its digest compared with the peer's (exit 3 when one differs); resumes when run again"),
                    false);
  rebuild_from_peer(region->add_subcommand("failback",
                                           "bring a former primary level from the region promoted in its place: its own events the peer never got "
                                           "are reported and kept on region.diverged (never applied), then it is rebuilt as by `region recover`"),
                    true);
  out.push_back({m, [run] { return run(mirror); }});
}

}  // namespace nf::regions
