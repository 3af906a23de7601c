// Route table: registration and matching of path templates.
#include "core/http/routes.h"

#include <stdexcept>

namespace nf::http {

namespace {
std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const auto slash = path.find('/', i);
    out.push_back(path.substr(i, slash - i));
    if (slash == std::string::npos) break;
    i = slash;
  }
  return out;
}
bool is_param(const std::string& seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }
}  // namespace

void route_table::add(route r) {
  auto segs = split(r.path);
  for (std::size_t i = 0; i < routes_.size(); ++i)
    if (routes_[i]->method == r.method && templates_[i] == segs)
      throw std::invalid_argument("route " + std::string(to_string(r.method)) + " " + r.path + " is registered twice");
  if (r.stream != stream_kind::none && !r.open) throw std::invalid_argument("stream route " + r.path + " has no open function");
  if (r.stream == stream_kind::none && !r.handler && !r.deferred) throw std::invalid_argument("route " + r.path + " has no handler");
  if (r.handler && r.deferred) throw std::invalid_argument("route " + r.path + " has both a handler and a deferred handler");
  routes_.push_back(std::make_unique<route>(std::move(r)));
  templates_.push_back(std::move(segs));
}

route_table::match route_table::find(verb method, const std::vector<std::string>& segments) const {
  match out;
  int best_literals = -1;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const auto& tpl = templates_[i];
    if (tpl.size() != segments.size()) continue;
    int literals = 0;
    bool ok = true;
    for (std::size_t s = 0; s < tpl.size() && ok; ++s) {
      if (is_param(tpl[s])) ok = !segments[s].empty();
      else if (tpl[s] == segments[s]) ++literals;
      else ok = false;
    }
    if (!ok) continue;
    // A literal segment beats a parameter: /ledger/tree-head before /ledger/{anything}.
    if (literals > best_literals) {
      best_literals = literals;
      out.allowed.clear();
      out.r = nullptr;
      out.params.clear();
    } else if (literals < best_literals) {
      continue;
    }
    out.allowed.push_back(routes_[i]->method);
    if (routes_[i]->method == method) {
      out.r = routes_[i].get();
      for (std::size_t s = 0; s < tpl.size(); ++s)
        if (is_param(tpl[s])) out.params[tpl[s].substr(1, tpl[s].size() - 2)] = segments[s];
    }
  }
  return out;
}

std::size_t route_table::max_body(std::size_t default_limit) const {
  std::size_t m = default_limit;
  for (const auto& r : routes_) m = std::max(m, r->max_body);
  return m;
}

namespace schema {
json string(std::string description) {
  json j{{"type", "string"}};
  if (!description.empty()) j["description"] = std::move(description);
  return j;
}
json integer(std::string description) {
  json j{{"type", "integer"}};
  if (!description.empty()) j["description"] = std::move(description);
  return j;
}
json boolean() { return json{{"type", "boolean"}}; }
json array(json items) { return json{{"type", "array"}, {"items", std::move(items)}}; }
json object(json properties, std::vector<std::string> required) {
  json j{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) j["required"] = required;
  return j;
}
json enumeration(std::vector<std::string> values) { return json{{"type", "string"}, {"enum", values}}; }
json ref(const std::string& component) { return json{{"$ref", "#/components/schemas/" + component}}; }
}  // namespace schema

}  // namespace nf::http
