// The dead letters routes: what actors parked, handed back to them or given up on.
//   GET  /deadletters                  ?actor=&status=&limit=   (newest first)
//   GET  /deadletters/{id}             one, with the parked event
//   POST /deadletters/{id}/replay      hand it back to the actor that parked it (202)
//   POST /deadletters/{id}/discard     {"reason"?}: give up on it (an event, not a deletion)
// The platform admin sees every dead letter; a tenant's admin those of the tenant's events.
#pragma once

#include <mutex>
#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/http/routes.h"
#include "projections/deadletters/deadletters.h"

namespace nf::deadletters {

namespace perm {
inline constexpr http::permission read{"deadletters:read"};
inline constexpr http::permission write{"deadletters:write"};
}  // namespace perm

class routes {
 public:
  routes(bus::event_bus& bus, ::nf::projection::store& store, const deadletters_projection& proj, ::nf::projection::feed& feed,
         const nf::clock& clk, std::string region)
      : bus_(bus), view_(store, proj), feed_(feed), clk_(clk), region_(std::move(region)) {}
  void add_to(http::route_table& t);

 private:
  http::response list(const http::route_context& c);
  http::response show(const http::route_context& c);
  // replay (true) or discard (false): the same checks, another event.
  http::response act(const http::route_context& c, bool replay);
  std::variant<nlohmann::json, http::response> visible(const http::route_context& c, const std::string& id);

  bus::event_bus& bus_;
  deadletters_view view_;
  ::nf::projection::feed& feed_;
  const nf::clock& clk_;
  std::string region_;
  // One action at a time on this instance: the status check, the append it allows, and the read
  // model applying it, so two concurrent replays of one dead letter cannot both pass the check.
  std::mutex act_mu_;
};

}  // namespace nf::deadletters
