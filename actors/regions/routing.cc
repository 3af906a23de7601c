#include "actors/regions/routing.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <numbers>

namespace nf::regions {

double distance_km(const location& a, const location& b) {
  constexpr double kEarthKm = 6371.0;
  const double rad = std::numbers::pi / 180.0;
  const double dlat = (b.lat - a.lat) * rad, dlon = (b.lon - a.lon) * rad;
  const double h = std::sin(dlat / 2) * std::sin(dlat / 2) + std::cos(a.lat * rad) * std::cos(b.lat * rad) * std::sin(dlon / 2) * std::sin(dlon / 2);
  return 2 * kEarthKm * std::asin(std::min(1.0, std::sqrt(h)));
}

result<client_at> parse_client(const std::string& text) {
  if (text.empty()) return error{errc::invalid_argument, "client: a region's name or LAT,LON"};
  if (text.size() > 249) return error{errc::invalid_argument, "client: longer than 249 characters"};
  const auto comma = text.find(',');
  client_at c;
  if (comma == std::string::npos) {
    for (char ch : text)
      if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.'))
        return error{errc::invalid_argument, "client: '" + text + "' is neither a region's name nor LAT,LON"};
    c.region = text;
    return c;
  }
  location l;
  auto num = [](std::string_view s, double& out) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size() && std::isfinite(out);
  };
  if (!num(std::string_view(text).substr(0, comma), l.lat) || !num(std::string_view(text).substr(comma + 1), l.lon))
    return error{errc::invalid_argument, "client: '" + text + "' is not LAT,LON in degrees"};
  if (l.lat < -90 || l.lat > 90) return error{errc::invalid_argument, "client: latitude must be from -90 to 90"};
  if (l.lon < -180 || l.lon > 180) return error{errc::invalid_argument, "client: longitude must be from -180 to 180"};
  c.where = l;
  return c;
}

result<route_decision> route(const client_at& client, const std::vector<region_state>& regions, const routing_policy& policy) {
  const std::map<std::string, double>* row = nullptr;
  std::optional<location> from = client.where;
  if (client.region) {
    auto it = policy.latency_ms.find(*client.region);
    if (it != policy.latency_ms.end()) row = &it->second;
    const auto self = std::find_if(regions.begin(), regions.end(), [&](const region_state& r) { return r.name == *client.region; });
    if (!row && self == regions.end()) return error{errc::not_found, "client: no region '" + *client.region + "'"};
    if (self != regions.end() && self->where) from = self->where;
  }
  route_decision d;
  for (const auto& r : regions) {
    candidate c;
    c.region = r.name;
    c.up = r.up;
    c.overloaded = r.load >= policy.overload;
    bool known = true;
    if (row && row->count(r.name)) {
      c.base_ms = row->at(r.name);
    } else if (client.region && *client.region == r.name) {
      c.base_ms = 0;  // the client's own region
    } else if (from && r.where) {
      c.base_ms = distance_km(*from, *r.where) / policy.km_per_ms;
    } else {
      known = false;
      c.base_ms = 1e9;
    }
    c.cost_ms = c.base_ms + policy.load_penalty_ms * std::clamp(r.load, 0.0, 1.0) + policy.lag_penalty * static_cast<double>(std::max<std::int64_t>(0, r.lag_ms));
    c.why = !r.up ? "down" : !known ? "no latency known" : c.overloaded ? "overloaded" : "slower";
    d.ranked.push_back(std::move(c));
  }
  // Up and not overloaded first, then up but overloaded, then down; each by cost, then name.
  auto tier = [](const candidate& c) { return !c.up ? 2 : c.overloaded ? 1 : 0; };
  std::sort(d.ranked.begin(), d.ranked.end(), [&](const candidate& a, const candidate& b) {
    if (tier(a) != tier(b)) return tier(a) < tier(b);
    if (a.cost_ms != b.cost_ms) return a.cost_ms < b.cost_ms;
    return a.region < b.region;
  });
  if (!d.ranked.empty() && d.ranked.front().up) {
    d.region = d.ranked.front().region;
    d.ranked.front().why = d.ranked.front().overloaded ? "chosen (every healthy region is overloaded)" : "chosen";
  }
  return d;
}

}  // namespace nf::regions
