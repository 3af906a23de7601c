// A feature's own section of the config file (e.g. "ledger", "auth"). The feature registers the
// section's name and its check before the config is loaded (register_section); the config keeps
// the section as JSON text and runs the check at load, so a bad key fails at start-up with a
// message naming it; the feature reads its settings with section_reader, with the same strict
// rules (unknown keys and wrong types name the key) as the core sections.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/config/config.h"

namespace nf::config {

// ok, or invalid_argument whose message names the offending key ("config key 'ledger.x': ...").
using section_check = std::function<result<void>(const std::string& json_text)>;
// Makes `name` a known top-level key of the config file. Call before load/parse (start-up).
void register_section(const std::string& name, section_check check);

class section_reader {
 public:
  // The section `name` of `c` (an empty object when the file has none), holding only `allowed` keys.
  static result<section_reader> open(const config& c, const std::string& name, std::set<std::string> allowed);
  // The same, from the section's JSON text (for the check run at load).
  static result<section_reader> parse(const std::string& name, const std::string& text, std::set<std::string> allowed);
  // Each leaves `out` unchanged when the key is absent.
  result<void> get(const char* key, std::string& out) const;
  result<void> get(const char* key, std::int64_t& out) const;
  result<void> get(const char* key, bool& out) const;
  result<void> get(const char* key, std::vector<std::string>& out) const;  // an array of non-empty strings
  // invalid_argument "config key '<section>.<key>': <why>".
  error bad(const char* key, const std::string& why) const;

 private:
  section_reader(std::string name, nlohmann::json j) : name_(std::move(name)), j_(std::move(j)) {}
  std::string name_;
  nlohmann::json j_;
};

}  // namespace nf::config
