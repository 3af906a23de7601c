#include "actors/workflows/json_schema.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>

namespace nf::workflows {

using json = nlohmann::json;

struct json_schema::rule {
  std::set<std::string> types;  // empty: any
  std::vector<std::string> required;
  std::map<std::string, std::shared_ptr<const rule>> properties;
  std::optional<bool> additional;  // additionalProperties
  std::shared_ptr<const rule> items;
  std::optional<json> enumeration;
  std::optional<double> minimum, maximum;
  std::optional<std::size_t> min_length, max_length, min_items, max_items;
};

namespace {

constexpr int kMaxDepth = 32;

// JSON pointer escaping of one reference token.
std::string token(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// UTF-8 code points, as JSON Schema counts string length.
std::size_t code_points(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

result<std::shared_ptr<const json_schema::rule>> compile_rule(const json& s, const std::string& at, int depth) {
  using rule = json_schema::rule;
  auto bad = [&](const std::string& key, const std::string& why) { return error{errc::invalid_argument, at + "/" + key + ": " + why}; };
  if (depth > kMaxDepth) return error{errc::invalid_argument, at + ": nested more than 32 deep"};
  if (!s.is_object()) return error{errc::invalid_argument, (at.empty() ? std::string("the schema") : at) + ": a schema is an object"};
  auto r = std::make_shared<rule>();
  static const std::set<std::string> types{"string", "number", "integer", "boolean", "object", "array", "null"};
  auto count = [&](const std::string& key, const json& v, std::optional<std::size_t>& out) -> std::optional<error> {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0) return bad(key, "must be a non-negative integer");
    out = static_cast<std::size_t>(v.get<std::int64_t>());
    return std::nullopt;
  };
  for (const auto& [key, v] : s.items()) {
    if (key == "type") {
      if (v.is_string()) {
        if (!types.count(v.get<std::string>())) return bad(key, "'" + v.get<std::string>() + "' is not a type");
        r->types.insert(v.get<std::string>());
      } else if (v.is_array() && !v.empty()) {
        for (const auto& t : v) {
          if (!t.is_string() || !types.count(t.get<std::string>())) return bad(key, "lists type names");
          r->types.insert(t.get<std::string>());
        }
      } else {
        return bad(key, "must be a type name or a non-empty list of them");
      }
    } else if (key == "required") {
      if (!v.is_array()) return bad(key, "must be a list of property names");
      for (const auto& p : v) {
        if (!p.is_string()) return bad(key, "must be a list of property names");
        r->required.push_back(p.get<std::string>());
      }
    } else if (key == "properties") {
      if (!v.is_object()) return bad(key, "must be an object of schemas");
      for (const auto& [name, sub] : v.items()) {
        NF_TRY_ASSIGN(auto c, compile_rule(sub, at + "/properties/" + token(name), depth + 1));
        r->properties.emplace(name, std::move(c));
      }
    } else if (key == "additionalProperties") {
      if (!v.is_boolean()) return bad(key, "must be true or false (schemas here are not supported)");
      r->additional = v.get<bool>();
    } else if (key == "items") {
      NF_TRY_ASSIGN(r->items, compile_rule(v, at + "/items", depth + 1));
    } else if (key == "enum") {
      if (!v.is_array() || v.empty()) return bad(key, "must be a non-empty list");
      r->enumeration = v;
    } else if (key == "minimum" || key == "maximum") {
      if (!v.is_number()) return bad(key, "must be a number");
      (key == "minimum" ? r->minimum : r->maximum) = v.get<double>();
    } else if (key == "minLength") {
      if (auto e = count(key, v, r->min_length)) return *e;
    } else if (key == "maxLength") {
      if (auto e = count(key, v, r->max_length)) return *e;
    } else if (key == "minItems") {
      if (auto e = count(key, v, r->min_items)) return *e;
    } else if (key == "maxItems") {
      if (auto e = count(key, v, r->max_items)) return *e;
    } else if (key == "description" || key == "title" || key == "$schema") {
    } else {
      return bad(key, "is not a keyword this validator checks");
    }
  }
  return std::shared_ptr<const rule>(std::move(r));
}

const char* type_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    default: return "number";
  }
}

bool has_type(const json& v, const std::set<std::string>& types) {
  if (types.empty()) return true;
  const std::string t = type_of(v);
  if (types.count(t)) return true;
  if (t == "integer" && types.count("number")) return true;
  // 2.0 is an integer to JSON Schema.
  if (t == "number" && types.count("integer")) {
    const double d = v.get<double>();
    return std::isfinite(d) && std::nearbyint(d) == d;
  }
  return false;
}

std::string number_text(double d) {
  if (std::nearbyint(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
  return json(d).dump();
}

void check(const json_schema::rule& r, const json& v, const std::string& path, std::vector<schema_violation>& out, std::size_t limit) {
  if (out.size() >= limit) return;
  auto add = [&](std::string msg) {
    if (out.size() < limit) out.push_back({path, std::move(msg)});
  };
  if (!has_type(v, r.types)) {
    std::string want;
    for (const auto& t : r.types) want += (want.empty() ? "" : " or ") + t;
    add("must be " + want + ", not " + type_of(v));
    return;
  }
  if (r.enumeration && std::find(r.enumeration->begin(), r.enumeration->end(), v) == r.enumeration->end())
    add("must be one of " + r.enumeration->dump());
  if (v.is_number()) {
    if (r.minimum && v.get<double>() < *r.minimum) add("must be at least " + number_text(*r.minimum));
    if (r.maximum && v.get<double>() > *r.maximum) add("must be at most " + number_text(*r.maximum));
  }
  if (v.is_string()) {
    const auto n = code_points(v.get_ref<const std::string&>());
    if (r.min_length && n < *r.min_length) add("must have at least " + std::to_string(*r.min_length) + " characters");
    if (r.max_length && n > *r.max_length) add("must have at most " + std::to_string(*r.max_length) + " characters");
  }
  if (v.is_array()) {
    if (r.min_items && v.size() < *r.min_items) add("must have at least " + std::to_string(*r.min_items) + " items");
    if (r.max_items && v.size() > *r.max_items) add("must have at most " + std::to_string(*r.max_items) + " items");
    if (r.items)
      for (std::size_t i = 0; i < v.size() && out.size() < limit; ++i) check(*r.items, v[i], path + "/" + std::to_string(i), out, limit);
  }
  if (v.is_object()) {
    for (const auto& p : r.required)
      if (!v.contains(p)) add("must have the property '" + p + "'");
    for (const auto& [k, sub] : v.items()) {
      if (out.size() >= limit) break;
      auto it = r.properties.find(k);
      if (it != r.properties.end()) check(*it->second, sub, path + "/" + token(k), out, limit);
      else if (r.additional && !*r.additional) out.push_back({path + "/" + token(k), "is not an allowed property"});
    }
  }
}

}  // namespace

result<json_schema> json_schema::compile(const json& schema) {
  NF_TRY_ASSIGN(auto root, compile_rule(schema, "", 0));
  json_schema s;
  s.root_ = std::move(root);
  return s;
}

std::vector<schema_violation> json_schema::validate(const json& instance, std::size_t limit) const {
  std::vector<schema_violation> out;
  if (root_) check(*root_, instance, "", out, limit);
  return out;
}

}  // namespace nf::workflows
