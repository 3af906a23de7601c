// Gateway: Beast sessions, routing, contract handlers, SSE and WebSocket subscriptions.
#include "actors/gateway/gateway.h"

#include <openssl/evp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <future>
#include <sstream>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "actors/gateway/access.h"
#include "actors/gateway/contracts.h"
#include "actors/gateway/http_util.h"
#include "actors/gateway/ledger_api.h"
#include "actors/gateway/tenancy_api.h"
#include "actors/gateway/subscription.h"
#include "core/base/hex.h"
#include "core/base/text.h"
#include "core/log/guard.h"
#include "core/event/codec.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::gateway {

namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;


// ---- shared state ---------------------------------------------------------------------------

// An open SSE or WebSocket stream, as stop() sees it.
class stream_session {
 public:
  virtual ~stream_session() = default;
  // Sends the client a last frame saying why the stream ends and closes it (any thread).
  virtual void end_stream(const std::string& reason) = 0;
  // Stops the stream's reader thread (any thread).
  virtual void stop_reader() = 0;
};

struct gateway::impl {
  bus::event_bus& bus;
  projection::store& store;
  missions::missions_projection& proj;
  projection::feed& feed;
  gateway_options opts;
  const nf::clock* clk;
  missions::missions_view view;
  net::io_context ioc;
  std::unique_ptr<net::thread_pool> workers;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> io_threads;
  std::shared_ptr<spdlog::logger> log = nf::log::get("gateway");
  std::atomic<bool> stopping{false};

  // Subscriber threads and stream sessions, so stop() can tell clients and wait for the threads.
  std::mutex subs_mu;
  std::condition_variable subs_cv;
  int subs_running = 0;
  std::vector<std::weak_ptr<stream_session>> streams;

  // Serialises POSTs per mission id so idempotency checks and appends do not interleave.
  std::array<std::mutex, 64> id_locks;
  std::mutex pending_mu;
  std::map<std::string, std::pair<std::string, json>> pending;  // id -> (body hash, answer) not yet in the projection

  metrics::gauge* subscribers_gauge;
  render_cache renders;
  std::unique_ptr<access> acc;          // null when no tenancy is configured: every caller is the platform
  std::unique_ptr<ledger_api> ledger;
  std::unique_ptr<tenancy_api> tenancy;

  impl(bus::event_bus& b, projection::store& s, missions::missions_projection& p, projection::feed& f, gateway_options o)
      : bus(b), store(s), proj(p), feed(f), opts(std::move(o)), clk(opts.clock ? opts.clock : &system_clock::instance()),
        view(s, p) {
    subscribers_gauge = &metrics::registry::global().get_gauge("nf_gateway_subscribers", "Open SSE and WebSocket subscriptions");
    if (opts.ledger.proj) ledger = std::make_unique<ledger_api>(bus, store, opts.ledger, *clk, opts.region, opts.read_your_writes_timeout);
    if (opts.tenancy.proj && opts.tenancy.directory) {
      acc = std::make_unique<access>(bus, store, opts.tenancy, *clk, opts.region);
      tenancy = std::make_unique<tenancy_api>(bus, store, opts.tenancy, *acc, *clk, opts.region, opts.read_your_writes_timeout);
    }
  }

  void observe(const std::string& route, const std::string& method, unsigned status, double seconds) {
    // The registry lookup builds label maps; remember the handles per thread.
    thread_local std::unordered_map<std::string, std::pair<metrics::counter*, metrics::histogram*>> handles;
    const std::string key = route + ' ' + method + ' ' + std::to_string(status);
    auto it = handles.find(key);
    if (it == handles.end()) it = handles.emplace(key, lookup(route, method, status)).first;
    it->second.first->inc();
    it->second.second->observe(seconds);
  }
  static std::pair<metrics::counter*, metrics::histogram*> lookup(const std::string& route, const std::string& method, unsigned status) {
    auto& reg = metrics::registry::global();
    return {&reg.get_counter("nf_http_requests_total", "HTTP requests by route, method and status",
                    {{"route", route}, {"method", method}, {"status", std::to_string(status)}}),
            &reg.get_histogram("nf_http_request_duration_seconds", "HTTP request latency by route", {{"route", route}, {"method", method}})};
  }

  // ---- appends ----

  result<bus::append_result> append_event(const tenancy::context& who, const std::string& topic, const std::string& type,
                                          const std::string& key, const json& payload,
                                          const std::map<std::string, std::string>& headers = {}) {
    event::new_event ev;
    ev.type = type;
    ev.key = key;
    ev.tenant = who.tenant;
    ev.payload_json = payload.dump();
    ev.region = opts.region;
    ev.occurred_at = clk->now_ms();
    ev.headers = headers;
    NF_TRY_ASSIGN(auto env, event::build(ev));
    auto rec = event::to_record(env);
    NF_TRY_ASSIGN(auto res, bus.append(topic_name{topic}, std::span<const bus::record>(&rec, 1)));
    last_event_id = event::event_id::from_raw(env.id())->to_string();
    return res[0];
  }
  static thread_local std::string last_event_id;

  json accepted(const std::string& id, const std::string& topic, const bus::append_result& r) {
    return json{{"id", id}, {"topic", topic}, {"partition", r.partition.get()}, {"offset", r.off.get()}};
  }

  void wait_visible(const std::string& topic, const bus::append_result& r) {
    if (!feed.wait_applied({topic_name{topic}, r.partition}, r.off, opts.read_your_writes_timeout))
      log->warn("projection did not reach {}/{}@{} within {} ms", topic, r.partition.get(), r.off.get(),
                opts.read_your_writes_timeout.count());
  }

  // ---- handlers ----


  template <class V>
  static response invalid(const V& v, const request& req) {
    return error_response(http::status::bad_request, v.error->code, v.error->message, req, v.error->field);
  }

  // Quotas on a write of this request's size by the caller's tenant (nullopt: go ahead).
  std::optional<response> quota(const tenancy::context& who, const std::string& route, const request& req) {
    if (!acc) return std::nullopt;
    return acc->admit_write(who, static_cast<std::int64_t>(req.body().size()), route, req);
  }

  response post_mission(const tenancy::context& who, const request& req) {
    auto body = parse_body(req);
    if (!body) return bad_body(body.error(), req);
    auto v = validate_mission_prompt(*body, clk->now_ms(), event::new_uuidv7(clk->now_ms()).to_string());
    if (!v) return invalid(v, req);
    const auto& p = *v.value;
    const std::string hash = sha256_hex(body->dump());
    std::lock_guard id_lock(id_locks[std::hash<std::string>{}(p.id) % id_locks.size()]);
    if (p.id_given) {
      {
        std::lock_guard lk(pending_mu);
        if (auto it = pending.find(p.id); it != pending.end()) {
          if (it->second.first != who.tenant + "/" + hash) return conflict(p.id, req);
          return json_response(http::status::accepted, it->second.second, req);
        }
      }
      auto existing = view.get(p.id);
      if (!existing) return error_response(status_for(existing.error().code), "internal", existing.error().message, req);
      if (*existing) {
        const auto& doc = **existing;
        // Another tenant's mission with this id answers like a different body: nothing of it shows.
        if (doc.value("bodySha256", "") != hash || doc.value("tenantId", "") != who.tenant) return conflict(p.id, req);
        const auto& pos = doc["prompt"];
        return json_response(http::status::accepted,
                             json{{"id", p.id}, {"topic", pos["topic"]}, {"partition", pos["partition"]}, {"offset", pos["offset"]}},
                             req);
      }
    }
    if (auto refused = quota(who, "/missions", req)) return *refused;
    auto r = append_event(who, missions::kPrompts, "mission.prompted", p.id, p.payload, {{"nf-body-sha256", hash}});
    if (!r) return append_error(r.error(), req);
    const json answer = accepted(p.id, missions::kPrompts, *r);
    {
      std::lock_guard lk(pending_mu);
      if (pending.size() > 100'000) pending.clear();
      pending[p.id] = {who.tenant + "/" + hash, answer};
    }
    wait_visible(missions::kPrompts, *r);
    {
      std::lock_guard lk(pending_mu);
      if (feed.wait_applied({topic_name{missions::kPrompts}, r->partition}, r->off, std::chrono::milliseconds(0))) pending.erase(p.id);
    }
    return json_response(http::status::accepted, answer, req);
  }

  response conflict(const std::string& id, const request& req) {
    return error_response(http::status::conflict, "conflict", "mission '" + id + "' already exists with a different body", req, "id");
  }

  // The mission as the caller may see it: nullopt (and `res` set) when it is unknown to them.
  std::optional<json> visible_mission(const tenancy::context& who, const std::string& mission_id, const request& req,
                                      std::optional<response>& res) {
    auto m = view.get(mission_id);
    if (!m) {
      res = error_response(http::status::internal_server_error, "internal", m.error().message, req);
      return std::nullopt;
    }
    if (!*m || !who.sees((**m).value("tenantId", ""))) {
      res = error_response(http::status::not_found, "not_found", "unknown mission '" + mission_id + "'", req);
      return std::nullopt;
    }
    return std::move(**m);
  }

  response post_artifact(const tenancy::context& who, const std::string& mission_id, const request& req) {
    auto body = parse_body(req);
    if (!body) return bad_body(body.error(), req);
    auto v = validate_artifact(*body, mission_id);
    if (!v) return invalid(v, req);
    std::optional<response> res;
    if (!visible_mission(who, mission_id, req, res)) return std::move(*res);
    if (auto refused = quota(who, "/missions/{id}/artifacts", req)) return *refused;
    auto r = append_event(who, missions::kArtifacts, "mission.artifact_recorded", mission_id, v.value->payload);
    if (!r) return append_error(r.error(), req);
    const std::string id = last_event_id;
    wait_visible(missions::kArtifacts, *r);
    return json_response(http::status::accepted, accepted(id, missions::kArtifacts, *r), req);
  }

  response post_validation(const tenancy::context& who, const std::string& mission_id, const request& req) {
    auto body = parse_body(req);
    if (!body) return bad_body(body.error(), req);
    auto v = validate_validation(*body, clk->now_ms());
    if (!v) return invalid(v, req);
    std::optional<response> res;
    auto m = visible_mission(who, mission_id, req, res);
    if (!m) return std::move(*res);
    const auto& arts = (*m)["artifacts"];
    if (!arts.contains(v.value->artifact_id) || !arts[v.value->artifact_id].contains("position"))
      return error_response(http::status::not_found, "not_found",
                            "mission '" + mission_id + "' has no artifact '" + v.value->artifact_id + "'", req, "artifactId");
    if (auto refused = quota(who, "/missions/{id}/validations", req)) return *refused;
    auto r = append_event(who, missions::kValidations, "mission.validation_reported", mission_id, v.value->payload);
    if (!r) return append_error(r.error(), req);
    const std::string id = last_event_id;
    wait_visible(missions::kValidations, *r);
    return json_response(http::status::accepted, accepted(id, missions::kValidations, *r), req);
  }

  response post_agent(const tenancy::context& who, const request& req) {
    auto body = parse_body(req);
    if (!body) return bad_body(body.error(), req);
    auto v = validate_agent_lifecycle(*body);
    if (!v) return invalid(v, req);
    if (auto refused = quota(who, "/agents/lifecycle", req)) return *refused;
    auto r = append_event(who, missions::kLifecycle, "agent." + v.value->lifecycle, v.value->agent_id, v.value->payload);
    if (!r) return append_error(r.error(), req);
    const std::string id = last_event_id;
    wait_visible(missions::kLifecycle, *r);
    return json_response(http::status::accepted, accepted(id, missions::kLifecycle, *r), req);
  }

  response get_mission(const tenancy::context& who, const std::string& id, const request& req) {
    auto m = view.get_public(id);
    if (!m) return error_response(http::status::internal_server_error, "internal", m.error().message, req);
    bool visible = m->has_value();
    if (visible && !who.platform_admin) {
      auto owner = view.owner(id);
      visible = owner && *owner == who.tenant;
    }
    if (!visible) return error_response(http::status::not_found, "not_found", "unknown mission '" + id + "'", req);
    response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::server, "nexus-forge");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(**m);
    res.prepare_payload();
    return res;
  }

  response list_missions(const tenancy::context& who, const target& t, const request& req) {
    missions::mission_filter f;
    if (!who.platform_admin) f.tenant = who.tenant;
    if (auto it = t.query.find("status"); it != t.query.end() && !it->second.empty()) f.status = it->second;
    if (auto it = t.query.find("priority"); it != t.query.end() && !it->second.empty()) {
      if (it->second != "P0" && it->second != "P1" && it->second != "P2")
        return error_response(http::status::bad_request, "invalid_field", "'priority' must be one of P0|P1|P2", req, "priority");
      f.priority = it->second;
    }
    if (auto it = t.query.find("limit"); it != t.query.end()) {
      char* end = nullptr;
      const long n = std::strtol(it->second.c_str(), &end, 10);
      if (it->second.empty() || *end || n < 1 || n > 500)
        return error_response(http::status::bad_request, "invalid_field", "'limit' must be an integer from 1 to 500", req, "limit");
      f.limit = static_cast<std::size_t>(n);
    }
    if (auto it = t.query.find("cursor"); it != t.query.end() && !it->second.empty()) {
      f.cursor = cursor_decode(it->second);
      if (f.cursor.empty())
        return error_response(http::status::bad_request, "invalid_field", "'cursor' is not a cursor from this API", req, "cursor");
    }
    auto page = view.list(f);
    if (!page && page.error().code == errc::invalid_argument)
      return error_response(http::status::bad_request, "invalid_field", "'cursor' is not a cursor from this listing", req, "cursor");
    if (!page) return error_response(http::status::internal_server_error, "internal", page.error().message, req);
    json items = json::array();
    for (auto& d : page->items) {
      d.erase("bodySha256");
      items.push_back(std::move(d));
    }
    json out{{"items", items}};
    out["nextCursor"] = page->next_cursor.empty() ? json(nullptr) : json(cursor_encode(page->next_cursor));
    return json_response(http::status::ok, out, req);
  }

  // A cursor is the last index key of the previous page, hex-encoded.
  static std::string cursor_encode(const std::string& key) { return to_hex(key); }
  static std::string cursor_decode(const std::string& hex) {
    if (hex.size() > 1024) return {};
    auto out = from_hex(hex);
    return out && (out->rfind("c/", 0) == 0 || out->rfind("ct/", 0) == 0) ? *out : std::string();
  }

  response get_agents(const tenancy::context& who, const request& req) {
    auto a = view.live_agents(who.platform_admin ? std::nullopt : std::optional<std::string>(who.tenant));
    if (!a) return error_response(http::status::internal_server_error, "internal", a.error().message, req);
    return json_response(http::status::ok, json{{"items", *a}}, req);
  }

  response get_topics(const tenancy::context& who, const request& req) {
    auto topics = bus.list_topics();
    if (!topics) return error_response(status_for(topics.error().code), "bus_error", topics.error().message, req);
    json arr = json::array();
    for (const auto& t : *topics) {
      if (!who.platform_admin) {
        // A tenant sees which topics there are, not how much other tenants wrote to them, and
        // not the platform's own topics.
        if (platform_topic(t.name.get())) continue;
        arr.push_back({{"name", t.name.get()}, {"partitions", t.config.partitions}});
        continue;
      }
      json parts = json::array();
      for (std::int32_t p = 0; p < t.config.partitions; ++p) {
        topic_partition tp{t.name, partition_id{p}};
        auto b = bus.begin_offset(tp);
        auto e = bus.end_offset(tp);
        if (b && e) parts.push_back({{"partition", p}, {"begin", b->get()}, {"end", e->get()}});
      }
      arr.push_back({{"name", t.name.get()}, {"partitions", t.config.partitions}, {"offsets", parts}});
    }
    return json_response(http::status::ok, json{{"items", arr}}, req);
  }

  response get_topic_events(const tenancy::context& who, const std::string& topic, const target& t, const request& req) {
    if (!who.platform_admin && platform_topic(topic))
      return error_response(http::status::forbidden, "forbidden",
                            "'" + topic + "' is a platform topic, readable by the platform admin only; use its feature's routes", req, "topic");
    auto info = bus.describe_topic(topic_name{topic});
    if (!info) return error_response(status_for(info.error().code), "not_found", info.error().message, req);
    auto num = [&](const char* name, std::int64_t dflt, std::int64_t lo, std::int64_t hi, std::int64_t& out) -> bool {
      auto it = t.query.find(name);
      if (it == t.query.end() || it->second.empty()) {
        out = dflt;
        return true;
      }
      char* end = nullptr;
      out = std::strtoll(it->second.c_str(), &end, 10);
      return !*end && out >= lo && out <= hi;
    };
    std::int64_t partition = 0, from = 0, limit = 100;
    if (!num("partition", 0, 0, info->config.partitions - 1, partition))
      return error_response(http::status::bad_request, "invalid_field", "'partition' is out of range", req, "partition");
    if (!num("from", 0, 0, INT64_MAX, from))
      return error_response(http::status::bad_request, "invalid_field", "'from' must be an offset >= 0", req, "from");
    if (!num("limit", 100, 1, 1000, limit))
      return error_response(http::status::bad_request, "invalid_field", "'limit' must be from 1 to 1000", req, "limit");
    topic_partition tp{topic_name{topic}, partition_id{static_cast<std::int32_t>(partition)}};
    auto end = bus.end_offset(tp);
    auto begin = bus.begin_offset(tp);
    if (!end || !begin) return error_response(http::status::internal_server_error, "bus_error", "cannot read offsets", req);
    from = std::max(from, begin->get());
    json items = json::array();
    // A tenant reads its own events only: others' are skipped (up to 10,000 records a page, so
    // nextOffset may advance past records that were not shown).
    std::int64_t next = from;
    if (from < end->get()) {
      auto c = bus.make_consumer({});
      if (!c || !(*c)->assign({{tp, offset{from}}}))
        return error_response(http::status::internal_server_error, "bus_error", "cannot read the topic", req);
      const std::int64_t scan_budget = who.platform_admin ? limit : 10'000;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (static_cast<std::int64_t>(items.size()) < limit && next < end->get() && next - from < scan_budget &&
             std::chrono::steady_clock::now() < deadline) {
        const auto room = std::min<std::int64_t>(scan_budget - (next - from), end->get() - next);
        auto msgs = (*c)->poll(std::chrono::milliseconds(200), static_cast<std::size_t>(std::min<std::int64_t>(room, 1000)));
        if (!msgs) return error_response(http::status::internal_server_error, "bus_error", msgs.error().message, req);
        for (const auto& m : *msgs) {
          if (static_cast<std::int64_t>(items.size()) == limit) break;
          next = m.off.get() + 1;
          if (!who.platform_admin) {
            const auto* owner = m.find_header(event::kTenantHeader);
            if (!owner || *owner != who.tenant) continue;
          }
          auto j = event::to_json(m);
          items.push_back(j ? *j : json{{"offset", m.off.get()}, {"error", j.error().message}});
        }
      }
    }
    return json_response(http::status::ok, json{{"items", items}, {"nextOffset", next}, {"endOffset", end->get()}}, req);
  }

  // ---- one request, start to end ----

  std::atomic<std::uint64_t> request_seq{0};
  std::string next_request_id() {
    // Unique per process and start: the start time in ms, then a sequence number.
    static const std::string boot = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch())
                                                       .count());
    return boot + "-" + std::to_string(++request_seq);
  }

  // A fault of ours (an exception from a handler): 500, logged with the request id.
  response internal_error(const request& req, const std::string& rid, const std::string& what) {
    log->error("request {} {} {}: {}", rid, std::string(http::to_string(req.method())),
               sanitize_utf8(std::string_view(req.target().data(), req.target().size())), sanitize_utf8(what));
    metrics::registry::global().get_counter("nf_http_internal_errors_total", "Requests answered 500 because of a fault of ours").inc();
    return error_response(http::status::internal_server_error, "internal", "internal error; quote request id " + rid, req);
  }

  // Every answer names its request id; a 5xx is logged with it.
  response finish(response res, const request& req, const std::string& route, const std::string& rid) {
    res.set("X-Request-Id", rid);
    if (res.result_int() >= 500)
      log->error("request {} {} {} ({}) answered {}: {}", rid, std::string(http::to_string(req.method())),
                 sanitize_utf8(std::string_view(req.target().data(), req.target().size())), route, res.result_int(),
                 sanitize_utf8(res.body().substr(0, 512)));
    return res;
  }

  // Handles one request; nothing it throws reaches the session.
  response serve(const request& req) {
    const auto start = std::chrono::steady_clock::now();
    const auto rid = next_request_id();
    std::string route = "unknown";
    response res;
    try {
      res = handle(req, route);
    } catch (const std::exception& e) {
      res = internal_error(req, rid, e.what());
    }
    observe(route, std::string(http::to_string(req.method())), res.result_int(),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return finish(std::move(res), req, route, rid);
  }

  // The caller of a request that needs one: its context, or the 401/403/429 answer. Without a
  // tenancy directory every caller is the platform.
  std::variant<tenancy::context, response> admit(const request& req) {
    if (!acc) {
      tenancy::context c;
      c.platform_admin = true;
      c.principal = "platform";
      return c;
    }
    return acc->admit(req);
  }
  std::optional<response> require(const tenancy::context& who, std::string_view permission, const request& req) {
    return acc ? acc->require(who, permission, req) : std::nullopt;
  }

  response handle(const request& req, std::string& route) {
    const auto t = parse_target(std::string_view(req.target().data(), req.target().size()));
    const auto& s = t.segments;
    auto only = [&](http::verb allowed) { return require_method(allowed, t, req); };
    if (tenancy)
      if (auto res = tenancy->handle(t, req, route)) return std::move(*res);
    // Operations routes answer without credentials.
    if (s.size() == 1 && s[0] == "healthz") {
      route = "/healthz";
      if (auto r = only(http::verb::get)) return *r;
      return json_response(http::status::ok, json{{"status", "ok"}}, req);
    }
    if (s.size() == 1 && s[0] == "readyz") {
      route = "/readyz";
      if (auto r = only(http::verb::get)) return *r;
      const bool ready = feed.caught_up() && (!ledger || ledger->caught_up());
      return json_response(ready ? http::status::ok : http::status::service_unavailable,
                           json{{"status", ready ? "ready" : "catching_up"}, {"projectionLag", feed.lag()}}, req);
    }
    if (s.size() == 1 && s[0] == "metrics") {
      route = "/metrics";
      if (auto r = only(http::verb::get)) return *r;
      response res{http::status::ok, req.version()};
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.keep_alive(req.keep_alive());
      res.body() = metrics::registry::global().render();
      res.prepare_payload();
      return res;
    }
    auto admitted = admit(req);
    if (auto* denied = std::get_if<response>(&admitted)) {
      route = "(unauthenticated)";
      return std::move(*denied);
    }
    const auto& who = std::get<tenancy::context>(admitted);
    auto res = dispatch(who, t, req, route);
    if (acc) acc->audit(who, req, route, t.path, res.result_int());
    return res;
  }

  // Every route with the permission it needs.
  response dispatch(const tenancy::context& who, const target& t, const request& req, std::string& route) {
    const auto& s = t.segments;
    const auto method = req.method();
    auto only = [&](http::verb allowed) { return require_method(allowed, t, req); };
    auto need = [&](std::string_view permission) { return require(who, permission, req); };
    if (ledger)
      if (auto res = ledger->handle(t, req, route, who, [&](std::string_view p) { return need(p); },
                                    [&](const std::string& r) { return quota(who, r, req); }))
        return std::move(*res);
    if (req.body().size() > opts.max_body_bytes)
      return error_response(http::status::payload_too_large, "payload_too_large",
                            "the body is larger than " + std::to_string(opts.max_body_bytes) + " bytes", req);
    if (s.size() == 1 && s[0] == "missions") {
      route = "/missions";
      if (method == http::verb::post) {
        if (auto d = need("missions:write")) return *d;
        return post_mission(who, req);
      }
      if (method == http::verb::get) {
        if (auto d = need("missions:read")) return *d;
        return list_missions(who, t, req);
      }
      auto res = error_response(http::status::method_not_allowed, "method_not_allowed", "use GET or POST on /missions", req);
      res.set(http::field::allow, "GET, POST");
      return res;
    }
    if (s.size() == 2 && s[0] == "missions") {
      route = "/missions/{id}";
      if (auto r = only(http::verb::get)) return *r;
      if (auto d = need("missions:read")) return *d;
      return get_mission(who, s[1], req);
    }
    if (s.size() == 3 && s[0] == "missions" && s[2] == "artifacts") {
      route = "/missions/{id}/artifacts";
      if (auto r = only(http::verb::post)) return *r;
      if (auto d = need("missions:write")) return *d;
      return post_artifact(who, s[1], req);
    }
    if (s.size() == 3 && s[0] == "missions" && s[2] == "validations") {
      route = "/missions/{id}/validations";
      if (auto r = only(http::verb::post)) return *r;
      if (auto d = need("missions:write")) return *d;
      return post_validation(who, s[1], req);
    }
    if (s.size() == 2 && s[0] == "agents" && s[1] == "lifecycle") {
      route = "/agents/lifecycle";
      if (auto r = only(http::verb::post)) return *r;
      if (auto d = need("missions:write")) return *d;
      return post_agent(who, req);
    }
    if (s.size() == 1 && s[0] == "agents") {
      route = "/agents";
      if (auto r = only(http::verb::get)) return *r;
      if (auto d = need("missions:read")) return *d;
      return get_agents(who, req);
    }
    if (s.size() == 1 && s[0] == "topics") {
      route = "/topics";
      if (auto r = only(http::verb::get)) return *r;
      if (auto d = need("events:read")) return *d;
      return get_topics(who, req);
    }
    if (s.size() == 3 && s[0] == "topics" && s[2] == "events") {
      route = "/topics/{topic}/events";
      if (auto r = only(http::verb::get)) return *r;
      if (auto d = need("events:read")) return *d;
      return get_topic_events(who, s[1], t, req);
    }
    route = "unknown";
    return error_response(http::status::not_found, "not_found", "no route for " + t.path, req);
  }

  // A subscription's caller (SSE or WebSocket upgrade): needs events:read. Browsers cannot set
  // headers on EventSource or WebSocket, so these also take ?access_token=<key or JWT>.
  std::variant<tenancy::context, response> admit_stream(const request& req, const target& t) {
    auto admitted = [&] {
      auto tok = t.query.find("access_token");
      if (tok == t.query.end() || !req[http::field::authorization].empty()) return admit(req);
      request with = req;
      with.set(http::field::authorization, "Bearer " + tok->second);
      return admit(with);
    }();
    if (auto* who = std::get_if<tenancy::context>(&admitted))
      if (auto d = require(*who, "events:read", req)) {
        if (acc) acc->audit(*who, req, "/subscribe", t.path, d->result_int());
        return std::move(*d);
      }
    return admitted;
  }

  // ---- subscriptions ----

  void sub_started() {
    std::lock_guard lk(subs_mu);
    ++subs_running;
    subscribers_gauge->set(subs_running);
  }
  void stream_opened(std::weak_ptr<stream_session> s) {
    std::lock_guard lk(subs_mu);
    std::erase_if(streams, [](const auto& w) { return w.expired(); });
    streams.push_back(std::move(s));
  }
  std::vector<std::shared_ptr<stream_session>> open_streams() {
    std::lock_guard lk(subs_mu);
    std::vector<std::shared_ptr<stream_session>> out;
    for (const auto& w : streams)
      if (auto s = w.lock()) out.push_back(std::move(s));
    return out;
  }

  // The caller of a stream, resolved again: nullopt while its credential still holds, or why it
  // no longer does (key revoked, tenant suspended, token expired).
  std::optional<std::string> recheck(const tenancy::request_credentials& creds) {
    auto c = opts.tenancy.directory->resolve(creds, clk->now_ms());
    if (c) return std::nullopt;
    return c.error().message;
  }
  void sub_ended() {
    std::lock_guard lk(subs_mu);
    --subs_running;
    subscribers_gauge->set(subs_running);
    subs_cv.notify_all();
  }
};

thread_local std::string gateway::impl::last_event_id;

namespace {

// Streams events of one subscription to a client, with a bounded queue: the reader pauses while
// the queue is full, and gives up on a client whose queue stays full too long. Every half second
// at most, it checks that the caller's credential still holds (revocation, suspension, expiry).
// The reader thread owns the subscription and closes it before it ends, so once
// gateway::impl::subs_running is 0 no stream holds anything of the bus.
class pump : public std::enable_shared_from_this<pump> {
 public:
  using frame_fn = std::function<std::string(const delivered&)>;
  using recheck_fn = std::function<std::optional<std::string>()>;
  pump(gateway::impl& gw, std::unique_ptr<subscription> sub, recheck_fn recheck)
      : gw_(gw), sub_(std::move(sub)), recheck_(std::move(recheck)) {}

  // `deliver(frames, events)` queues frames on the session; it runs on the reader thread.
  void start(std::function<void(std::string, std::size_t)> deliver, std::function<void(std::string reason)> close, frame_fn frame) {
    gw_.sub_started();
    std::thread([self = shared_from_this(), deliver = std::move(deliver), close = std::move(close), frame = std::move(frame)] {
      if (!nf::log::guarded("subscription-pump", [&] { self->run(deliver, close, frame); }))
        nf::log::guarded("subscription-pump", [&] { close("the subscription failed on the server; reconnect with the last id"); });
      {
        std::lock_guard lk(self->mu_);
        self->sub_.reset();
      }
      self->gw_.sub_ended();
    }).detach();
  }

  void stop() {
    std::lock_guard lk(mu_);
    stopped_ = true;
    if (sub_) sub_->wakeup();
    cv_.notify_all();
  }
  void sent(std::size_t n) {
    {
      std::lock_guard lk(mu_);
      queued_ -= std::min(queued_, n);
    }
    cv_.notify_all();
  }

 private:
  bool done() const { return stopped_ || gw_.stopping; }

  // False (and the stream closed with the reason) when the caller may no longer read.
  bool still_allowed(const std::function<void(std::string)>& close) {
    const auto now = std::chrono::steady_clock::now();
    if (!recheck_ || now - checked_ < std::chrono::milliseconds(500)) return true;
    checked_ = now;
    if (auto why = recheck_()) {
      metrics::registry::global()
          .get_counter("nf_gateway_revoked_stream_closes_total", "Subscriptions closed because their credential no longer holds")
          .inc();
      close("credential no longer valid: " + *why);
      return false;
    }
    return true;
  }

  void run(const std::function<void(std::string, std::size_t)>& deliver, const std::function<void(std::string)>& close,
           const frame_fn& frame) {
    checked_ = std::chrono::steady_clock::now();
    while (!done()) {
      if (!still_allowed(close)) return;
      {
        std::unique_lock lk(mu_);
        if (queued_ >= gw_.opts.subscriber_buffer) {
          if (!full_since_) full_since_ = std::chrono::steady_clock::now();
          // Short waits, so stop and the credential check are never late.
          cv_.wait_for(lk, std::chrono::milliseconds(250),
                       [&] { return queued_ < gw_.opts.subscriber_buffer / 2 || done(); });
          if (queued_ < gw_.opts.subscriber_buffer / 2) full_since_.reset();
          if (full_since_ && std::chrono::steady_clock::now() - *full_since_ >= gw_.opts.slow_subscriber_timeout) {
            const auto waiting = queued_;
            lk.unlock();
            metrics::registry::global()
                .get_counter("nf_gateway_slow_subscriber_closes_total", "Subscriptions closed because the client fell behind")
                .inc();
            close("slow subscriber: " + std::to_string(waiting) + " events waited more than " +
                  std::to_string(gw_.opts.slow_subscriber_timeout.count()) + " ms; reconnect with the last id to resume");
            return;
          }
          continue;
        }
      }
      const std::size_t room = gw_.opts.subscriber_buffer - queued_;
      auto batch = sub_->next(std::chrono::milliseconds(500), std::min<std::size_t>(room, 512));
      if (!batch) {
        close("subscription failed: " + batch.error().message);
        return;
      }
      if (batch->empty()) continue;
      {
        std::lock_guard lk(mu_);
        queued_ += batch->size();
      }
      // One write per batch, not per event: the frames of a poll travel together.
      std::string frames;
      std::size_t n = 0;
      for (std::size_t i = 0; i < batch->size(); ++i) {
        frames += frame((*batch)[i]);
        ++n;
        if (i + 1 == batch->size() || frames.size() > 256 * 1024) {
          deliver(std::move(frames), n);
          frames.clear();
          n = 0;
        }
      }
    }
  }

  gateway::impl& gw_;
  std::unique_ptr<subscription> sub_;
  recheck_fn recheck_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::size_t queued_ = 0;
  std::optional<std::chrono::steady_clock::time_point> full_since_;
  std::chrono::steady_clock::time_point checked_;
};

// The credentials a stream was opened with, so its caller can be resolved again later.
struct stream_credentials {
  std::string host, authorization, api_key;
  tenancy::request_credentials view() const { return {host, authorization, api_key}; }
};

stream_credentials credentials_of(const request& req) {
  auto s = [&](auto v) { return std::string(v.data(), v.size()); };
  return {s(req[http::field::host]), s(req[http::field::authorization]), s(req["X-API-Key"])};
}

// The credential check of a stream's reader: none without tenancy or for the platform admin.
pump::recheck_fn recheck_of(gateway::impl& gw, const tenancy::context& who, const stream_credentials& creds) {
  if (!gw.acc || who.platform_admin) return {};
  return [gw = &gw, creds] { return gw->recheck(creds.view()); };
}

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

// ---- SSE ----

class sse_session : public stream_session, public std::enable_shared_from_this<sse_session> {
 public:
  sse_session(beast::tcp_stream stream, gateway::impl& gw, tenancy::context who, stream_credentials creds)
      : stream_(std::move(stream)), gw_(gw), who_(std::move(who)), creds_(std::move(creds)) {}
  ~sse_session() override {
    if (pump_) pump_->stop();
  }

  void end_stream(const std::string& reason) override {
    net::post(stream_.get_executor(), [self = shared_from_this(), reason] { self->close_with(reason); });
  }
  void stop_reader() override {
    if (auto p = pump_) p->stop();
  }

  void start(const request& req) {
    const auto t = parse_target(std::string_view(req.target().data(), req.target().size()));
    auto q = [&](const char* k) -> std::optional<std::string> {
      auto it = t.query.find(k);
      if (it == t.query.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
    std::string from = q("from").value_or("latest");
    if (auto last = req["Last-Event-ID"]; !last.empty()) from = std::string(last);
    auto params = subscription_params(q("topics").value_or(""), from, q("type"), q("tenant"));
    // A tenant only ever receives its own events, and never platform topics.
    if (params && !who_.platform_admin) {
      params->tenant = who_.tenant;
      params->platform_topics = false;
    }
    result<std::unique_ptr<subscription>> sub = params ? subscription::open(gw_.bus, *params, &gw_.renders) : result<std::unique_ptr<subscription>>(params.error());
    if (!sub) {
      const bool denied = sub.error().code == errc::permission_denied;
      auto res = std::make_shared<response>(error_response(denied ? http::status::forbidden : http::status::bad_request,
                                                           denied ? "forbidden" : "invalid_subscription", sub.error().message, req, "topics"));
      res->keep_alive(false);
      http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code, std::size_t) {
        beast::error_code ec;
        self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      });
      gw_.observe("/subscribe", "GET", res->result_int(), 0);
      if (gw_.acc) gw_.acc->audit(who_, req, "/subscribe", t.path, res->result_int());
      return;
    }
    gw_.observe("/subscribe", "GET", 200, 0);
    if (gw_.acc) gw_.acc->audit(who_, req, "/subscribe", t.path, 200);
    gw_.stream_opened(weak_from_this());
    stream_.expires_never();
    out_.push_back("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n"
                   "Server: nexus-forge\r\n\r\n: subscribed\n\n");
    counts_.push_back(0);
    write_next();
    watch_close();
    pump_ = std::make_shared<pump>(gw_, std::move(*sub), recheck_of(gw_, who_, creds_));
    std::weak_ptr<sse_session> weak = shared_from_this();
    pump_->start(
        [weak](std::string frames, std::size_t n) {
          if (auto self = weak.lock())
            net::post(self->stream_.get_executor(), [self, f = std::move(frames), n]() mutable { self->enqueue(std::move(f), n); });
        },
        [weak](std::string reason) {
          if (auto self = weak.lock()) net::post(self->stream_.get_executor(), [self, reason] { self->close_with(reason); });
        },
        [](const delivered& d) { return "id: " + d.token + "\ndata: " + *d.json + "\n\n"; });
  }

 private:
  // A last `event: error` frame with the reason, then the connection is closed.
  void close_with(const std::string& reason) {
    if (closing_ || closed_) return;
    enqueue("event: error\ndata: " + json{{"reason", reason}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n", 0);
    closing_ = true;
    // What is queued gets this long to reach the client; then the connection is dropped.
    stream_.expires_after(gw_.stopping ? std::chrono::milliseconds(1000)
                                       : std::max<std::chrono::milliseconds>(std::chrono::seconds(30), gw_.opts.slow_subscriber_timeout));
    if (!writing_) write_next();
  }

  void enqueue(std::string frame, std::size_t events) {
    if (closed_) return;
    out_.push_back(std::move(frame));
    counts_.push_back(events);
    if (!writing_) write_next();
  }

  void write_next() {
    if (out_.empty()) {
      if (closing_) shutdown();
      return;
    }
    writing_ = true;
    net::async_write(stream_, net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      const auto n = self->counts_.front();
      self->out_.pop_front();
      self->counts_.pop_front();
      if (self->pump_) self->pump_->sent(n);
      if (ec) return self->shutdown();
      self->write_next();
    });
  }

  // A read that only completes when the client goes away.
  void watch_close() {
    stream_.socket().async_read_some(net::buffer(sink_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->shutdown();
      self->watch_close();
    });
  }

  void shutdown() {
    if (pump_) pump_->stop();
    if (closed_) return;
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  beast::tcp_stream stream_;
  gateway::impl& gw_;
  tenancy::context who_;
  stream_credentials creds_;
  std::shared_ptr<pump> pump_;
  std::deque<std::string> out_;
  std::deque<std::size_t> counts_;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::array<char, 256> sink_{};
};

// ---- WebSocket ----

class ws_session : public stream_session, public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(tcp::socket socket, gateway::impl& gw, tenancy::context who, stream_credentials creds)
      : ws_(std::move(socket)), gw_(gw), who_(std::move(who)), creds_(std::move(creds)) {}
  ~ws_session() override {
    if (pump_) pump_->stop();
  }

  void end_stream(const std::string& reason) override {
    net::post(ws_.get_executor(), [self = shared_from_this(), reason] { self->close_with(websocket::close_code::going_away, reason); });
  }
  void stop_reader() override {
    if (auto p = pump_) p->stop();
  }

  void start(request req) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    if (gw_.acc) gw_.acc->audit(who_, req, "/ws", "/ws", 101);
    gw_.stream_opened(weak_from_this());
    ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->gw_.observe("/ws", "GET", 101, 0);
      self->read_subscribe();
    });
  }

 private:
  void read_subscribe() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return;
      const std::string text = beast::buffers_to_string(self->in_.data());
      self->in_.consume(self->in_.size());
      if (self->pump_) return self->read_subscribe();  // later messages are ignored
      auto parsed = parse_json(text, "the subscribe message");
      json j = parsed ? std::move(*parsed) : json();
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
      auto params = shape_ok ? subscription_params(csv, from, type, tenant)
                             : result<subscription_request>(errc::invalid_argument,
                                                            R"(expected {"subscribe":["mission.*"],"from":"earliest|latest|<id>"})");
      // A tenant only ever receives its own events, and never platform topics.
      if (params && !self->who_.platform_admin) {
        params->tenant = self->who_.tenant;
        params->platform_topics = false;
      }
      auto sub = params ? subscription::open(self->gw_.bus, *params, &self->gw_.renders) : result<std::unique_ptr<subscription>>(params.error());
      if (!sub) return self->close_with(websocket::close_code::policy_error, sub.error().message);
      self->enqueue(json{{"subscribed", j["subscribe"]}}.dump(), 0);
      self->pump_ = std::make_shared<pump>(self->gw_, std::move(*sub), recheck_of(self->gw_, self->who_, self->creds_));
      std::weak_ptr<ws_session> weak = self;
      self->pump_->start(
          [weak](std::string frames, std::size_t n) {
            // Frames arrive newline-separated; each WebSocket message carries one event.
            if (auto s = weak.lock())
              net::post(s->ws_.get_executor(), [s, f = std::move(frames), n]() mutable {
                std::size_t start = 0;
                for (std::size_t i = 0; i < n; ++i) {
                  const auto end = f.find('\n', start);
                  s->enqueue(f.substr(start, end - start), 1);
                  start = end + 1;
                }
              });
          },
          [weak](std::string reason) {
            if (auto s = weak.lock()) net::post(s->ws_.get_executor(), [s, reason] { s->close_with(websocket::close_code::try_again_later, reason); });
          },
          [](const delivered& d) { return R"({"id":")" + d.token + R"(","event":)" + *d.json + "}\n"; });
      self->read_subscribe();
    });
  }

  void enqueue(std::string frame, std::size_t events) {
    out_.push_back(std::move(frame));
    counts_.push_back(events);
    if (!writing_) write_next();
  }

  void write_next() {
    if (out_.empty() || closed_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      const auto n = self->counts_.front();
      self->out_.pop_front();
      self->counts_.pop_front();
      if (self->pump_) self->pump_->sent(n);
      if (ec) {
        if (self->pump_) self->pump_->stop();
        return;
      }
      self->write_next();
    });
  }

  void close_with(websocket::close_code code, const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    if (pump_) pump_->stop();
    // Close reasons are limited to 123 bytes by the protocol.
    websocket::close_reason cr(code, reason.substr(0, 123));
    ws_.async_close(cr, [self = shared_from_this()](beast::error_code) {});
  }

  websocket::stream<beast::tcp_stream> ws_;
  gateway::impl& gw_;
  tenancy::context who_;
  stream_credentials creds_;
  beast::flat_buffer in_;
  std::shared_ptr<pump> pump_;
  std::deque<std::string> out_;
  std::deque<std::size_t> counts_;
  bool writing_ = false;
  bool closed_ = false;
};

// ---- plain HTTP ----

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket socket, gateway::impl& gw) : stream_(std::move(socket)), gw_(gw) {}

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    // Vault uploads may be larger than other bodies; the handlers hold each route to its limit.
    parser_->body_limit(std::max(gw_.opts.max_body_bytes, gw_.ledger ? gw_.opts.ledger.max_record_bytes * 4 / 3 + 4096 : 0));
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof) return close();
    if (ec) {
      request dummy{http::verb::get, "/", 11};
      dummy.keep_alive(false);
      response res = ec == http::error::body_limit
                         ? error_response(http::status::payload_too_large, "payload_too_large",
                                          "the body is larger than " + std::to_string(gw_.opts.max_body_bytes) + " bytes", dummy)
                         : error_response(http::status::bad_request, "malformed_request", "malformed HTTP request: " + ec.message(), dummy);
      res.keep_alive(false);
      gw_.observe("invalid", "?", res.result_int(), 0);
      return write(std::move(res));
    }
    request req = parser_->release();
    const auto t = parse_target(std::string_view(req.target().data(), req.target().size()));
    if (auto bad = refuse_invalid_utf8(req, t)) {
      gw_.observe("invalid", std::string(http::to_string(req.method())), bad->result_int(), 0);
      return write(gw_.finish(std::move(*bad), req, "invalid", gw_.next_request_id()));
    }
    const bool ws = t.path == "/ws" && websocket::is_upgrade(req);
    if (ws || (t.path == "/subscribe" && req.method() == http::verb::get)) return open_stream(std::move(req), t, ws);
    if ((req.method() == http::verb::get || req.method() == http::verb::head) && t.segments.size() && t.segments[0] != "tenants") {
      // Reads never block on the bus: answer on the I/O thread and skip two thread hops.
      return write(gw_.serve(req));
    }
    net::post(*gw_.workers, [self = shared_from_this(), req = std::move(req)]() mutable {
      auto res = self->gw_.serve(req);
      net::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  // An SSE or WebSocket subscription: admitted here, then handed to its own session.
  void open_stream(request req, const target& t, bool ws) {
    const auto rid = gw_.next_request_id();
    std::variant<tenancy::context, response> who = response{};
    try {
      who = gw_.admit_stream(req, t);
    } catch (const std::exception& e) {
      who = gw_.internal_error(req, rid, e.what());
    }
    if (auto* denied = std::get_if<response>(&who)) {
      gw_.observe(ws ? "/ws" : "/subscribe", "GET", denied->result_int(), 0);
      denied->keep_alive(false);
      return write(gw_.finish(std::move(*denied), req, ws ? "/ws" : "/subscribe", rid));
    }
    auto creds = credentials_of(req);
    if (auto tok = t.query.find("access_token"); tok != t.query.end() && creds.authorization.empty()) creds.authorization = "Bearer " + tok->second;
    auto ctx = std::get<tenancy::context>(std::move(who));
    if (ws) std::make_shared<ws_session>(stream_.release_socket(), gw_, std::move(ctx), std::move(creds))->start(std::move(req));
    else std::make_shared<sse_session>(std::move(stream_), gw_, std::move(ctx), std::move(creds))->start(req);
  }

  void write(response res) {
    auto sp = std::make_shared<response>(std::move(res));
    const bool keep = sp->keep_alive();
    http::async_write(stream_, *sp, [self = shared_from_this(), sp, keep](beast::error_code ec, std::size_t) {
      if (ec || !keep) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  gateway::impl& gw_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

void do_accept(gateway::impl& gw) {
  gw.acceptor->async_accept(net::make_strand(gw.ioc), [&gw](beast::error_code ec, tcp::socket socket) {
    if (gw.stopping) return;
    if (!ec) {
      beast::error_code opt_ec;
      socket.set_option(tcp::no_delay(true), opt_ec);  // responses are single writes; do not wait for ACKs
      std::make_shared<http_session>(std::move(socket), gw)->run();
    }
    do_accept(gw);
  });
}

}  // namespace

gateway::gateway(bus::event_bus& bus, projection::store& store, missions::missions_projection& proj, projection::feed& feed,
                 gateway_options opts)
    : impl_(std::make_unique<impl>(bus, store, proj, feed, std::move(opts))) {}

gateway::~gateway() { stop(); }

result<std::uint16_t> gateway::start() {
  auto& im = *impl_;
  const auto colon = im.opts.listen.rfind(':');
  if (colon == std::string::npos) return error{errc::invalid_argument, "listen address must be HOST:PORT"};
  beast::error_code ec;
  const auto addr = net::ip::make_address(im.opts.listen.substr(0, colon), ec);
  if (ec) return error{errc::invalid_argument, "bad listen host '" + im.opts.listen.substr(0, colon) + "': " + ec.message()};
  int port = 0;
  try {
    port = std::stoi(im.opts.listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) return error{errc::invalid_argument, "bad listen port in '" + im.opts.listen + "'"};
  im.acceptor = std::make_unique<tcp::acceptor>(im.ioc);
  const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  im.acceptor->open(ep.protocol(), ec);
  if (!ec) im.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) im.acceptor->bind(ep, ec);
  if (!ec) im.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return error{errc::unavailable, "cannot listen on " + im.opts.listen + ": " + ec.message()};
  im.workers = std::make_unique<net::thread_pool>(static_cast<std::size_t>(std::max(1, im.opts.workers)));
  do_accept(im);
  // A handler that throws is logged and counted; the thread goes back to serving.
  for (int i = 0; i < std::max(1, im.opts.io_threads); ++i)
    im.io_threads.emplace_back([&im] {
      while (!nf::log::guarded("http-io", [&im] { im.ioc.run(); }) && !im.ioc.stopped()) {
      }
    });
  const auto bound = im.acceptor->local_endpoint().port();
  im.log->info("gateway listening on http://{}:{}", im.opts.listen.substr(0, colon), bound);
  return bound;
}

std::string gateway::respond(std::string_view raw) {
  auto& gw = *impl_;
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(std::max(gw.opts.max_body_bytes, gw.ledger ? gw.opts.ledger.max_record_bytes * 4 / 3 + 4096 : 0));
  parser.header_limit(16 * 1024);
  beast::error_code ec;
  std::size_t used = 0;
  while (!ec && used < raw.size() && !parser.is_done()) {
    const auto n = parser.put(net::buffer(raw.data() + used, raw.size() - used), ec);
    if (n == 0 && !ec) break;
    used += n;
  }
  if (!ec && !parser.is_done()) {
    parser.put_eof(ec);
    if (!ec && !parser.is_done()) ec = http::error::partial_message;
  }
  response res;
  if (ec) {
    request dummy{http::verb::get, "/", 11};
    res = ec == http::error::body_limit ? error_response(http::status::payload_too_large, "payload_too_large", "the body is too large", dummy)
                                        : error_response(http::status::bad_request, "malformed_request", "malformed HTTP request: " + ec.message(), dummy);
  } else {
    request req = parser.release();
    const auto t = parse_target(std::string_view(req.target().data(), req.target().size()));
    if (auto bad = refuse_invalid_utf8(req, t)) {
      res = gw.finish(std::move(*bad), req, "invalid", gw.next_request_id());
    } else if ((t.path == "/ws" && websocket::is_upgrade(req)) || (t.path == "/subscribe" && req.method() == http::verb::get)) {
      std::variant<tenancy::context, response> who = response{};
      try {
        who = gw.admit_stream(req, t);
      } catch (const std::exception& e) {
        who = gw.internal_error(req, gw.next_request_id(), e.what());
      }
      if (auto* denied = std::get_if<response>(&who)) res = std::move(*denied);
      else res = json_response(http::status::ok, json{{"stream", "admitted"}}, req);
    } else {
      res = gw.serve(req);
    }
  }
  std::ostringstream out;
  out << res;
  return out.str();
}

void gateway::usage_applied(const std::vector<std::string>& tenants) {
  if (impl_->acc && !impl_->stopping) impl_->acc->usage_applied(tenants);
}

void gateway::stop() {
  auto& im = *impl_;
  if (im.stopping.exchange(true)) return;
  // 1. No new connections.
  if (im.acceptor) {
    std::promise<void> closed;
    net::post(im.ioc, [&] {
      beast::error_code ec;
      im.acceptor->close(ec);
      closed.set_value();
    });
    if (!im.io_threads.empty()) closed.get_future().wait_for(std::chrono::seconds(1));
  }
  // 2. Every stream gets a last frame saying why it ends, and its reader is stopped. Readers
  // notice within one poll (at most half a second) and close their subscriptions.
  std::size_t open = 0;
  for (const auto& st : im.open_streams()) {
    st->end_stream("server stopping");
    st->stop_reader();
    ++open;
  }
  {
    std::unique_lock lk(im.subs_mu);
    im.subs_cv.wait(lk, [&] { return im.subs_running == 0; });
  }
  // 3. Handlers in flight finish (appends and read-your-writes waits are bounded).
  if (im.workers) im.workers->join();
  // 4. The last frames get a moment to reach their clients, then I/O stops.
  const auto flush_until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (std::chrono::steady_clock::now() < flush_until && !im.open_streams().empty())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  im.ioc.stop();
  for (auto& t : im.io_threads)
    if (t.joinable()) t.join();
  im.io_threads.clear();
  // 5. The last audit records and request meters reach the bus before the bus closes.
  if (im.acc) im.acc->stop();
  im.log->info("gateway stopped ({} streams were open)", open);
}

}  // namespace nf::gateway
