// A node: the features of the product started on one bus and one projection store, their
// actors, the topic and subscription routes, and the HTTP server over the routes they
// registered. `serve` runs one; the fuzzers, benchmarks and component tests assemble the same
// node in process, so they exercise exactly what serve runs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/feature/feature.h"
#include "core/http/server.h"

namespace nf::feature {

struct node_options {
  http::server_options http;
  const nf::clock* clock = nullptr;       // null: the system clock
};

class node final : public http::read_your_writes {
 public:
  // Every reference outlives the node.
  node(const config::config& cfg, bus::event_bus& bus, projection::store& store, std::vector<std::unique_ptr<feature>> features,
       node_options o);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // The topics the core machinery and the features need (serve and kafka-mock create them).
  static std::vector<topic_spec> topics(const std::vector<std::unique_ptr<feature>>& features);

  // Creates missing topics, starts every feature (in order), the topic routes and the actors.
  // On an error, what was started is stopped again; the error names the feature.
  result<void> start();
  // Binds the HTTP server; returns the bound port.
  result<std::uint16_t> listen();
  // One raw HTTP request through the same server, on the calling thread (see http::server).
  std::string respond(std::string_view raw);
  // Intake and streams first, then the actors (they drain and commit), then the features in
  // reverse order. Idempotent.
  void stop();

  const std::vector<std::unique_ptr<feature>>& features() const { return features_; }
  const http::route_table& routes() const { return routes_; }

  // The events this instance's read models have not applied yet.
  std::uint64_t lag() const;

  // Read-your-writes: tokens name this bus's cluster; waits cover every started feature's feeds.
  std::string token(const std::vector<bus::position>& written) override;
  result<void> wait_for(std::string_view token, std::chrono::milliseconds timeout) override;

 private:
  const config::config& cfg_;
  bus::event_bus& bus_;
  projection::store& store_;
  std::vector<std::unique_ptr<feature>> features_;
  node_options opts_;
  std::unique_ptr<actor::runtime> actors_;
  http::route_table routes_;
  streams::topic_visibility visibility_;
  std::unique_ptr<class topic_routes_holder> topic_routes_;
  http::open_admission open_;
  std::unique_ptr<http::server> server_;
  std::unique_ptr<class membership> members_;
  std::vector<projection::feed*> feeds_;
  std::unique_ptr<class projection_ops> projections_;
  std::unique_ptr<class backup_ops> backups_;
  std::vector<feature*> started_;
  bool actors_started_ = false;
};

}  // namespace nf::feature
