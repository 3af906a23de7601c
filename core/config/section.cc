// Feature sections of the config file.
#include "core/config/section.h"

namespace nf::config {

result<section_reader> section_reader::parse(const std::string& name, const std::string& text, std::set<std::string> allowed) {
  auto j = text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return error{errc::invalid_argument, "config key '" + name + "': expected an object"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!allowed.count(it.key())) return error{errc::invalid_argument, "config key '" + name + "." + it.key() + "': unknown key"};
  return section_reader(name, std::move(j));
}

result<section_reader> section_reader::open(const config& c, const std::string& name, std::set<std::string> allowed) {
  auto it = c.sections.find(name);
  return parse(name, it == c.sections.end() ? std::string() : it->second, std::move(allowed));
}

error section_reader::bad(const char* key, const std::string& why) const {
  return error{errc::invalid_argument, "config key '" + name_ + "." + key + "': " + why};
}

result<void> section_reader::get(const char* key, std::string& out) const {
  auto it = j_.find(key);
  if (it == j_.end()) return ok();
  if (!it->is_string()) return bad(key, "expected a string");
  out = it->get<std::string>();
  return ok();
}

result<void> section_reader::get(const char* key, std::int64_t& out) const {
  auto it = j_.find(key);
  if (it == j_.end()) return ok();
  if (!it->is_number_integer()) return bad(key, "expected an integer");
  out = it->get<std::int64_t>();
  return ok();
}

result<void> section_reader::get(const char* key, bool& out) const {
  auto it = j_.find(key);
  if (it == j_.end()) return ok();
  if (!it->is_boolean()) return bad(key, "expected true or false");
  out = it->get<bool>();
  return ok();
}

result<void> section_reader::get(const char* key, std::vector<std::string>& out) const {
  auto it = j_.find(key);
  if (it == j_.end()) return ok();
  if (!it->is_array()) return bad(key, "expected an array of names");
  std::vector<std::string> v;
  for (const auto& x : *it) {
    if (!x.is_string() || x.get<std::string>().empty()) return bad(key, "expected an array of names");
    v.push_back(x.get<std::string>());
  }
  out = std::move(v);
  return ok();
}

}  // namespace nf::config
