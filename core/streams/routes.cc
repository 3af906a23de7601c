// Topic browsing and subscription routes.
#include "core/streams/routes.h"

#include "core/base/number.h"
#include "core/event/codec.h"
#include "core/streams/subscription.h"

namespace nf::streams {

namespace {

using http::json;
using http::status;
namespace schema = http::schema;

// The subscription's events as a stream source.
class subscription_source final : public http::stream_source {
 public:
  explicit subscription_source(std::unique_ptr<subscription> s) : sub_(std::move(s)) {}
  result<std::vector<http::stream_frame>> next(std::chrono::milliseconds timeout, std::size_t max) override {
    NF_TRY_ASSIGN(auto batch, sub_->next(timeout, max));
    std::vector<http::stream_frame> out;
    out.reserve(batch.size());
    for (auto& d : batch) out.push_back({std::move(d.token), std::move(d.json)});
    return out;
  }
  void wakeup() override { sub_->wakeup(); }

 private:
  std::unique_ptr<subscription> sub_;
};

result<subscription_request> subscription_params(const std::string& topics_csv, const std::string& from,
                                                 const std::optional<std::string>& type, const std::optional<std::string>& tenant) {
  subscription_request r;
  NF_TRY_ASSIGN(r.patterns, parse_patterns(topics_csv));
  r.from = from.empty() ? "latest" : from;
  if (r.from != "earliest" && r.from != "latest") NF_TRY(decode_token(r.from));
  r.type = type;
  r.tenant = tenant;
  return r;
}

const json kEvent = json{{"type", "object"}, {"description", "an event envelope as JSON (id, type, topic, partition, offset, payload, ...)"}};

}  // namespace

topic_routes::topic_routes(bus::event_bus& bus, const topic_visibility& visibility)
    : bus_(bus), visibility_(visibility), renders_(std::make_unique<render_cache>()) {}
topic_routes::~topic_routes() = default;

void topic_routes::add_to(http::route_table& routes) {
  const json offsets = schema::array(schema::object(
      {{"partition", schema::integer()}, {"begin", schema::integer()}, {"end", schema::integer()}}, {"partition", "begin", "end"}));
  routes.add({.method = http::verb::get, .path = "/topics", .perm = kEventsRead,
              .summary = "Topics with their partitions (and, for the platform admin, offsets)", .tag = "topics",
              .responses = {{200, {"the topics", schema::object({{"items", schema::array(schema::object(
                                                                             {{"name", schema::string()},
                                                                              {"partitions", schema::integer()},
                                                                              {"offsets", offsets}},
                                                                             {"name", "partitions"}))}},
                                                                {"items"})}}},
              .handler = [this](const http::route_context& c) { return list(c); }});
  routes.add({.method = http::verb::get, .path = "/topics/{topic}/events", .perm = kEventsRead,
              .summary = "A page of one partition's events, oldest first (a tenant sees its own)", .tag = "topics",
              .params = {{"partition", "partition number (default 0)", {{"type", "integer"}, {"minimum", 0}}},
                         {"from", "first offset (default: the partition's beginning)", {{"type", "integer"}, {"minimum", 0}}},
                         {"limit", "at most this many events (1..1000, default 100)", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}}}},
              .responses = {{200, {"a page", schema::object({{"items", schema::array(kEvent)},
                                                             {"nextOffset", schema::integer()},
                                                             {"endOffset", schema::integer()}},
                                                            {"items", "nextOffset", "endOffset"})}},
                            {403, {"a restricted topic", schema::ref("Error")}},
                            {404, {"no such topic", schema::ref("Error")}}},
              .handler = [this](const http::route_context& c) { return events(c); }});
  const std::vector<http::param_doc> stream_params = {
      {"topics", "comma-separated topic names or patterns, e.g. mission.*", schema::string(), true},
      {"from", "earliest, latest (default) or a position id", schema::string()},
      {"type", "only events of this type", schema::string()},
      {"tenant", "only events of this tenant (platform admin)", schema::string()},
      {"access_token", "an API key or JWT, for clients that cannot set headers", schema::string()}};
  routes.add({.method = http::verb::get, .path = "/subscribe", .perm = kEventsRead,
              .summary = "Server-Sent Events of the matching topics; resume with Last-Event-ID", .tag = "topics",
              .params = stream_params,
              .stream = http::stream_kind::sse,
              .open = [this](const http::stream_request& r) { return open(r, false); }});
  routes.add({.method = http::verb::get, .path = "/ws", .perm = kEventsRead,
              .summary = "WebSocket: send {\"subscribe\":[\"mission.*\"],\"from\":\"earliest|latest|<id>\"}, receive {id, event}",
              .tag = "topics",
              .params = {{"access_token", "an API key or JWT, for clients that cannot set headers", schema::string()}},
              .stream = http::stream_kind::websocket,
              .open = [this](const http::stream_request& r) { return open(r, true); }});
}

http::response topic_routes::list(const http::route_context& c) {
  auto topics = bus_.list_topics();
  if (!topics) return http::error_response(http::status_for(topics.error().code), "bus_error", topics.error().message, c.req);
  json arr = json::array();
  for (const auto& t : *topics) {
    if (!c.who.platform_admin) {
      // A tenant sees which topics there are, not how much other tenants wrote to them, and
      // not the restricted ones.
      if (visibility_.restricted(t.name.get())) continue;
      arr.push_back({{"name", t.name.get()}, {"partitions", t.config.partitions}});
      continue;
    }
    json parts = json::array();
    for (std::int32_t p = 0; p < t.config.partitions; ++p) {
      topic_partition tp{t.name, partition_id{p}};
      auto b = bus_.begin_offset(tp);
      auto e = bus_.end_offset(tp);
      if (b && e) parts.push_back({{"partition", p}, {"begin", b->get()}, {"end", e->get()}});
    }
    arr.push_back({{"name", t.name.get()}, {"partitions", t.config.partitions}, {"offsets", parts}});
  }
  return http::json_response(status::ok, json{{"items", arr}}, c.req);
}

http::response topic_routes::events(const http::route_context& c) {
  const auto& topic = c.path_param("topic");
  const auto& req = c.req;
  if (!c.who.platform_admin && visibility_.restricted(topic))
    return http::error_response(status::forbidden, "forbidden",
                                "'" + topic + "' is a platform topic, readable by the platform admin only; use its feature's routes", req,
                                "topic");
  auto info = bus_.describe_topic(topic_name{topic});
  if (!info) return http::error_response(http::status_for(info.error().code), "not_found", info.error().message, req);
  auto num = [&](const char* name, std::int64_t dflt, std::int64_t lo, std::int64_t hi) -> result<std::int64_t> {
    auto v = c.t.param(name);
    if (!v) return dflt;
    return parse_number<std::int64_t>(*v, std::string("'") + name + "'", lo, hi);
  };
  auto partition = num("partition", 0, 0, info->config.partitions - 1);
  if (!partition) return http::invalid_field("partition", "'partition' is out of range", req);
  auto from_r = num("from", 0, 0, INT64_MAX);
  if (!from_r) return http::invalid_field("from", "'from' must be an offset >= 0", req);
  auto limit_r = num("limit", 100, 1, 1000);
  if (!limit_r) return http::invalid_field("limit", "'limit' must be from 1 to 1000", req);
  std::int64_t from = *from_r;
  const std::int64_t limit = *limit_r;
  topic_partition tp{topic_name{topic}, partition_id{static_cast<std::int32_t>(*partition)}};
  auto end = bus_.end_offset(tp);
  auto begin = bus_.begin_offset(tp);
  if (!end || !begin) return http::error_response(status::internal_server_error, "bus_error", "cannot read offsets", req);
  from = std::max(from, begin->get());
  json items = json::array();
  // A tenant reads its own events only: others' are skipped (up to 10,000 records a page, so
  // nextOffset may advance past records that were not shown).
  std::int64_t next = from;
  if (from < end->get()) {
    auto consumer = bus_.make_consumer({});
    if (!consumer || !(*consumer)->assign({{tp, offset{from}}}))
      return http::error_response(status::internal_server_error, "bus_error", "cannot read the topic", req);
    const std::int64_t scan_budget = c.who.platform_admin ? limit : 10'000;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (static_cast<std::int64_t>(items.size()) < limit && next < end->get() && next - from < scan_budget &&
           std::chrono::steady_clock::now() < deadline) {
      const auto room = std::min<std::int64_t>(scan_budget - (next - from), end->get() - next);
      auto msgs = (*consumer)->poll(std::chrono::milliseconds(200), static_cast<std::size_t>(std::min<std::int64_t>(room, 1000)));
      if (!msgs) return http::error_response(status::internal_server_error, "bus_error", msgs.error().message, req);
      for (const auto& m : *msgs) {
        if (static_cast<std::int64_t>(items.size()) == limit) break;
        next = m.off.get() + 1;
        if (!c.who.platform_admin) {
          const auto* owner = m.find_header(event::kTenantHeader);
          if (!owner || *owner != c.who.tenant) continue;
        }
        auto j = event::to_json(m);
        items.push_back(j ? *j : json{{"offset", m.off.get()}, {"error", j.error().message}});
      }
    }
  }
  return http::json_response(status::ok, json{{"items", items}, {"nextOffset", next}, {"endOffset", end->get()}}, req);
}

result<http::opened_stream> topic_routes::open(const http::stream_request& r, bool websocket) {
  result<subscription_request> params = error{errc::invalid_argument, "no subscription"};
  json ack;
  if (websocket) {
    const json& j = r.message ? *r.message : json();
    std::string csv, from = "latest";
    std::optional<std::string> type, tenant;
    bool shape_ok = j.is_object() && j.contains("subscribe") && j["subscribe"].is_array();
    if (shape_ok) {
      for (const auto& p : j["subscribe"]) {
        if (!p.is_string()) shape_ok = false;
        else csv += (csv.empty() ? "" : ",") + p.get<std::string>();
      }
      if (j.contains("from") && j["from"].is_string()) from = j["from"].get<std::string>();
      if (j.contains("type") && j["type"].is_string()) type = j["type"].get<std::string>();
      if (j.contains("tenant") && j["tenant"].is_string()) tenant = j["tenant"].get<std::string>();
    }
    params = shape_ok ? subscription_params(csv, from, type, tenant)
                      : result<subscription_request>(errc::invalid_argument, R"(expected {"subscribe":["mission.*"],"from":"earliest|latest|<id>"})");
    if (shape_ok) ack = json{{"subscribed", j["subscribe"]}};
  } else {
    auto q = [&](const char* k) -> std::optional<std::string> {
      auto it = r.query.find(k);
      if (it == r.query.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
    std::string from = q("from").value_or("latest");
    if (!r.last_event_id.empty()) from = r.last_event_id;
    params = subscription_params(q("topics").value_or(""), from, q("type"), q("tenant"));
  }
  if (!params) return std::move(params).error();
  // A tenant only ever receives its own events, and never restricted topics.
  if (!r.who.platform_admin) {
    params->tenant = r.who.tenant;
    params->hide = &visibility_;
  }
  NF_TRY_ASSIGN(auto sub, subscription::open(bus_, *params, renders_.get()));
  return http::opened_stream{std::make_unique<subscription_source>(std::move(sub)), std::move(ack)};
}

}  // namespace nf::streams
