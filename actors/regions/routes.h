// The regions routes (platform admin only):
//   GET /regions                       the local region, the configured ones, and every link serve
//                                      runs with its state and lag per partition
//   GET /regions/route?client=<region>|<lat>,<lon>
//                                      the healthy region with the lowest estimated latency
//   POST /regions/failover {from}      promote this region in place of `from`: only when its
//                                      ledger is proved to extend the last tree head `from` signed
//   GET /regions/translate?group=&from=&to=
//                                      a consumer group's committed positions in region `from` as
//                                      positions in this region (`to`, default this one), from the
//                                      regions read model's exact offset map
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "actors/regions/links.h"
#include "actors/regions/routing.h"
#include "actors/regions/settings.h"
#include "core/http/routes.h"
#include "core/projection/projection.h"
#include "projections/regions/regions.h"

namespace nf::regions {

namespace perm {
inline constexpr http::permission read{"regions:read"};
inline constexpr http::permission write{"regions:write"};
}  // namespace perm

struct route_deps {
  const config::config& cfg;
  bus::event_bus& local;
  const mirror_settings& mirror;
  std::vector<std::unique_ptr<link_runner>>& links;
  // A region's bus for reading committed positions (opened once, on first use).
  std::function<result<bus::event_bus*>(const std::string& region)> bus_of;
  const nf::clock& clock;
};

class routes {
 public:
  // `feed` is null for a lone region (no other region configured): its read model is not fed.
  routes(route_deps deps, ::nf::projection::store& store, const regions_projection& proj, ::nf::projection::feed* feed)
      : d_(std::move(deps)), view_(store, proj), feed_(feed) {}
  void add_to(http::route_table& t);

 private:
  http::response list(const http::route_context& c);
  http::response translate(const http::route_context& c);
  http::response route_client(const http::route_context& c);
  http::response failover(const http::route_context& c);
  // Every region known (configured, local, or heard from) with its health from its heartbeats.
  result<std::vector<region_state>> health(std::map<std::string, nlohmann::json>* beats = nullptr);

  route_deps d_;
  regions_view view_;
  ::nf::projection::feed* feed_;
};

}  // namespace nf::regions
