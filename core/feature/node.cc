// A node: features, actors, topic routes and the HTTP server, started and stopped in order.
#include "core/feature/node.h"

#include "core/feature/cluster.h"
#include "core/feature/backup.h"
#include "core/feature/projections.h"
#include "core/log/log.h"
#include "core/streams/routes.h"

namespace nf::feature {

class topic_routes_holder {
 public:
  topic_routes_holder(bus::event_bus& bus, const streams::topic_visibility& v) : routes(bus, v) {}
  streams::topic_routes routes;
};

node::node(const config::config& cfg, bus::event_bus& bus, projection::store& store, std::vector<std::unique_ptr<feature>> features,
           node_options o)
    : cfg_(cfg), bus_(bus), store_(store), features_(std::move(features)), opts_(std::move(o)) {
  actor::runtime_options ro;
  ro.region = cfg_.region;
  ro.clock = opts_.clock;
  actors_ = std::make_unique<actor::runtime>(bus_, ro);
}

node::~node() { stop(); }

std::vector<topic_spec> node::topics(const std::vector<std::unique_ptr<feature>>& features) {
  std::vector<topic_spec> t{{.name = topic_name{actor::kDeadLetterTopic}, .partitions = 1},
                            {.name = topic_name{actor::kReplayTopic}, .partitions = 1},
                            {.name = topic_name{kInstancesTopic}, .single_partition = true, .compact = true}};
  for (const auto& f : features)
    for (auto& spec : f->topics()) t.push_back(std::move(spec));
  return t;
}

result<void> node::start() {
  for (const auto& f : features_) f->register_events(event::type_registry::global());
  NF_TRY(ensure_topics(bus_, cfg_, topics(features_)));
  // Dead letters hold other tenants' events: the platform admin's only.
  visibility_.restrict("platform.*");
  const nf::clock& clk = opts_.clock ? *opts_.clock : system_clock::instance();
  host h{cfg_, bus_, store_, *actors_, routes_, visibility_, clk, feeds_, opts_.http.version};
  for (auto& f : features_) {
    if (auto r = f->start(h); !r) {
      stop();
      return error{r.error().code, std::string(f->name()) + ": " + r.error().message};
    }
    started_.push_back(f.get());
  }
  // Every feature's read models: described, digested and rebuilt online (core/feature/projections.h).
  std::vector<projection::projection*> all;
  for (auto* f : started_)
    for (auto* p : f->projections()) all.push_back(p);
  projections_ = std::make_unique<projection_ops>(store_, bus_, std::move(all), clk);
  projections_->add_routes(routes_);
  // Backups of this instance while it serves (core/feature/backup.h).
  backups_ = std::make_unique<backup_ops>(backup_sources{store_, bus_, cfg_.data_dir}, clk);
  backups_->add_routes(routes_);
  topic_routes_ = std::make_unique<topic_routes_holder>(bus_, visibility_);
  topic_routes_->routes.add_to(routes_);
  if (auto r = actors_->start(); !r) {
    stop();
    return r;
  }
  actors_started_ = true;
  http::admission* adm = &open_;
  for (auto& f : features_)
    if (auto* a = f->admission()) adm = a;
  auto so = opts_.http;
  so.positions = this;
  so.readiness = [this] {
    nlohmann::json details = nlohmann::json::object();
    bool ready = true;
    for (auto* f : started_) ready = f->ready(details) && ready;
    // Within http.ready_lag_events of the end: a load balancer sends reads only where they see
    // (nearly) everything.
    const auto behind = lag();
    details["lag"] = behind;
    details["readyLagEvents"] = cfg_.http.ready_lag_events;
    ready = ready && behind <= static_cast<std::uint64_t>(cfg_.http.ready_lag_events);
    return std::make_pair(ready, details);
  };
  // The cluster as this instance sees it (heartbeats on platform.instances).
  routes_.add({.method = http::verb::get, .path = "/cluster", .perm = http::permission{"cluster:read"},
               .summary = "The instances, their actor groups' partitions and their read models' lag", .tag = "operations",
               .responses = {{200, {"the cluster", nlohmann::json{{"type", "object"}}}}},
               .handler = [this](const http::route_context& c) {
                 if (!members_) return http::error_response(http::status::service_unavailable, "unavailable", "this instance is not listening yet", c.req);
                 return http::json_response(http::status::ok, members_->status(), c.req);
               }});
  server_ = std::make_unique<http::server>(routes_, *adm, so);
  return ok();
}

result<std::uint16_t> node::listen() {
  if (!server_) return error{errc::unavailable, "the node is not started"};
  NF_TRY_ASSIGN(auto port, server_->start());
  // Join the cluster's membership once reachable: an id live elsewhere refuses the start.
  NF_TRY_ASSIGN(auto id, instance_id_of(cfg_));
  membership_options mo;
  mo.instance_id = id;
  const auto colon = cfg_.http.listen.rfind(':');
  mo.address = "http://" + (colon == std::string::npos ? std::string("127.0.0.1") : cfg_.http.listen.substr(0, colon)) + ":" + std::to_string(port);
  mo.report = [this] {
    nlohmann::json actors = nlohmann::json::object();
    for (const auto& [name, parts] : actors_->assignments()) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& tp : parts) list.push_back(to_string(tp));
      actors[name] = list;
    }
    return nlohmann::json{{"lag", lag()}, {"actors", actors}};
  };
  members_ = std::make_unique<membership>(bus_, mo);
  if (auto r = members_->start(); !r) {
    members_.reset();
    server_->stop();
    return r.error();
  }
  nf::log::get("cluster")->info("instance {} at {}", id, mo.address);
  return port;
}

std::uint64_t node::lag() const {
  std::uint64_t total = 0;
  for (auto* f : feeds_) total += f->lag();
  return total;
}

std::string node::token(const std::vector<bus::position>& written) {
  auto id = bus_.cluster_id();
  return bus::encode_position_token(id ? *id : std::string(), written);
}

result<void> node::wait_for(std::string_view token, std::chrono::milliseconds timeout) {
  NF_TRY_ASSIGN(const auto id, bus_.cluster_id());
  NF_TRY_ASSIGN(const auto positions, bus::decode_position_token(token, id));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& p : positions)
    for (auto* f : feeds_) {
      if (!f->consumes(p.tp.topic.get())) continue;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !f->wait_applied(p.tp, p.off, left))
        return error{errc::unavailable, "this instance's read models have not applied " + to_string(p.tp) + "@" +
                                            std::to_string(p.off.get()) + " within " + std::to_string(timeout.count()) + " ms"};
    }
  return ok();
}

std::string node::respond(std::string_view raw) {
  if (!server_) return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
  return server_->respond(raw);
}

void node::stop() {
  if (members_) members_->stop();
  if (server_) server_->stop();
  if (actors_started_) {
    actors_->stop();
    actors_started_ = false;
  }
  feeds_.clear();
  projections_.reset();  // waits for a running rebuild
  backups_.reset();      // and a running backup
  for (auto it = started_.rbegin(); it != started_.rend(); ++it) (*it)->stop();
  started_.clear();
}

}  // namespace nf::feature
