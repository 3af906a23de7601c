#include "actors/regions/routes.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "actors/regions/ledger_check.h"
#include "core/event/codec.h"
#include "core/projection/projection.h"
#include "regions.pb.h"

namespace nf::regions {

namespace {
using json = nlohmann::json;
using http::status;
}  // namespace

void routes::add_to(http::route_table& t) {
  const http::response_doc err{"the error", http::schema::ref("Error")};
  t.add({.method = http::verb::get, .path = "/regions", .perm = perm::read,
         .summary = "The local region, the configured regions and the links this server runs, with their lag", .tag = "regions",
         .responses = {{200, {"regions and links", http::schema::object({{"region", http::schema::string()},
                                                                         {"regions", http::schema::array(json{{"type", "object"}})},
                                                                         {"links", http::schema::array(json{{"type", "object"}})}})}}},
         .handler = [this](const http::route_context& c) { return list(c); }});
  t.add({.method = http::verb::get, .path = "/regions/route", .perm = perm::read,
         .summary = "The healthy region a client should use: lowest estimated latency, with lag and load penalties", .tag = "regions",
         .params = {{"client", "a region's name, or LAT,LON in degrees", http::schema::string(), true}},
         .responses = {{200, {"the choice and every region ranked", http::schema::object({{"region", http::schema::string()},
                                                                                          {"ranked", http::schema::array(json{{"type", "object"}})}})}},
                       {400, err},
                       {404, err}},
         .handler = [this](const http::route_context& c) { return route_client(c); }});
  t.add({.method = http::verb::post, .path = "/regions/failover", .perm = perm::write,
         .summary = "Promote this region in place of another, once its ledger is proved to extend the last tree head the other signed",
         .tag = "regions", .body = http::schema::object({{"from", http::schema::string()}}, {"from"}),
         .responses = {{200, {"region.promoted: the new epoch and the ledger proof", http::schema::object({{"region", http::schema::string()},
                                                                                                            {"epoch", http::schema::integer()}})}},
                       {400, err},
                       {404, err},
                       {409, {"this region's ledger does not extend the other's last signed head (the missing leaves are named)", http::schema::ref("Error")}}},
         .handler = [this](const http::route_context& c) { return failover(c); }});
  t.add({.method = http::verb::get, .path = "/regions/translate", .perm = perm::read,
         .summary = "A consumer group's committed positions in another region as positions in this one (exact; for a failover)",
         .tag = "regions",
         .params = {{"group", "the consumer group", http::schema::string(), true},
                    {"from", "the region the group consumed in", http::schema::string(), true},
                    {"to", "this region (the default)", http::schema::string()}},
         .responses = {{200, {"the positions", http::schema::object({{"group", http::schema::string()}, {"partitions", http::schema::array(json{{"type", "object"}})}})}},
                       {400, err},
                       {404, err}},
         .handler = [this](const http::route_context& c) { return translate(c); }});
}

result<std::vector<region_state>> routes::health(std::map<std::string, json>* beats_out) {
  NF_TRY_ASSIGN(auto s, regions_settings_of(d_.cfg));
  NF_TRY_ASSIGN(auto beats, view_.heartbeats());
  std::vector<std::string> names{d_.cfg.region};
  auto add = [&](const std::string& n) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  };
  for (const auto& n : s.names) add(n);
  for (const auto& [n, b] : beats) add(n);
  const auto now = d_.clock.now_ms();
  std::vector<region_state> out;
  for (const auto& n : names) {
    region_state r;
    r.name = n;
    if (auto it = s.locations.find(n); it != s.locations.end()) r.where = it->second;
    if (auto it = beats.find(n); it != beats.end()) {
      auto b = json::parse(it->second, nullptr, false);
      if (b.is_object()) {
        r.up = now - b.value("at", std::int64_t{0}) <= d_.mirror.down_after_ms;
        r.load = b.value("load", 0.0);
        r.lag_ms = b.value("lagMs", std::int64_t{0});
        if (beats_out) (*beats_out)[n] = std::move(b);
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

http::response routes::list(const http::route_context& c) {
  std::map<std::string, json> beats;
  auto h = health(&beats);
  if (!h) return http::failure(h.error(), c.req);
  json regions = json::array();
  for (const auto& r : *h) {
    json one{{"name", r.name}, {"local", r.name == d_.cfg.region}, {"up", r.up}, {"load", r.load}, {"lagMs", r.lag_ms}};
    if (r.name == d_.cfg.region) {
      one["bus"] = config::to_string(d_.cfg.bus.kind);
    } else {
      auto rc = region_config(d_.cfg, r.name);
      one["bus"] = rc ? config::to_string(rc->bus.kind) : "unknown";
    }
    if (r.where) one["location"] = {{"lat", r.where->lat}, {"lon", r.where->lon}};
    if (auto it = beats.find(r.name); it != beats.end()) one["heartbeat"] = it->second;
    regions.push_back(std::move(one));
  }
  json links = json::array();
  for (const auto& l : d_.links) links.push_back(l->status());
  // Every link's latest region.replication_lag, this region's and those copied from others.
  auto rep = view_.replication();
  if (!rep) return http::failure(rep.error(), c.req);
  json replication = json::array();
  for (const auto& [k, v] : *rep) replication.push_back(json::parse(v, nullptr, false));
  auto primary = view_.primary();
  if (!primary) return http::failure(primary.error(), c.req);
  json out{{"region", d_.cfg.region}, {"regions", regions}, {"links", links}, {"replication", replication}};
  out["primary"] = *primary ? json::parse(**primary, nullptr, false) : json(nullptr);
  return http::json_response(status::ok, out, c.req);
}

http::response routes::route_client(const http::route_context& c) {
  const auto client = c.t.param("client");
  if (!client) return http::invalid_field("client", "is required: a region's name or LAT,LON", c.req);
  auto at = parse_client(*client);
  if (!at) return http::invalid_field("client", at.error().message.substr(at.error().message.find(':') + 2), c.req);
  auto h = health();
  if (!h) return http::failure(h.error(), c.req);
  auto d = route(*at, *h, d_.mirror.routing);
  if (!d) return http::error_response(status::not_found, "not_found", d.error().message, c.req, "client");
  json ranked = json::array();
  for (const auto& r : d->ranked)
    ranked.push_back({{"region", r.region}, {"costMs", r.cost_ms}, {"latencyMs", r.base_ms}, {"up", r.up}, {"overloaded", r.overloaded}, {"why", r.why}});
  json out{{"client", *client}, {"ranked", ranked}};
  out["region"] = d->region.empty() ? json(nullptr) : json(d->region);
  return http::json_response(status::ok, out, c.req);
}

http::response routes::failover(const http::route_context& c) {
  auto body = http::parse_body(c.req);
  if (!body) return http::bad_body(body.error(), c.req);
  if (!body->contains("from") || !(*body)["from"].is_string() || (*body)["from"].get<std::string>().empty())
    return http::invalid_field("from", "is required: the region this one replaces", c.req);
  for (const auto& [k, v] : body->items()) {
    (void)v;
    if (k != "from") return http::invalid_field(k, "is not a field of a failover (from)", c.req);
  }
  const auto from = (*body)["from"].get<std::string>();
  if (from == d_.cfg.region) return http::invalid_field("from", "is another region than this one (" + d_.cfg.region + ")", c.req);
  std::map<std::string, json> beats;
  auto known = health(&beats);
  if (!known) return http::failure(known.error(), c.req);
  if (std::none_of(known->begin(), known->end(), [&](const region_state& r) { return r.name == from; }))
    return http::error_response(status::not_found, "not_found", "no region '" + from + "' is configured or has been heard from", c.req, "from");
  // The last head `from` signed: from its own log when this server can read it, else from its
  // last heartbeat here (a region that is down says nothing newer).
  std::optional<tree_head_seen> head;
  std::string head_from;
  bool log_read = false;
  if (auto src = d_.bus_of(from)) {
    if (auto h = last_tree_head(**src)) {
      log_read = true;
      if (*h) {
        head = **h;
        head_from = "source log";
      }
    }
  }
  const auto beat = beats.find(from);
  if (!head && beat != beats.end() && beat->second.contains("treeHead")) {
    const auto& th = beat->second["treeHead"];
    if (auto root = merkle::from_hex(th.value("root", ""))) {
      head = tree_head_seen{th.value("size", std::uint64_t{0}), *root};
      head_from = "heartbeat";
    }
  }
  if (!head) {
    // Nothing signed, as its log or its heartbeats say. With neither, nothing is known of what
    // it signed, and nothing can be proved.
    if (!log_read && beat == beats.end())
      return http::error_response(status::conflict, "ledger_unknown",
                                  "region " + from + "'s log cannot be read here and it was never heard from: the last tree head it signed is "
                                  "unknown, so no proof is possible; nothing was promoted",
                                  c.req);
    head = tree_head_seen{0, merkle::empty_root()};
    head_from = log_read ? "source log (none signed)" : "heartbeat (none signed)";
  }
  auto ext = prove_extends(d_.local, *head, d_.cfg.region, from);
  if (!ext) {
    const char* code = ext.error().code == errc::conflict ? "ledger_behind" : ext.error().code == errc::corruption ? "ledger_diverged" : nullptr;
    if (!code) return http::failure(ext.error(), c.req);
    return http::error_response(status::conflict, code, ext.error().message + "; nothing was promoted", c.req);
  }
  std::int64_t epoch = 1;
  auto cur = view_.primary();
  if (!cur) return http::failure(cur.error(), c.req);
  if (*cur) {
    auto j = json::parse(**cur, nullptr, false);
    if (j.is_object()) epoch = j.value("epoch", std::int64_t{0}) + 1;
  }
  events::RegionPromoted p;
  p.set_region(d_.cfg.region);
  p.set_replaced(from);
  p.set_epoch(epoch);
  p.set_source_tree_size(head->size);
  p.set_source_root(std::string(head->root.begin(), head->root.end()));
  p.set_head_from(head_from);
  p.set_tree_size(ext->size);
  p.set_root(std::string(ext->root.begin(), ext->root.end()));
  for (const auto& h : ext->proof) p.add_proof(std::string(h.begin(), h.end()));
  p.set_by(c.who.principal);
  event::new_event ev;
  ev.type = kPromoted;
  ev.key = "primary";
  ev.region = d_.cfg.region;
  ev.occurred_at = d_.clock.now_ms();
  auto env = event::build(ev, p);
  if (!env) return http::failure(env.error(), c.req);
  const auto rec = event::to_record(*env);
  auto pos = d_.local.append(topic_name{kControlTopic}, std::span<const bus::record>(&rec, 1));
  if (!pos) return http::append_error(pos.error(), c.req);
  const topic_partition tp{topic_name{kControlTopic}, pos->at(0).partition};
  c.wrote(tp, pos->at(0).off);
  if (!feed_ || !feed_->wait_applied(tp, pos->at(0).off, std::chrono::seconds(5)))
    return http::error_response(status::service_unavailable, "not_ready", "the promotion is written but not yet visible; GET /regions shortly", c.req);
  auto now = view_.primary();
  if (!now || !*now) return http::failure(now ? error{errc::internal, "the promotion was not folded"} : now.error(), c.req);
  auto doc = json::parse(**now, nullptr, false);
  if (!doc.is_object() || doc.value("epoch", std::int64_t{0}) != epoch || doc.value("region", "") != d_.cfg.region)
    return http::error_response(status::conflict, "epoch_taken", "another failover took epoch " + std::to_string(epoch) + " first: " + **now, c.req);
  return http::json_response(status::ok, doc, c.req);
}

http::response routes::translate(const http::route_context& c) {
  const auto group = c.t.param("group");
  const auto from = c.t.param("from");
  if (!group || group->empty()) return http::invalid_field("group", "is required: the consumer group", c.req);
  if (!from || from->empty()) return http::invalid_field("from", "is required: the region the group consumed in", c.req);
  if (auto to = c.t.param("to"); to && *to != d_.cfg.region)
    return http::invalid_field("to", "is this server's region (" + d_.cfg.region + "): ask the server of region " + *to, c.req);
  if (*from == d_.cfg.region) return http::invalid_field("from", "is another region than this one (" + d_.cfg.region + ")", c.req);
  if (auto known = region_config(d_.cfg, *from); !known) {
    if (known.error().code == errc::not_found) return http::error_response(status::not_found, "not_found", known.error().message, c.req, "from");
    return http::failure(known.error(), c.req);
  }
  auto source = d_.bus_of(*from);
  if (!source) return http::error_response(status::service_unavailable, "unavailable", source.error().message, c.req, "from");
  // The committed positions of the group on every partition of the mirrored topics.
  auto topics = (*source)->list_topics();
  if (!topics) return http::failure(topics.error(), c.req);
  std::vector<std::pair<topic_partition, std::int64_t>> committed;
  for (const auto& t : *topics) {
    if (!bus::subscribed_by(d_.mirror.topics, t.name.get())) continue;
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      const topic_partition tp{t.name, partition_id{p}};
      auto off = (*source)->committed(*group, tp);
      if (!off) return http::failure(off.error(), c.req);
      if (*off) committed.emplace_back(tp, (*off)->get());
    }
  }
  // The map holds what this region's partitions hold now.
  for (const auto& [tp, off] : committed) {
    auto end = d_.local.end_offset(tp);
    if (!end) {
      if (end.error().code == errc::not_found) continue;  // nothing of that topic was copied here
      return http::failure(end.error(), c.req);
    }
    if (end->get() > 0 && feed_ && !feed_->wait_applied(tp, offset{end->get() - 1}, std::chrono::seconds(5)))
      return http::error_response(status::service_unavailable, "not_ready", "the regions read model is behind " + to_string(tp) + "; try again", c.req);
  }
  auto mapped = view_.translate(*from, committed);
  if (!mapped) return http::failure(mapped.error(), c.req);
  json out = json::array();
  for (std::size_t i = 0; i < committed.size(); ++i) {
    std::int64_t target = 0;
    if ((*mapped)[i]) {
      target = *(*mapped)[i];
    } else {
      // Nothing before the committed position was copied: the target partition's start.
      auto b = d_.local.begin_offset(committed[i].first);
      target = b ? b->get() : 0;
    }
    out.push_back({{"topic", committed[i].first.topic.get()}, {"partition", committed[i].first.partition.get()}, {"source", committed[i].second},
                   {"target", target}});
  }
  return http::json_response(status::ok, json{{"group", *group}, {"from", *from}, {"to", d_.cfg.region}, {"partitions", out}}, c.req);
}

}  // namespace nf::regions
