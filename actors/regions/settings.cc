#include "actors/regions/settings.h"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/bus/bus.h"

namespace nf::regions {

namespace {

using json = nlohmann::json;

result<regions_settings> read(const std::string& text) {
  regions_settings s;
  if (text.empty()) return s;
  const auto j = json::parse(text, nullptr, false);
  if (!j.is_object()) return error{errc::invalid_argument, "config key 'regions': must be an object of regions by name"};
  for (const auto& [name, r] : j.items()) {
    const std::string where = "config key 'regions." + name + "'";
    if (!bus::validate_topic_name(name)) return error{errc::invalid_argument, where + ": a region's name is 1 to 249 of [a-zA-Z0-9._-]"};
    if (!r.is_object()) return error{errc::invalid_argument, where + ": must be an object with data_dir, bus and location"};
    json bus_part = json::object();
    for (const auto& [k, v] : r.items()) {
      if (k == "data_dir" || k == "bus") {
        bus_part[k] = v;
      } else if (k == "location") {
        if (!v.is_object() || v.size() != 2 || !v.contains("lat") || !v.contains("lon") || !v["lat"].is_number() || !v["lon"].is_number() ||
            std::abs(v["lat"].get<double>()) > 90 || std::abs(v["lon"].get<double>()) > 180)
          return error{errc::invalid_argument, "config key 'regions." + name + ".location': must be {\"lat\": -90..90, \"lon\": -180..180}"};
        s.locations[name] = location{v["lat"].get<double>(), v["lon"].get<double>()};
      } else {
        return error{errc::invalid_argument, "config key 'regions." + name + "." + k + "': unknown (data_dir, bus or location)"};
      }
    }
    // The same rules as the top of the file, without the environment. An entry with only a
    // location describes the local region (its bus is the file's own).
    auto parsed = config::parse(bus_part.dump(), "regions." + name, [](const std::string&) { return std::optional<std::string>{}; });
    if (!parsed) return error{errc::invalid_argument, where + ": " + parsed.error().message};
    if (!bus_part.empty() && parsed->bus.kind == config::bus_kind::embedded && !bus_part.contains("data_dir"))
      return error{errc::invalid_argument, where + ": an embedded region needs its data_dir"};
    if (!bus_part.empty()) s.regions[name] = bus_part.dump();
    s.names.push_back(name);
  }
  return s;
}

result<mirror_settings> read_mirror(const std::string& text) {
  mirror_settings s;
  if (text.empty()) return s;
  const auto j = json::parse(text, nullptr, false);
  auto bad = [](const std::string& key, const std::string& why) { return error{errc::invalid_argument, "config key 'mirror." + key + "': " + why}; };
  if (!j.is_object()) return error{errc::invalid_argument, "config key 'mirror': must be an object"};
  auto topics = [&](const json& v, const std::string& key, std::vector<std::string>& out) -> result<void> {
    if (!v.is_array() || v.empty()) return bad(key, "must be a non-empty array of topic names or patterns");
    out.clear();
    for (const auto& t : v) {
      if (!t.is_string() || t.get<std::string>().empty()) return bad(key, "must be a non-empty array of topic names or patterns");
      out.push_back(t.get<std::string>());
    }
    return ok();
  };
  for (const auto& [k, v] : j.items()) {
    if (k == "topics") {
      NF_TRY(topics(v, "topics", s.topics));
      s.topics_set = true;
    } else if (k == "lag_refresh_ms" || k == "heartbeat_ms" || k == "down_after_ms") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 10 || v.get<std::int64_t>() > 600'000) return bad(k, "must be from 10 to 600000");
      (k == "lag_refresh_ms" ? s.lag_refresh_ms : k == "heartbeat_ms" ? s.heartbeat_ms : s.down_after_ms) = v.get<std::int64_t>();
    } else if (k == "routing") {
      if (!v.is_object()) return bad(k, "must be an object");
      for (const auto& [rk, rv] : v.items()) {
        if (rk == "latency_ms") {
          if (!rv.is_object()) return bad("routing.latency_ms", "must be {from: {to: ms}}");
          for (const auto& [from, row] : rv.items()) {
            if (!row.is_object()) return bad("routing.latency_ms." + from, "must be {to: ms}");
            for (const auto& [to, ms] : row.items()) {
              if (!ms.is_number() || ms.get<double>() < 0) return bad("routing.latency_ms." + from + "." + to, "must be a number of ms >= 0");
              s.routing.latency_ms[from][to] = ms.get<double>();
            }
          }
        } else if (rk == "overload" || rk == "load_penalty_ms" || rk == "lag_penalty" || rk == "km_per_ms") {
          if (!rv.is_number() || rv.get<double>() < 0 || (rk == "km_per_ms" && rv.get<double>() <= 0)) return bad("routing." + rk, "must be a positive number");
          (rk == "overload" ? s.routing.overload : rk == "load_penalty_ms" ? s.routing.load_penalty_ms : rk == "lag_penalty" ? s.routing.lag_penalty : s.routing.km_per_ms) =
              rv.get<double>();
        } else {
          return bad("routing." + rk, "unknown (latency_ms, overload, load_penalty_ms, lag_penalty or km_per_ms)");
        }
      }
    } else if (k == "links") {
      if (!v.is_array()) return bad(k, "must be an array of {from, to?, topics?, batch?}");
      for (std::size_t i = 0; i < v.size(); ++i) {
        const auto& l = v[i];
        const std::string at = "links[" + std::to_string(i) + "]";
        if (!l.is_object() || !l.contains("from") || !l["from"].is_string()) return bad(at + ".from", "is required: the source region");
        link_settings ls;
        for (const auto& [lk, lv] : l.items()) {
          if (lk == "from" || lk == "to") {
            if (!lv.is_string() || lv.get<std::string>().empty()) return bad(at + "." + lk, "must be a region's name");
            (lk == "from" ? ls.from : ls.to) = lv.get<std::string>();
          } else if (lk == "topics") {
            NF_TRY(topics(lv, at + ".topics", ls.topics));
          } else if (lk == "batch") {
            if (!lv.is_number_integer() || lv.get<std::int64_t>() < 1 || lv.get<std::int64_t>() > 100'000) return bad(at + ".batch", "must be from 1 to 100000");
            ls.batch = lv.get<std::int64_t>();
          } else {
            return bad(at + "." + lk, "unknown (from, to, topics or batch)");
          }
        }
        s.links.push_back(std::move(ls));
      }
    } else {
      return bad(k, "unknown (topics, links, lag_refresh_ms, heartbeat_ms, down_after_ms or routing)");
    }
  }
  return s;
}

}  // namespace

result<mirror_settings> mirror_settings_of(const config::config& c) {
  auto it = c.sections.find("mirror");
  NF_TRY_ASSIGN(auto s, read_mirror(it == c.sections.end() ? std::string() : it->second));
  for (auto& l : s.links) {
    if (l.to.empty()) l.to = c.region;
    if (l.from == l.to) return error{errc::invalid_argument, "config key 'mirror.links': a link from region " + l.from + " to itself copies nothing"};
    NF_TRY(region_config(c, l.from));
    NF_TRY_ASSIGN(auto to, region_config(c, l.to));
    if (l.to != c.region && to.bus.kind == config::bus_kind::embedded)
      return error{errc::invalid_argument, "config key 'mirror.links': region " + l.to +
                                               " is an embedded bus that its own server owns; run the link from " + l.from + " in that server"};
  }
  return s;
}

result<void> check_mirror_section(const std::string& json_text) {
  NF_TRY(read_mirror(json_text));
  return ok();
}

result<regions_settings> regions_settings_of(const config::config& c) {
  auto it = c.sections.find("regions");
  return read(it == c.sections.end() ? std::string() : it->second);
}

result<void> check_regions_section(const std::string& json_text) {
  NF_TRY(read(json_text));
  return ok();
}

result<config::config> region_config(const config::config& c, const std::string& name) {
  NF_TRY_ASSIGN(auto s, regions_settings_of(c));
  auto it = s.regions.find(name);
  if (it == s.regions.end()) {
    if (name == c.region) return c;
    std::string known = c.region + " (local)";
    for (const auto& [n, text] : s.regions)
      if (n != c.region) known += ", " + n;
    if (std::find(s.names.begin(), s.names.end(), name) != s.names.end())
      return error{errc::invalid_argument, "region '" + name + "' has no data_dir or bus in the configuration"};
    return error{errc::not_found, "no region '" + name + "' in the configuration; known: " + known};
  }
  auto r = config::parse(it->second, "regions." + name, [](const std::string&) { return std::optional<std::string>{}; });
  if (!r) return std::move(r).error();
  config::config out = c;
  out.region = name;
  out.data_dir = r->data_dir;
  out.bus = r->bus;
  return out;
}

}  // namespace nf::regions
