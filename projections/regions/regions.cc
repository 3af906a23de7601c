#include "projections/regions/regions.h"

#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "core/event/codec.h"
#include "core/projection/rejected.h"
#include "regions.pb.h"

namespace nf::regions {

namespace {


std::string pad(std::int64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(v));
  return buf;
}

std::string part_prefix(const std::string& region, const topic_partition& tp) {
  return region + "/" + tp.topic.get() + "/" + pad(tp.partition.get(), 5);
}

std::string hex(const std::string& bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

// Offsets and counts above this are no log's (and would overflow the run arithmetic).
constexpr std::int64_t kMaxOffset = std::int64_t{1} << 62;

// "<a> <b> [<c>]": up to three numbers from 0 to kMaxOffset.
bool parse_numbers(std::string_view s, std::int64_t* out, int n) {
  for (int i = 0; i < n; ++i) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out[i]);
    if (ec != std::errc{} || out[i] < 0 || out[i] > kMaxOffset) return false;
    s.remove_prefix(static_cast<std::size_t>(p - s.data()));
  }
  return s.empty();
}

}  // namespace

result<void> regions_projection::apply(const bus::message& m, ::nf::projection::state_writer& w) {
  if (m.topic.get() == kHeartbeatsTopic) {
    auto env = event::from_message(m);
    if (!env) return ::nf::projection::keep_rejected(w, "regions", "x/", m, "", "", env.error().message);
    events::RegionHeartbeat hb;
    if (env->type() != kHeartbeat || !env->payload().UnpackTo(&hb) || hb.region().empty())
      return ::nf::projection::keep_rejected(w, "regions", "x/", m, env->type(), "", "not a region.heartbeat with a region");
    // Heartbeats can arrive out of order over two paths: the latest stands.
    if (auto prev = w.get("h/" + hb.region()); prev && *prev) {
      auto p = nlohmann::json::parse(**prev, nullptr, false);
      if (p.is_object() && p.value("at", std::int64_t{0}) > env->occurred_at()) return ok();
    }
    nlohmann::json doc{{"region", hb.region()}, {"instance", hb.instance()}, {"load", hb.load()}, {"lagMs", hb.lag_ms()},
                       {"lagEvents", hb.lag_events()}, {"version", hb.version()}, {"links", hb.links()}, {"at", env->occurred_at()}};
    if (hb.tree_size() > 0 && hb.tree_root().size() == 32) doc["treeHead"] = {{"size", hb.tree_size()}, {"root", hex(hb.tree_root())}};
    return w.put("h/" + hb.region(), doc.dump());
  }
  if (m.topic.get() == kLagTopic) {
    auto env = event::from_message(m);
    if (!env) return ::nf::projection::keep_rejected(w, "regions", "x/", m, "", "", env.error().message);
    events::ReplicationLag lag;
    if (env->type() != kReplicationLag || !env->payload().UnpackTo(&lag) || lag.from().empty() || lag.to().empty())
      return ::nf::projection::keep_rejected(w, "regions", "x/", m, env->type(), "", "not a region.replication_lag with from and to");
    const std::string key = "lg/" + lag.from() + "/" + lag.to();
    if (auto prev = w.get(key); prev && *prev) {
      auto p = nlohmann::json::parse(**prev, nullptr, false);
      if (p.is_object() && p.value("at", std::int64_t{0}) > env->occurred_at()) return ok();
    }
    nlohmann::json parts = nlohmann::json::array();
    for (const auto& p : lag.partitions())
      parts.push_back({{"topic", p.topic()}, {"partition", p.partition()}, {"next", p.next()}, {"sourceEnd", p.source_end()}, {"lagEvents", p.lag_events()},
                       {"lagMs", p.lag_ms()}});
    const nlohmann::json doc{{"from", lag.from()}, {"to", lag.to()}, {"state", lag.state()}, {"lagEvents", lag.lag_events()}, {"lagMs", lag.lag_ms()},
                             {"partitions", parts}, {"at", env->occurred_at()}};
    return w.put(key, doc.dump());
  }
  if (m.topic.get() == kControlTopic) {
    auto env = event::from_message(m);
    if (!env) return ::nf::projection::keep_rejected(w, "regions", "x/", m, "", "", env.error().message);
    if (env->type() == kRecovered) {
      events::RegionRecovered r;
      if (!env->payload().UnpackTo(&r) || r.region().empty() || r.from().empty())
        return ::nf::projection::keep_rejected(w, "regions", "x/", m, env->type(), "", "not a region.recovered with a region and a peer");
      const nlohmann::json doc{{"region", r.region()}, {"from", r.from()},           {"by", r.by()},
                               {"partitions", r.partitions_size()}, {"keptAside", r.kept_aside()}, {"diverged", r.diverged()},
                               {"at", env->occurred_at()}};
      return w.put("rc/" + r.region(), doc.dump());
    }
    events::RegionPromoted p;
    if (env->type() != kPromoted || !env->payload().UnpackTo(&p) || p.region().empty() || p.epoch() <= 0)
      return ::nf::projection::keep_rejected(w, "regions", "x/", m, env->type(), "", "not a region.promoted with a region and an epoch");
    // Epochs only grow: a promotion at an epoch already taken (a race) is kept aside, not folded.
    if (auto cur = w.get("pr/current"); cur && *cur) {
      auto c = nlohmann::json::parse(**cur, nullptr, false);
      if (c.is_object() && c.value("epoch", std::int64_t{0}) >= p.epoch())
        return ::nf::projection::keep_rejected(w, "regions", "x/", m, env->type(), "",
                                               "epoch " + std::to_string(p.epoch()) + " was taken already (by " + c.value("region", "") + ")");
    }
    nlohmann::json proof = nlohmann::json::array();
    for (const auto& h : p.proof()) proof.push_back(hex(h));
    const nlohmann::json doc{{"region", p.region()}, {"replaced", p.replaced()}, {"epoch", p.epoch()}, {"sourceTreeSize", p.source_tree_size()},
                             {"sourceRoot", hex(p.source_root())}, {"headFrom", p.head_from()}, {"treeSize", p.tree_size()}, {"root", hex(p.root())},
                             {"proof", proof}, {"by", p.by()}, {"at", env->occurred_at()}};
    return w.put("pr/current", doc.dump());
  }
  const std::string* h = m.find_header(event::kMirrorHeader);
  if (!h) return ok();  // the region's own event
  const auto sp = h->rfind(' ');
  std::int64_t source = -1;
  if (sp == std::string::npos || sp == 0 || !parse_numbers(std::string_view(*h).substr(sp + 1), &source, 1))
    return ok();  // not a header a link wrote; the record itself is the region's data, untouched
  const std::string region = h->substr(0, sp);
  const topic_partition tp{m.topic, m.partition};
  const std::string last_key = "l/" + part_prefix(region, tp);
  NF_TRY_ASSIGN(auto last, w.get(last_key));
  std::int64_t run[3] = {0, 0, 0};
  const bool has_last = last && parse_numbers(*last, run, 3);
  // A source offset at or before the map's end was mapped already (the first copy stands).
  if (has_last && source < run[0] + run[2]) return ok();
  if (has_last && source == run[0] + run[2] && m.off.get() == run[1] + run[2]) {
    ++run[2];
  } else {
    run[0] = source;
    run[1] = m.off.get();
    run[2] = 1;
  }
  NF_TRY(w.put("m/" + part_prefix(region, tp) + "/" + pad(run[0], 20), std::to_string(run[1]) + " " + std::to_string(run[2])));
  return w.put(last_key, std::to_string(run[0]) + " " + std::to_string(run[1]) + " " + std::to_string(run[2]));
}

result<std::optional<offset_run>> regions_view::run_at(const std::string& source_region, const topic_partition& tp, std::int64_t source) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  const std::string prefix = "m/" + part_prefix(source_region, tp) + "/";
  NF_TRY_ASSIGN(auto f, r->floor(prefix, prefix + pad(source, 20)));
  if (!f) return std::optional<offset_run>{};
  offset_run run;
  std::int64_t v[2];
  if (!parse_numbers(f->second, v, 2) || !parse_numbers(std::string_view(f->first).substr(prefix.size()), &run.source_start, 1))
    return error{errc::corruption, "regions read model: a bad run at " + f->first};
  run.target_start = v[0];
  run.count = v[1];
  return std::optional<offset_run>{run};
}

result<std::vector<std::optional<std::int64_t>>> regions_view::translate(const std::string& source_region,
                                                                         const std::vector<std::pair<topic_partition, std::int64_t>>& committed) const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  std::vector<std::optional<std::int64_t>> out;
  out.reserve(committed.size());
  for (const auto& [tp, next] : committed) {
    // The last record the group had read is next - 1: the run holding it (or the last before it).
    if (next <= 0) {
      out.emplace_back();
      continue;
    }
    const std::string prefix = "m/" + part_prefix(source_region, tp) + "/";
    NF_TRY_ASSIGN(auto f, r->floor(prefix, prefix + pad(next - 1, 20)));
    if (!f) {
      out.emplace_back();
      continue;
    }
    std::int64_t start = 0, v[2];
    if (!parse_numbers(f->second, v, 2) || !parse_numbers(std::string_view(f->first).substr(prefix.size()), &start, 1))
      return error{errc::corruption, "regions read model: a bad run at " + f->first};
    const std::int64_t read_in_run = std::min(next - 1 - start + 1, v[1]);  // records of the run at or before next - 1
    out.emplace_back(v[0] + read_in_run);
  }
  return out;
}

namespace {
// Every document under `prefix`, by the rest of its key.
result<std::map<std::string, std::string>> scan_docs(::nf::projection::store& store, const regions_projection& proj, const std::string& prefix) {
  NF_TRY_ASSIGN(auto r, store.reader(proj));
  std::map<std::string, std::string> out;
  NF_TRY(r->scan(prefix, [&](std::string_view k, std::string_view v) {
    out[std::string(k.substr(prefix.size()))] = std::string(v);
    return true;
  }));
  return out;
}
}  // namespace

result<std::map<std::string, std::string>> regions_view::heartbeats() const { return scan_docs(store_, proj_, "h/"); }
result<std::map<std::string, std::string>> regions_view::replication() const { return scan_docs(store_, proj_, "lg/"); }
result<std::map<std::string, std::string>> regions_view::recoveries() const { return scan_docs(store_, proj_, "rc/"); }

result<std::optional<std::string>> regions_view::primary() const {
  NF_TRY_ASSIGN(auto r, store_.reader(proj_));
  return r->get("pr/current");
}

}  // namespace nf::regions
