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

}  // namespace

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
