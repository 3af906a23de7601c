#include "core/feature/projections.h"

#include <algorithm>
#include <chrono>

#include "core/base/rfc3339.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"

namespace nf::feature {

namespace {

using json = nlohmann::json;

// The timestamp of the record at (tp, off), if the bus still holds it.
std::optional<std::int64_t> timestamp_at(bus::event_bus& bus, const topic_partition& tp, std::int64_t off) {
  auto c = bus.make_consumer(bus::consumer_options{});
  if (!c || !(*c)->assign({{tp, offset{off}}})) return std::nullopt;
  auto m = (*c)->poll(std::chrono::milliseconds(200), 1);
  if (!m || m->empty()) return std::nullopt;
  return (*m)[0].timestamp_ms;
}

}  // namespace

result<nlohmann::json> describe_projection(projection::store& store, bus::event_bus& bus, const projection::projection& p, bool with_digest,
                                           const nf::clock& clk, const std::function<void(std::uint64_t)>& digest_progress) {
  NF_TRY_ASSIGN(auto gen, store.generation(p));
  NF_TRY_ASSIGN(auto applied, store.last_applied(p));
  NF_TRY_ASSIGN(auto topics, bus.list_topics());
  const auto patterns = p.topics();
  json positions = json::array();
  std::uint64_t lag = 0;
  std::int64_t lag_ms = 0;
  const std::int64_t now = clk.now_ms();
  for (const auto& t : topics) {
    if (!bus::subscribed_by(patterns, t.name.get())) continue;
    for (std::int32_t i = 0; i < t.config.partitions; ++i) {
      const topic_partition tp{t.name, partition_id{i}};
      NF_TRY_ASSIGN(auto begin, bus.begin_offset(tp));
      NF_TRY_ASSIGN(auto end, bus.end_offset(tp));
      auto it = applied.find(tp);
      const std::int64_t at = std::max(it == applied.end() ? 0 : it->second.get(), begin.get());
      const std::int64_t behind = std::max<std::int64_t>(0, end.get() - at);
      lag += static_cast<std::uint64_t>(behind);
      // How old the first event it has not applied is.
      if (behind > 0)
        if (auto ts = timestamp_at(bus, tp, at)) lag_ms = std::max(lag_ms, now - *ts);
      positions.push_back({{"topic", t.name.get()}, {"partition", i}, {"applied", at}, {"end", end.get()}, {"lag", behind}});
    }
  }
  json out{{"name", p.name()}, {"generation", gen}, {"topics", patterns}, {"positions", std::move(positions)}, {"lagEvents", lag},
           {"lagMs", lag_ms}};
  if (with_digest) {
    NF_TRY_ASSIGN(auto d, store.digest(p, digest_progress));
    out["digest"] = d;
  }
  return out;
}

projection_ops::projection_ops(projection::store& store, bus::event_bus& bus, std::vector<projection::projection*> all, const nf::clock& clk)
    : store_(store), bus_(bus), all_(std::move(all)), clk_(clk) {}

projection_ops::~projection_ops() {
  std::map<std::string, std::thread> ts;
  {
    std::lock_guard lk(mu_);
    ts.swap(threads_);
  }
  for (auto& [name, t] : ts)
    if (t.joinable()) t.join();
}

projection::projection* projection_ops::find(const std::string& name) const {
  for (auto* p : all_)
    if (p->name() == name) return p;
  return nullptr;
}

nlohmann::json projection_ops::to_json(const rebuild_state& r) const {
  json j{{"state", r.state}};
  if (r.state == "idle") return j;
  j["applied"] = r.applied;
  j["total"] = r.total;
  j["eventsPerSecond"] = static_cast<std::int64_t>(r.rate);
  if (r.state == "running" && r.rate > 0 && r.total > r.applied) j["etaSeconds"] = static_cast<double>(r.total - r.applied) / r.rate;
  j["startedAt"] = format_rfc3339(r.started_ms);
  if (r.finished_ms) j["finishedAt"] = format_rfc3339(r.finished_ms);
  j["fromGeneration"] = r.from_gen;
  if (r.to_gen) j["toGeneration"] = r.to_gen;
  if (!r.old_digest.empty()) j["oldDigest"] = r.old_digest;
  if (!r.new_digest.empty()) j["newDigest"] = r.new_digest;
  if (!r.error.empty()) j["error"] = r.error;
  return j;
}

result<nlohmann::json> projection_ops::describe(const projection::projection& p, bool with_digest) {
  NF_TRY_ASSIGN(auto j, describe_projection(store_, bus_, p, with_digest, clk_));
  std::lock_guard lk(mu_);
  j["rebuild"] = to_json(rebuilds_[p.name()]);
  return j;
}

result<nlohmann::json> projection_ops::start_rebuild(projection::projection& p) {
  NF_TRY_ASSIGN(auto gen, store_.generation(p));
  std::lock_guard lk(mu_);
  auto& r = rebuilds_[p.name()];
  if (r.state == "running")
    return error{errc::conflict, "projection '" + p.name() + "' is being rebuilt (" + std::to_string(r.applied) + " of " +
                                     std::to_string(r.total) + " events)"};
  r = rebuild_state{};
  r.state = "running";
  r.started_ms = clk_.now_ms();
  r.from_gen = gen;
  // The previous rebuild of this projection has ended (its state is not running): reap its thread.
  auto& t = threads_[p.name()];
  if (t.joinable()) t.join();
  t = std::thread([this, &p] { run_rebuild(p); });
  return to_json(r);
}

void projection_ops::run_rebuild(projection::projection& p) {
  auto log = nf::log::get("projection");
  auto set = [&](const std::function<void(rebuild_state&)>& fn) {
    std::lock_guard lk(mu_);
    fn(rebuilds_[p.name()]);
  };
  const auto started = std::chrono::steady_clock::now();
  auto fail = [&](const error& e) {
    log->error("rebuild of projection {} failed: {}", p.name(), e.message);
    set([&](rebuild_state& r) {
      r.state = "failed";
      r.error = e.message;
      r.finished_ms = clk_.now_ms();
    });
  };
  try {
    auto before = store_.digest(p);
    if (!before) return fail(before.error());
    set([&](rebuild_state& r) { r.old_digest = *before; });
    auto n = store_.rebuild(p, bus_, [&](const projection::rebuild_progress& pr) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      set([&](rebuild_state& r) {
        r.applied = pr.applied;
        r.total = pr.total;
        r.rate = secs > 0 ? static_cast<double>(pr.applied) / secs : 0;
      });
    });
    if (!n) return fail(n.error());
    auto after = store_.digest(p);
    auto gen = store_.generation(p);
    if (!after) return fail(after.error());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    set([&](rebuild_state& r) {
      r.state = "done";
      r.applied = *n;
      r.total = std::max(r.total, *n);
      r.rate = secs > 0 ? static_cast<double>(*n) / secs : 0;
      r.new_digest = *after;
      r.to_gen = gen ? *gen : 0;
      r.finished_ms = clk_.now_ms();
    });
    metrics::registry::global().get_counter("nf_projection_rebuilds_total", "Projections rebuilt into a new generation", {{"projection", p.name()}}).inc();
  } catch (const std::exception& e) {
    fail(error{errc::internal, std::string("exception: ") + e.what()});
  }
}

void projection_ops::add_routes(http::route_table& t) {
  const http::response_doc err{"the error", http::schema::ref("Error")};
  const json projection_schema{{"type", "object"}, {"required", {"name", "generation", "positions", "lagEvents", "rebuild"}}};
  const http::param_doc digest{"digest", "also compute each digest (reads the whole state)", http::schema::boolean()};
  const http::param_doc name{"name", "the projection", http::schema::string(), true, "path"};
  auto wants_digest = [](const http::route_context& c) {
    auto it = c.t.query.find("digest");
    return it != c.t.query.end() && (it->second == "true" || it->second == "1");
  };
  t.add({.method = http::verb::get, .path = "/projections", .perm = http::permission{"cluster:read"},
         .summary = "Every read model: generation, applied positions, lag, rebuild state, digest on demand", .tag = "operations",
         .params = {digest},
         .responses = {{200, {"the read models", http::schema::object({{"projections", http::schema::array(projection_schema)}})}}},
         .handler = [this, wants_digest](const http::route_context& c) {
           json all = json::array();
           for (auto* p : all_) {
             auto d = describe(*p, wants_digest(c));
             if (!d) return http::failure(d.error(), c.req);
             all.push_back(std::move(*d));
           }
           return http::json_response(http::status::ok, json{{"projections", std::move(all)}}, c.req);
         }});
  t.add({.method = http::verb::get, .path = "/projections/{name}", .perm = http::permission{"cluster:read"},
         .summary = "One read model", .tag = "operations", .params = {name, digest},
         .responses = {{200, {"the read model", projection_schema}}, {404, err}},
         .handler = [this, wants_digest](const http::route_context& c) {
           auto* p = find(c.path_param("name"));
           if (!p) return http::error_response(http::status::not_found, "not_found", "no projection '" + c.path_param("name") + "'", c.req);
           auto d = describe(*p, wants_digest(c));
           if (!d) return http::failure(d.error(), c.req);
           return http::json_response(http::status::ok, *d, c.req);
         }});
  t.add({.method = http::verb::post, .path = "/projections/{name}/rebuild", .perm = http::permission{"cluster:write"},
         .summary = "Rebuild a read model into a new generation from the log; queries use the old one until the swap", .tag = "operations",
         .params = {name},
         .responses = {{202, {"started; GET /projections/{name} shows progress and, at the end, both digests", json{{"type", "object"}}}},
                       {404, err},
                       {409, {"a rebuild of it is running", http::schema::ref("Error")}}},
         .handler = [this](const http::route_context& c) {
           auto* p = find(c.path_param("name"));
           if (!p) return http::error_response(http::status::not_found, "not_found", "no projection '" + c.path_param("name") + "'", c.req);
           auto r = start_rebuild(*p);
           if (!r) {
             if (r.error().code == errc::conflict) return http::error_response(http::status::conflict, "rebuilding", r.error().message, c.req);
             return http::failure(r.error(), c.req);
           }
           return http::json_response(http::status::accepted, json{{"name", p->name()}, {"rebuild", *r}}, c.req);
         }});
}

}  // namespace nf::feature
