#include "actors/regions/settings.h"

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
    if (!r.is_object()) return error{errc::invalid_argument, where + ": must be an object with data_dir and bus"};
    for (const auto& [k, v] : r.items()) {
      (void)v;
      if (k != "data_dir" && k != "bus") return error{errc::invalid_argument, "config key 'regions." + name + "." + k + "': unknown (data_dir or bus)"};
    }
    // The same rules as the top of the file, without the environment.
    auto parsed = config::parse(r.dump(), "regions." + name, [](const std::string&) { return std::optional<std::string>{}; });
    if (!parsed) return error{errc::invalid_argument, where + ": " + parsed.error().message};
    if (parsed->bus.kind == config::bus_kind::embedded && !r.contains("data_dir"))
      return error{errc::invalid_argument, where + ": an embedded region needs its data_dir"};
    s.regions[name] = r.dump();
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
    } else if (k == "lag_refresh_ms") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 10 || v.get<std::int64_t>() > 600'000) return bad(k, "must be from 10 to 600000");
      s.lag_refresh_ms = v.get<std::int64_t>();
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
      return bad(k, "unknown (topics, links or lag_refresh_ms)");
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
