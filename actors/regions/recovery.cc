#include "actors/regions/recovery.h"

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "actors/regions/replicator.h"
#include "actors/regions/settings.h"
#include "core/bus/factory.h"
#include "core/event/codec.h"
#include "core/http/client.h"
#include "projections/regions/regions.h"
#include "regions.pb.h"

namespace nf::regions {

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::size_t kListedDiverged = 1000;  // events named in the report (all are counted and kept)

std::string utc_stamp() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// One event of the region that its peer never got, whole.
using diverged_event = events::DivergedRecord;

// failback: the region's own events above the peer's origin watermark for it, per partition.
result<std::vector<diverged_event>> find_diverged(bus::event_bus& old_log, bus::event_bus& peer, const std::string& region,
                                                  const std::vector<std::string>& mirrored) {
  NF_TRY_ASSIGN(auto recovered, last_recovery(old_log, region));
  const recovery_info* rec = recovered ? &*recovered : nullptr;
  target_guard peer_marks(peer);
  NF_TRY_ASSIGN(auto topics, old_log.list_topics());
  std::vector<diverged_event> out;
  for (const auto& t : topics) {
    if (t.name.get() == kDivergedTopic || !bus::subscribed_by(mirrored, t.name.get())) continue;
    auto on_peer = peer.describe_topic(t.name);
    if (!on_peer && on_peer.error().code != errc::not_found) return std::move(on_peer).error();
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      const topic_partition tp{t.name, partition_id{p}};
      std::int64_t mark = -1;
      if (on_peer && p < on_peer->config.partitions) {
        NF_TRY_ASSIGN(mark, peer_marks.watermark(tp, region));
      }
      NF_TRY_ASSIGN(auto begin, old_log.begin_offset(tp));
      NF_TRY_ASSIGN(auto end, old_log.end_offset(tp));
      NF_TRY(read_partition(old_log, tp, begin.get(), end.get(), [&](const bus::message& m) {
        const auto origin = origin_of(m, region, rec);
        if (origin.region != region || origin.offset <= mark) return true;
        diverged_event d;
        d.set_topic(tp.topic.get());
        d.set_partition(tp.partition.get());
        d.set_offset(m.off.get());
        d.set_key(m.key);
        d.set_value(m.value);
        d.set_timestamp_ms(m.timestamp_ms);
        for (const auto& h : m.headers) {
          auto* x = d.add_headers();
          x->set_name(h.name);
          x->set_value(h.value);
        }
        if (const auto* id = m.find_header("nf-id")) d.set_id(*id);
        if (const auto* ty = m.find_header("nf-type")) d.set_type(*ty);
        out.push_back(std::move(d));
        return true;
      }));
    }
  }
  return out;
}

// feature::ensure_topics would also make the config's topics, before the copy makes them as the
// peer has them: only this one is made here.
result<void> ensure_single_partition_topic(bus::event_bus& b, const char* name) {
  auto made = b.create_topic(topic_name{name}, bus::topic_config{.partitions = 1});
  if (!made && made.error().code != errc::already_exists) return made;
  return ok();
}

// Each read model's digest in the peer: through its server, else from its stopped data directory.
result<std::map<std::string, std::string>> peer_digests(const config::config& peer_cfg, const recover_options& o,
                                                        const std::vector<projection::projection*>& read_models, std::string& from) {
  std::map<std::string, std::string> out;
  if (!o.peer_server.empty()) {
    std::string err;
    auto r = http::client::call(o.peer_server, http::verb::get, "/projections?digest=true", "", err, http::client::key_or_env(o.key));
    if (!r) return error{errc::unavailable, "the peer's server: " + err};
    if (r->status != 200) return error{errc::unavailable, "the peer's server answered " + std::to_string(r->status) + ": " + r->body.substr(0, 300)};
    auto j = json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j["projections"].is_array()) return error{errc::unavailable, "the peer's /projections answer is not the expected JSON"};
    const auto list = j["projections"];
    for (const auto& p : list) out[p.value("name", "")] = p.value("digest", "");
    from = o.peer_server;
    return out;
  }
  if (peer_cfg.bus.kind != config::bus_kind::embedded)
    return error{errc::unavailable, "the peer's read models are not on this machine: give --peer-server"};
  auto st = projection::store::open({peer_cfg.data_dir + "/projections", false});
  if (!st) return error{errc::unavailable, "the peer's read models (" + st.error().message + "): give --peer-server while its server runs"};
  for (auto* p : read_models) {
    NF_TRY((*st)->attach(*p));
    NF_TRY_ASSIGN(out[p->name()], (*st)->digest(*p));
  }
  from = peer_cfg.data_dir + "/projections";
  return out;
}

}  // namespace

result<json> recover_region(const config::config& cfg, const recover_options& o, const std::vector<projection::projection*>& read_models,
                            std::ostream& progress) {
  const std::string mode = o.failback ? "failback" : "recover";
  const std::string region = o.region.empty() ? cfg.region : o.region;
  if (o.from.empty()) return error{errc::invalid_argument, "--from names the peer region to rebuild from"};
  if (o.from == region) return error{errc::invalid_argument, "region " + region + " cannot be rebuilt from itself"};
  NF_TRY_ASSIGN(auto local_cfg, region_config(cfg, region));
  NF_TRY_ASSIGN(auto peer_cfg, region_config(cfg, o.from));
  if (local_cfg.bus.kind != config::bus_kind::embedded)
    return error{errc::invalid_argument, "region " + region + " is a Kafka cluster: " + mode +
                                             " rebuilds an embedded region (mirror into a Kafka region's new topics instead)"};
  if (peer_cfg.bus.kind == config::bus_kind::embedded && fs::weakly_canonical(peer_cfg.data_dir) == fs::weakly_canonical(local_cfg.data_dir))
    return error{errc::invalid_argument, "regions " + region + " and " + o.from + " are the same data directory"};

  const fs::path dir = local_cfg.data_dir;
  const fs::path marker = dir / "recovering.json";
  // The new log and read models are built in <data_dir>/recovering/ and moved into place once
  // complete: until then nothing opens them (a peer's link reading this region beside it would
  // otherwise open a log that another process is creating).
  const fs::path staging = dir / "recovering";
  auto stage_cfg = local_cfg;
  stage_cfg.data_dir = staging.string();
  json report{{"region", region}, {"from", o.from}, {"mode", mode}};
  const std::string stamp = utc_stamp();  // names what this run sets aside
  std::error_code ec;

  // An interrupted run from the same peer resumes; anything else starts from a fresh log.
  std::string aside;
  bool resumed = false;
  if (fs::exists(marker, ec)) {
    std::ifstream in(marker);
    const auto m = json::parse(in, nullptr, false);
    if (!m.is_object() || m.value("from", "") != o.from || m.value("mode", "") != mode)
      return error{errc::conflict, "an interrupted rebuild of region " + region + " (" + marker.string() + ": " + (m.is_object() ? m.dump() : "unreadable") +
                                       ") is not this one: run it again as it was, or remove that file to start over"};
    aside = m.value("keptAside", "");
    resumed = true;
  }

  std::unique_ptr<bus::event_bus> peer;
  auto open_peer = [&]() -> result<void> {
    auto opened = bus::open_bus(peer_cfg, peer_cfg.bus.kind == config::bus_kind::embedded ? bus::access::read_only : bus::access::owner);
    if (!opened) return error{opened.error().code, "region " + o.from + ": " + opened.error().message};
    peer = std::move(*opened);
    return ok();
  };
  std::vector<diverged_event> diverged;
  if (!resumed) {
    // The region's log is opened as its owner: refused while its server runs.
    const bool has_log = fs::exists(dir / "bus", ec);
    if (o.failback) {
      if (!has_log) return error{errc::not_found, "region " + region + " has no log at " + (dir / "bus").string() + " to fail back: use `region recover`"};
      auto old_log = bus::open_bus(local_cfg, bus::access::owner);
      if (!old_log)
        return error{old_log.error().code, "region " + region + "'s log: " + old_log.error().message +
                                               " (stop its server; a log that cannot be opened is rebuilt with `region recover`)"};
      NF_TRY(open_peer());
      if (!o.quiet) progress << "finding the events of " << region << " that " << o.from << " never got…\n";
      NF_TRY_ASSIGN(auto ms, mirror_settings_of(cfg));
      NF_TRY_ASSIGN(diverged, find_diverged(**old_log, *peer, region, ms.topics));
    } else if (has_log) {
      // A damaged log may not open at all; a running server must not lose it under its feet.
      auto old_log = bus::open_bus(local_cfg, bus::access::owner);
      if (!old_log && old_log.error().code == errc::locked)
        return error{errc::locked, "region " + region + "'s log is in use (" + old_log.error().message + "): stop its server first"};
    }
    if (!peer) NF_TRY(open_peer());
    if (has_log || fs::exists(dir / "projections", ec)) {
      aside = (dir / ("aside-" + stamp)).string();
      fs::create_directories(aside, ec);
      if (ec) return error{errc::io_error, "cannot create '" + aside + "': " + ec.message()};
      for (const char* sub : {"bus", "projections"}) {
        if (!fs::exists(dir / sub, ec)) continue;
        fs::rename(dir / sub, fs::path(aside) / sub, ec);
        if (ec) return error{errc::io_error, "cannot move '" + (dir / sub).string() + "' aside: " + ec.message()};
      }
    }
    fs::remove_all(staging, ec);  // left by a run stopped before it wrote the marker
    fs::create_directories(staging, ec);
    if (ec) return error{errc::io_error, "cannot create '" + staging.string() + "': " + ec.message()};
    std::ofstream out(marker);
    out << json{{"from", o.from}, {"mode", mode}, {"keptAside", aside}}.dump() << "\n";
    if (!out) return error{errc::io_error, "cannot write '" + marker.string() + "'"};
    // The events kept aside go in first, in the fresh log, before anything is copied.
  }
  if (!peer) NF_TRY(open_peer());
  if (resumed && fs::exists(dir / "bus", ec)) {
    // A server started on the region meanwhile must not have its log taken from under it.
    auto live = bus::open_bus(local_cfg, bus::access::owner);
    if (!live && live.error().code == errc::locked)
      return error{errc::locked, "region " + region + "'s log is in use (" + live.error().message + "): stop its server first"};
  }
  // A run stopped while moving the result into place (staging/moving says so) moves it back and
  // finishes. Anything else in the way was made meanwhile and is set aside at the end.
  const fs::path moving = staging / "moving";
  for (const char* sub : {"bus", "projections"})
    if (resumed && fs::exists(moving, ec) && !fs::exists(staging / sub, ec) && fs::exists(dir / sub, ec)) {
      fs::create_directories(staging, ec);
      fs::rename(dir / sub, staging / sub, ec);
      if (ec) return error{errc::io_error, "cannot move '" + (dir / sub).string() + "' back into '" + staging.string() + "': " + ec.message()};
    }
  report["keptAside"] = aside;
  report["resumed"] = resumed;

  NF_TRY_ASSIGN(auto local, bus::open_bus(stage_cfg, bus::access::owner));
  if (!diverged.empty()) {
    NF_TRY(ensure_single_partition_topic(*local, kDivergedTopic));
    std::vector<bus::record> recs;
    recs.reserve(diverged.size());
    for (const auto& d : diverged) {
      event::new_event ev;
      ev.type = kDiverged;
      ev.key = d.topic() + "/" + std::to_string(d.partition()) + "/" + std::to_string(d.offset());
      ev.region = region;
      ev.occurred_at = d.timestamp_ms();
      NF_TRY_ASSIGN(auto env, event::build(ev, d));
      recs.push_back(event::to_record(env));
    }
    NF_TRY(local->append(topic_name{kDivergedTopic}, std::span<const bus::record>(recs.data(), recs.size())));
  }

  // Everything the peer has, its copies of this region's own events included.
  target_guard guard(*local);
  link_options lo{o.from, region, {"*", std::string("!") + kDivergedTopic}, o.batch, true};
  replicator rep(*peer, guard, lo);
  NF_TRY(rep.prepare());
  // Up to the peer's ends as they are now: a live peer keeps writing, and what it writes next is
  // the links' work.
  std::map<topic_partition, std::int64_t> goal;
  {
    NF_TRY_ASSIGN(auto at_start, rep.lag());
    for (const auto& p : at_start) goal[p.tp] = p.source_end;
  }
  const auto started = std::chrono::steady_clock::now();
  auto last_report = started;
  std::int64_t read = 0;
  std::vector<partition_state> parts;
  for (;;) {
    NF_TRY_ASSIGN(auto n, rep.step(200ms));
    read += static_cast<std::int64_t>(n);
    const auto now = std::chrono::steady_clock::now();
    if (n > 0 && now - last_report < 1s) continue;
    NF_TRY_ASSIGN(parts, rep.lag());
    std::int64_t copied = 0, lag = 0;
    for (const auto& p : parts) {
      copied += p.copied;
      lag += std::max<std::int64_t>(0, goal[p.tp] - p.next);
    }
    if (!o.quiet) {
      const double secs = std::chrono::duration<double>(now - started).count();
      progress << "\r" << mode << " " << region << " from " << o.from << ": " << copied << " events copied, " << lag << " to go ("
               << static_cast<std::int64_t>(secs > 0 ? static_cast<double>(read) / secs : 0) << "/s)   " << std::flush;
    }
    last_report = now;
    if (lag == 0) break;
  }
  if (!o.quiet) progress << "\n";

  // Where the rebuilt log ends, and the shift that keeps this region's own new events above every
  // origin offset it had before.
  events::RegionRecovered rr;
  rr.set_region(region);
  rr.set_from(o.from);
  rr.set_kept_aside(aside);
  rr.set_diverged(static_cast<std::int64_t>(diverged.size()));
  rr.set_by(mode);
  // One read of the rebuilt log, which a resumed run also copied into before: how many of its
  // events are this region's own, and per partition the greatest origin offset among them (the
  // shift keeps the region's new events above it).
  std::int64_t copied = 0, own = 0;
  for (const auto& p : parts) {
    NF_TRY_ASSIGN(auto end, local->end_offset(p.tp));
    std::int64_t own_max = -1;
    NF_TRY(read_partition(*local, p.tp, 0, end.get(), [&](const bus::message& m) {
      const auto origin = origin_of(m, o.from, nullptr);
      if (origin.region == region) {
        ++own;
        own_max = std::max(own_max, origin.offset);
      }
      return true;
    }));
    auto* x = rr.add_partitions();
    x->set_topic(p.tp.topic.get());
    x->set_partition(p.tp.partition.get());
    x->set_end(end.get());
    x->set_peer_end(p.next);
    x->set_origin_shift(std::max<std::int64_t>(0, own_max + 1 - end.get()));
    copied += p.copied;
  }
  NF_TRY(ensure_single_partition_topic(*local, kControlTopic));
  event::new_event ev;
  ev.type = kRecovered;
  ev.key = "recovered/" + region;
  ev.region = region;
  ev.occurred_at = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  NF_TRY_ASSIGN(auto env, event::build(ev, rr));
  const auto rec = event::to_record(env);
  NF_TRY(local->append(topic_name{kControlTopic}, std::span<const bus::record>(&rec, 1)));
  report["copied"] = copied;
  report["ownEventsRecovered"] = own;
  report["partitions"] = rr.partitions_size();
  json listed = json::array();
  for (std::size_t i = 0; i < diverged.size() && i < kListedDiverged; ++i) {
    const auto& d = diverged[i];
    listed.push_back({{"topic", d.topic()}, {"partition", d.partition()}, {"offset", d.offset()}, {"id", d.id()}, {"type", d.type()}});
  }
  report["diverged"] = {{"count", diverged.size()}, {"topic", kDivergedTopic}, {"events", listed}};

  // Every read model, rebuilt from the new log.
  NF_TRY_ASSIGN(auto store, projection::store::open({(staging / "projections").string(), false}));
  json models = json::array();
  std::map<std::string, std::string> mine;
  for (auto* p : read_models) {
    NF_TRY(store->attach(*p));
    auto last = std::chrono::steady_clock::time_point{};
    auto n = store->rebuild(*p, *local, [&](const projection::rebuild_progress& pr) {
      const auto now = std::chrono::steady_clock::now();
      if (o.quiet || (now - last < 200ms && pr.applied < pr.total)) return;
      last = now;
      progress << "\rrebuilding " << p->name() << ": " << pr.applied << "/" << pr.total << " events   " << std::flush;
    });
    if (!o.quiet) progress << "\n";
    if (!n && n.error().code == errc::not_found) {
      // The peer lacks a topic the read model reads (a peer that never ran this feature): it is
      // folded when the region's server starts and creates the topic; the digest says so.
      models.push_back({{"name", p->name()}, {"events", 0}, {"notRebuilt", n.error().message}});
      continue;
    }
    if (!n) return std::move(n).error();
    NF_TRY_ASSIGN(mine[p->name()], store->digest(*p));
    models.push_back({{"name", p->name()}, {"events", *n}, {"digest", mine[p->name()]}});
  }
  store.reset();
  local.reset();
  std::ofstream(moving) << "moving into place\n";
  for (const char* sub : {"bus", "projections"}) {
    if (fs::exists(dir / sub, ec)) {
      // Made meanwhile (a server started on the region during an interrupted run): kept aside too.
      const auto kept = fs::path(aside.empty() ? (dir / ("aside-" + stamp)).string() : aside) / (std::string(sub) + "-meanwhile-" + stamp);
      fs::create_directories(kept.parent_path(), ec);
      fs::rename(dir / sub, kept, ec);
      if (ec) return error{errc::io_error, "cannot move '" + (dir / sub).string() + "' aside: " + ec.message()};
    }
    fs::rename(staging / sub, dir / sub, ec);
    if (ec) return error{errc::io_error, "cannot move '" + (staging / sub).string() + "' into place: " + ec.message() + " (run the command again)"};
  }
  fs::remove_all(staging, ec);

  // The peer's digests. The regions read model maps which records a region copied from where, so
  // it differs between two regions by nature and is not compared.
  std::string digests_from;
  auto theirs = peer_digests(peer_cfg, o, read_models, digests_from);
  bool all_equal = true;
  if (theirs) {
    for (auto& m : models) {
      const auto name = m.value("name", "");
      if (name == "regions") continue;
      auto it = theirs->find(name);
      m["peerDigest"] = it == theirs->end() ? json(nullptr) : json(it->second);
      m["equal"] = it != theirs->end() && m.contains("digest") && it->second == m.value("digest", "");
      all_equal = all_equal && m["equal"].get<bool>();
    }
    report["peerDigestsFrom"] = digests_from;
  } else {
    report["peerDigestsError"] = theirs.error().message;
  }
  report["projections"] = models;
  report["digestsCompared"] = theirs.has_value();
  report["allEqual"] = theirs.has_value() && all_equal;
  fs::remove(marker, ec);
  return report;
}

}  // namespace nf::regions
