// The missions routes:
//   POST /missions                       missions:write  MissionPrompt -> 202 {id, topic, partition, offset}
//   GET  /missions?status=&priority=&limit=&cursor=   missions:read   newest first (a tenant: its own)
//   GET  /missions/{id}                  missions:read   the mission document
//   POST /missions/{id}/artifacts        missions:write  ArtifactEvidence -> 202
//   POST /missions/{id}/validations      missions:write  ValidationReport (of a recorded artifact) -> 202
//   POST /agents/lifecycle               missions:write  AgentLifecycleEvent -> 202
//   GET  /agents                         missions:read   agents not retired
// Writes answer once the missions projection shows them (bounded by read_your_writes_timeout).
//
// POST /missions is idempotent on the mission id: the same id and body answer with the original
// position; another body (or another tenant's mission) answers 409. An id this instance's read
// model already has is answered from it; a new one is decided by the id's owner (prompt_owner,
// through the command gateway), so concurrent posts of one id to any instances give one prompt.
// No decision within decision_timeout: 503 not_decided with Retry-After (the command is kept).
#pragma once

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/command/gateway.h"
#include "core/http/routes.h"
#include "projections/missions/missions.h"

namespace nf::missions {

namespace perm {
inline constexpr http::permission read{"missions:read"};
inline constexpr http::permission write{"missions:write"};
}  // namespace perm

struct route_options {
  std::string region = "local";
  std::chrono::milliseconds read_your_writes_timeout{5'000};
  // POST /missions waits this long for the owner's decision: longer than a rebalance of the
  // owner's group (a rolling restart revokes every partition for a few seconds), so a restart
  // elsewhere delays requests instead of failing them.
  std::chrono::milliseconds decision_timeout{15'000};
};

class routes {
 public:
  routes(bus::event_bus& bus, projection::store& store, missions_projection& proj, projection::feed& feed, command::gateway& gateway,
         const nf::clock& clk, route_options opts);
  void add_to(http::route_table& table);

 private:
  http::response post_mission(const http::route_context& c);
  http::response post_artifact(const http::route_context& c);
  http::response post_validation(const http::route_context& c);
  http::response post_agent(const http::route_context& c);
  http::response get_mission(const http::route_context& c);
  http::response list_missions(const http::route_context& c);
  http::response get_agents(const http::route_context& c);

  struct appended {
    bus::append_result at;
    std::string event_id;
  };
  result<appended> append(const http::caller& who, const char* topic, const std::string& type, const std::string& key,
                          const nlohmann::json& payload, const std::map<std::string, std::string>& headers = {});
  // Waits (bounded) until the projection shows the event; false when it did not in time.
  bool wait_visible(const char* topic, const bus::append_result& r);
  // The mission as the caller may see it, or the 404/500 answer.
  std::variant<nlohmann::json, http::response> visible_mission(const http::route_context& c, const std::string& id);

  bus::event_bus& bus_;
  projection::feed& feed_;
  command::gateway& gateway_;
  missions_view view_;
  const nf::clock& clk_;
  route_options opts_;
};

}  // namespace nf::missions
