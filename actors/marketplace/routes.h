// The marketplace routes:
//   POST /marketplace/agents                              marketplace:publish  {manifest, files} -> 202 {name, version, status, digest}
//   GET  /marketplace/agents/{name}                       marketplace:read     the agent: latest version, versions, rating, installs
//   GET  /marketplace/agents/{name}/{version}             marketplace:read     a version: status, findings, benchmark, review, leafIndex
//   GET  /marketplace/agents/{name}/{version}/files?path= marketplace:read     one file's bytes (X-Content-SHA256)
//   POST /marketplace/agents/{name}/{version}/review      marketplace:review   {decision, feedback} -> 200 the version
//   POST /marketplace/agents/{name}/{version}/yank        marketplace:publish  {reason} -> 200 the version
//   POST /marketplace/agents/{name}/{version}/installs    marketplace:install  records an install -> 200
//   POST /marketplace/agents/{name}/ratings               marketplace:install  {stars, text} -> 200 the agent
//   GET  /marketplace/resolve?name=&range=                marketplace:read     {resolved, order} or 409 unsatisfiable / dependency_cycle
//   GET  /marketplace/agents?q=&category=&min_rating=&protocol=&capability=&page=&per_page=&explain=
//                                                         marketplace:read     ranked search (search.h)
// Files are stored in the vault before the command is written, so the command carries digests
// only. Every write is decided by the owner of the agent name's partition (registry.h) through
// the command gateway and answered once this instance's read model shows the outcome.
// Who may: a version's publisher (tenant) and the platform admin see it in every status, others
// once approved (and a `tenant` version only within its tenant). Reviewing a public version is
// the platform admin's; a tenant holding marketplace:review reviews its own tenant-only agents.
// Yanking is the publisher's or the platform admin's.
#pragma once

#include <chrono>
#include <string>
#include <variant>

#include "actors/marketplace/package.h"
#include "actors/marketplace/search.h"
#include "core/base/clock.h"
#include "core/command/gateway.h"
#include "core/http/routes.h"
#include "core/store/vault.h"
#include "projections/marketplace/marketplace.h"

namespace google::protobuf {
class Message;
}

namespace nf::marketplace {

namespace perm {
inline constexpr http::permission read{"marketplace:read"};
inline constexpr http::permission publish{"marketplace:publish"};
inline constexpr http::permission install{"marketplace:install"};
inline constexpr http::permission review{"marketplace:review"};
}  // namespace perm

struct route_options {
  std::string region = "local";
  std::chrono::milliseconds read_your_writes_timeout{5'000};
  std::chrono::milliseconds decision_timeout{15'000};
  package_limits limits;
};

class routes {
 public:
  routes(projection::store& store, marketplace_projection& proj, projection::feed& feed, command::gateway& gateway, store::vault& vault,
         const search_index& index, const nf::clock& clk, route_options opts);
  void add_to(http::route_table& table);

 private:
  http::response publish(const http::route_context& c);
  http::response get_agent(const http::route_context& c);
  http::response get_version(const http::route_context& c);
  http::response get_file(const http::route_context& c);
  http::response review(const http::route_context& c);
  http::response review_queue(const http::route_context& c);
  http::response yank(const http::route_context& c);
  http::response installs(const http::route_context& c);
  http::response rate(const http::route_context& c);
  http::response resolve_route(const http::route_context& c);
  http::response search(const http::route_context& c);

  // Sends a command to the name's owner and waits for its outcome (and for this instance's read
  // model to show it): the outcome event, or the answer (a refusal's 4xx unless `keep_refusal`,
  // 503 when no decision came in time).
  std::variant<command::decided, http::response> decide(const http::route_context& c, const char* type, const std::string& name,
                                                        const google::protobuf::Message& payload, bool keep_refusal = false);
  // The version as the caller may see it, or the 404 (500) answer.
  std::variant<nlohmann::json, http::response> visible_version(const http::route_context& c, const std::string& name,
                                                               const std::string& version);

  projection::feed& feed_;
  command::gateway& gateway_;
  store::vault& vault_;
  const search_index& index_;
  marketplace_view view_;
  const nf::clock& clk_;
  route_options opts_;
};

}  // namespace nf::marketplace
