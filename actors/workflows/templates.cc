#include "actors/workflows/templates.h"

#include <algorithm>

#include "actors/workflows/definition.h"
#include "core/log/log.h"

namespace nf::workflows {

using json = nlohmann::json;

// Generated from config/templates/ at build time (actors/CMakeLists.txt): file name and text.
extern const std::vector<std::pair<std::string, std::string>>& shipped_template_files();

namespace {

bool is_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; });
}

result<json> substitute(const json& v, const json& values, int depth) {
  if (depth > 64) return error{errc::invalid_argument, "definition: nested more than 64 deep"};
  if (v.is_object()) {
    json out = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      NF_TRY_ASSIGN(out[it.key()], substitute(it.value(), values, depth + 1));
    }
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& x : v) {
      NF_TRY_ASSIGN(auto y, substitute(x, values, depth + 1));
      out.push_back(std::move(y));
    }
    return out;
  }
  if (!v.is_string()) return v;
  const auto& s = v.get_ref<const std::string&>();
  // The whole string one placeholder: the value keeps its type.
  if (s.size() > 4 && s.rfind("{{", 0) == 0 && s.compare(s.size() - 2, 2, "}}") == 0 && s.find("{{", 2) == std::string::npos) {
    const auto name = s.substr(2, s.size() - 4);
    if (!values.contains(name)) return error{errc::invalid_argument, "definition: '{{" + name + "}}' names no parameter"};
    return values[name];
  }
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto at = s.find("{{", i);
    if (at == std::string::npos) {
      out.append(s, i, std::string::npos);
      break;
    }
    const auto end = s.find("}}", at + 2);
    if (end == std::string::npos) return error{errc::invalid_argument, "definition: '{{' without '}}' in \"" + s + "\""};
    out.append(s, i, at - i);
    const auto name = s.substr(at + 2, end - at - 2);
    if (!values.contains(name)) return error{errc::invalid_argument, "definition: '{{" + name + "}}' names no parameter"};
    out += template_text(values[name]);
    i = end + 2;
  }
  return json(std::move(out));
}

}  // namespace

result<void> check_template(const json& t) {
  auto bad = [](const std::string& f, const std::string& m) { return error{errc::invalid_argument, f + ": " + m}; };
  if (!t.is_object()) return bad("template", "a template is an object");
  static const std::vector<std::string> known{"template", "version", "category", "title", "description", "params", "example_inputs", "definition"};
  for (auto it = t.begin(); it != t.end(); ++it)
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) return bad(it.key(), "is not a field of a template");
  if (!t.contains("template") || !t["template"].is_string() || !is_name(t["template"].get<std::string>()))
    return bad("template", "is the name: 1 to 64 letters, digits, '-' or '_'");
  if (!t.contains("version") || !t["version"].is_number_integer() || t["version"].get<std::int64_t>() < 1) return bad("version", "is an integer of at least 1");
  for (const char* f : {"category", "title", "description"})
    if (t.contains(f) && !t[f].is_string()) return bad(f, "is a string");
  if (!t.contains("definition") || !t["definition"].is_object()) return bad("definition", "is required: a workflow definition with {{param}} placeholders");
  if (t.contains("params")) {
    if (!t["params"].is_object()) return bad("params", "is an object: name -> {type, default?, description?}");
    for (auto it = t["params"].begin(); it != t["params"].end(); ++it) {
      const auto& p = it.value();
      const std::string f = "params." + it.key();
      if (!is_name(it.key())) return bad(f, "a parameter name is letters, digits, '-' or '_'");
      if (!p.is_object() || !p.contains("type") || !p["type"].is_string() || !value_type_of(p["type"].get<std::string>())) return bad(f + ".type", "is string, number, bool, object, array or any");
      if (p.contains("default") && !has_type(p["default"], *value_type_of(p["type"].get<std::string>()))) return bad(f + ".default", "is not of the parameter's type");
    }
  }
  if (t.contains("example_inputs") && !t["example_inputs"].is_object()) return bad("example_inputs", "is an object of inputs");
  return ok();
}

result<json> instantiate(const json& t, const json& params) {
  NF_TRY(check_template(t));
  if (!params.is_object()) return error{errc::invalid_argument, "params: is an object of parameter values"};
  const json decl = t.value("params", json::object());
  for (auto it = params.begin(); it != params.end(); ++it)
    if (!decl.contains(it.key())) return error{errc::invalid_argument, "params." + it.key() + ": is not a parameter of template " + t["template"].get<std::string>()};
  json values = json::object();
  for (auto it = decl.begin(); it != decl.end(); ++it) {
    const auto type = *value_type_of(it.value()["type"].get<std::string>());
    if (params.contains(it.key())) {
      if (!has_type(params[it.key()], type)) return error{errc::invalid_argument, "params." + it.key() + ": is " + to_string(type) + ", not " + to_string(type_of(params[it.key()]))};
      values[it.key()] = params[it.key()];
    } else if (it.value().contains("default")) {
      values[it.key()] = it.value()["default"];
    } else {
      return error{errc::invalid_argument, "params." + it.key() + ": is required (" + to_string(type) + ")"};
    }
  }
  return substitute(t["definition"], values, 0);
}

const std::vector<json>& shipped_templates() {
  static const std::vector<json> all = [] {
    std::vector<json> out;
    for (const auto& [file, text] : shipped_template_files()) {
      auto j = parse_yaml(text);
      if (!j) {
        nf::log::get("workflows")->critical("shipped template {} is not YAML: {}", file, j.error().message);
        std::abort();
      }
      if (auto c = check_template(*j); !c) {
        nf::log::get("workflows")->critical("shipped template {}: {}", file, c.error().message);
        std::abort();
      }
      out.push_back(std::move(*j));
    }
    std::sort(out.begin(), out.end(), [](const json& a, const json& b) { return a["template"].get<std::string>() < b["template"].get<std::string>(); });
    return out;
  }();
  return all;
}

}  // namespace nf::workflows
