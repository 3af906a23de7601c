#include "actors/workflows/definition.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>

#include <openssl/sha.h>
#include <yaml-cpp/yaml.h>

#include "actors/workflows/nodes.h"
#include "core/base/text.h"

namespace nf::workflows {

using json = nlohmann::json;

const char* to_string(value_type t) {
  switch (t) {
    case value_type::string: return "string";
    case value_type::number: return "number";
    case value_type::boolean: return "bool";
    case value_type::object: return "object";
    case value_type::array: return "array";
    case value_type::any: return "any";
  }
  return "any";
}

std::optional<value_type> value_type_of(std::string_view n) {
  if (n == "string") return value_type::string;
  if (n == "number") return value_type::number;
  if (n == "bool" || n == "boolean") return value_type::boolean;
  if (n == "object") return value_type::object;
  if (n == "array") return value_type::array;
  if (n == "any") return value_type::any;
  return std::nullopt;
}

bool has_type(const json& v, value_type t) {
  switch (t) {
    case value_type::string: return v.is_string();
    case value_type::number: return v.is_number();
    case value_type::boolean: return v.is_boolean();
    case value_type::object: return v.is_object();
    case value_type::array: return v.is_array();
    case value_type::any: return true;
  }
  return true;
}

value_type type_of(const json& v) {
  if (v.is_string()) return value_type::string;
  if (v.is_number()) return value_type::number;
  if (v.is_boolean()) return value_type::boolean;
  if (v.is_object()) return value_type::object;
  if (v.is_array()) return value_type::array;
  return value_type::any;
}

json to_json(const problem& p) {
  json j{{"message", p.message}};
  if (!p.node.empty()) j["node"] = p.node;
  if (!p.field.empty()) j["field"] = p.field;
  return j;
}

std::string to_string(const problem& p) {
  std::string s;
  if (!p.node.empty()) s += "node '" + p.node + "': ";
  if (!p.field.empty()) s += p.field + ": ";
  return s + p.message;
}

std::int64_t retry_policy::backoff_ms(int next, std::string_view seed) const {
  double d = static_cast<double>(initial_backoff_ms) * std::pow(multiplier, std::max(0, next - 2));
  d = std::min(d, static_cast<double>(max_backoff_ms));
  if (jitter > 0) {
    // A fraction in [0, 1) from the seed and the attempt: the same run replays the same delays.
    std::string s(seed);
    s += "#" + std::to_string(next);
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), h);
    std::uint64_t x = 0;
    for (int i = 0; i < 8; ++i) x = (x << 8) | h[i];
    const double u = static_cast<double>(x >> 11) / 9007199254740992.0;
    d = d * (1.0 - jitter) + d * jitter * u;
  }
  return static_cast<std::int64_t>(d);
}

const node_spec* definition::node(const std::string& node_id) const {
  auto it = index.find(node_id);
  return it == index.end() ? nullptr : &nodes[it->second];
}

namespace {

constexpr std::size_t kMaxNodes = 10'000;
constexpr std::size_t kMaxSubDepth = 16;

bool is_ident(std::string_view s, std::size_t max = 64) {
  if (s.empty() || s.size() > max) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool is_workflow_id(std::string_view s) {
  if (s.empty() || s.size() > 128 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'; });
}

// Splits "${...}" parts out of a text; errors name the character position.
result<std::vector<std::variant<std::string, expression>>> split_template(const std::string& s) {
  std::vector<std::variant<std::string, expression>> parts;
  std::string lit;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      // The expression ends at the first '}' outside quotes.
      std::size_t j = i + 2;
      char quote = 0;
      for (; j < s.size(); ++j) {
        if (quote) {
          if (s[j] == '\\') ++j;
          else if (s[j] == quote) quote = 0;
        } else if (s[j] == '\'' || s[j] == '"') {
          quote = s[j];
        } else if (s[j] == '}') {
          break;
        }
      }
      if (j >= s.size()) return error{errc::invalid_argument, "at " + std::to_string(i + 1) + ": '${' is not closed by '}'"};
      auto e = expression::parse(std::string_view(s).substr(i + 2, j - i - 2));
      if (!e) return error{errc::invalid_argument, "in '${" + s.substr(i + 2, j - i - 2) + "}': " + e.error().message};
      if (!lit.empty()) parts.emplace_back(std::move(lit));
      lit.clear();
      parts.emplace_back(std::move(*e));
      i = j + 1;
      continue;
    }
    lit += s[i++];
  }
  if (!lit.empty()) parts.emplace_back(std::move(lit));
  return parts;
}

result<binding> parse_binding(const json& v) {
  binding b;
  if (!v.is_string()) {
    b.value = v;
    b.source = v.dump();
    return b;
  }
  const auto& s = v.get_ref<const std::string&>();
  b.source = s;
  if (s.find("${") != std::string::npos) {
    NF_TRY_ASSIGN(b.parts, split_template(s));
    b.k = b.parts.size() == 1 && std::holds_alternative<expression>(b.parts[0]) ? binding::kind::expression : binding::kind::text;
    return b;
  }
  const auto dot = s.find('.');
  if (dot != std::string::npos && is_ident(std::string_view(s).substr(0, dot)) && is_ident(std::string_view(s).substr(dot + 1))) {
    b.k = binding::kind::connection;
    b.node = s.substr(0, dot);
    b.port = s.substr(dot + 1);
    return b;
  }
  b.value = v;
  return b;
}

// ---- canonical form ----

json canonical_node(const json& n) {
  if (!n.is_object()) return n;
  json out = json::object();
  for (const char* k : {"id", "type", "config", "inputs", "retry", "timeout_ms", "on_error"})
    if (n.contains(k)) out[k] = n[k];
  if (!out.contains("config")) out["config"] = json::object();
  if (!out.contains("inputs")) out["inputs"] = json::object();
  for (auto it = n.begin(); it != n.end(); ++it)
    if (!out.contains(it.key())) out[it.key()] = it.value();  // unknown keys stay, so compile names them
  return out;
}

}  // namespace

json canonical(const json& doc) {
  if (!doc.is_object()) return doc;
  json out = json::object();
  for (const char* k : {"id", "version", "name", "description", "inputs", "variables", "nodes", "outputs", "concurrency"})
    if (doc.contains(k)) out[k] = doc[k];
  if (!out.contains("name") && doc.contains("id")) out["name"] = doc["id"];
  for (const char* k : {"inputs", "variables", "outputs"})
    if (!out.contains(k)) out[k] = json::object();
  if (out.contains("nodes") && out["nodes"].is_array())
    for (auto& n : out["nodes"]) n = canonical_node(n);
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (!out.contains(it.key())) out[it.key()] = it.value();
  return out;
}

// ---- compile ----

namespace {

class compiler {
 public:
  compiler(const json& doc, const compile_env& env) : doc_(doc), env_(env) {}

  compiled run() {
    auto def = std::make_shared<definition>();
    def_ = def.get();
    if (!doc_.is_object()) {
      add("", "", "a workflow definition is a JSON object");
      return finish(nullptr);
    }
    def->document = canonical(doc_);
    header();
    nodes();
    if (problems_.empty()) order();
    outputs();
    if (!problems_.empty()) return finish(nullptr);
    return finish(std::move(def));
  }

 private:
  void add(std::string node, std::string field, std::string message) {
    if (problems_.size() < 1000) problems_.push_back({std::move(node), std::move(field), std::move(message)});
  }
  compiled finish(std::shared_ptr<definition> d) {
    compiled c;
    c.def = std::move(d);
    c.problems = std::move(problems_);
    return c;
  }

  void header() {
    static const std::set<std::string> known{"id", "version", "name", "description", "inputs", "variables", "nodes", "outputs", "concurrency"};
    for (auto it = doc_.begin(); it != doc_.end(); ++it)
      if (!known.count(it.key())) add("", it.key(), "is not a field of a workflow definition");
    const auto& id = doc_.contains("id") ? doc_["id"] : json();
    if (!id.is_string() || !is_workflow_id(id.get_ref<const std::string&>()))
      add("", "id", "is required: 1 to 128 letters, digits, '_', '-' or '.', starting with a letter or digit");
    else
      def_->id = id.get<std::string>();
    const auto& v = doc_.contains("version") ? doc_["version"] : json();
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1)
      add("", "version", "is required: an integer of at least 1");
    else
      def_->version = v.get<std::int64_t>();
    if (doc_.contains("name")) {
      if (!doc_["name"].is_string() || doc_["name"].get_ref<const std::string&>().size() > 200) add("", "name", "is a string of at most 200 characters");
      else def_->name = doc_["name"].get<std::string>();
    } else {
      def_->name = def_->id;
    }
    if (doc_.contains("description")) {
      if (!doc_["description"].is_string()) add("", "description", "is a string");
      else def_->description = doc_["description"].get<std::string>();
    }
    if (doc_.contains("inputs")) {
      const auto& in = doc_["inputs"];
      if (!in.is_object()) {
        add("", "inputs", "is an object of input names and types");
      } else {
        for (auto it = in.begin(); it != in.end(); ++it) {
          if (!is_ident(it.key())) add("", "inputs/" + it.key(), "an input name is a letter or '_' then letters, digits or '_' (at most 64)");
          auto t = it.value().is_string() ? value_type_of(it.value().get_ref<const std::string&>()) : std::nullopt;
          if (!t) add("", "inputs/" + it.key(), "a type is one of string, number, bool, object, array, any");
          else def_->inputs.emplace_back(it.key(), *t);
        }
      }
    }
    if (doc_.contains("variables")) {
      const auto& vars = doc_["variables"];
      if (!vars.is_object()) {
        add("", "variables", "is an object of variable names and initial values");
      } else {
        for (auto it = vars.begin(); it != vars.end(); ++it) {
          if (!is_ident(it.key())) add("", "variables/" + it.key(), "a variable name is a letter or '_' then letters, digits or '_' (at most 64)");
          else if (reserved(it.key())) add("", "variables/" + it.key(), "is a reserved name");
          else if (input_type(it.key())) add("", "variables/" + it.key(), "is also an input's name");
        }
        def_->variables = vars;
      }
    }
    for (const auto& [name, t] : def_->inputs)
      if (reserved(name)) add("", "inputs/" + name, "is a reserved name");
    if (doc_.contains("concurrency")) {
      const auto& c = doc_["concurrency"];
      if (!c.is_object() || !c.contains("key") || !c["key"].is_string() || !c.contains("limit") || !c["limit"].is_number_integer() ||
          c["limit"].get<std::int64_t>() < 1 || c["limit"].get<std::int64_t>() > 1'000'000 || c.size() != 2) {
        add("", "concurrency", "is {key: a text with ${...} parts, limit: an integer of at least 1}");
      } else {
        auto b = parse_binding(c["key"]);
        if (!b) add("", "concurrency/key", b.error().message);
        else {
          check_refs(*b, "", "concurrency/key", nullptr, {});
          def_->concurrency_key = std::move(*b);
          def_->concurrency_limit = static_cast<int>(c["limit"].get<std::int64_t>());
        }
      }
    }
  }

  static bool reserved(const std::string& n) {
    static const std::set<std::string> r{"inputs", "vars", "nodes", "run", "input", "item", "index", "state", "iteration", "event", "error"};
    return r.count(n) > 0;
  }
  std::optional<value_type> input_type(const std::string& n) const {
    for (const auto& [name, t] : def_->inputs)
      if (name == n) return t;
    return std::nullopt;
  }

  void check_expr(const expression& e, const std::string& node, const std::string& field, node_spec* spec, const std::vector<std::string>& locals) {
    std::vector<problem> found;
    check_references(e, *def_, spec, locals, field, found);
    for (auto& p : found) add(node, p.field, p.message);
  }
  void check_refs(const binding& b, const std::string& node, const std::string& field, node_spec* spec, const std::vector<std::string>& locals) {
    for (const auto& p : b.parts)
      if (const auto* e = std::get_if<expression>(&p)) check_expr(*e, node, field, spec, locals);
  }

  void nodes() {
    if (!doc_.contains("nodes") || !doc_["nodes"].is_array() || doc_["nodes"].empty()) {
      add("", "nodes", "is required: a list of at least one node");
      return;
    }
    const auto& ns = doc_["nodes"];
    if (ns.size() > kMaxNodes) {
      add("", "nodes", "has more than 10,000 nodes");
      return;
    }
    // Ids first: connections may point forward.
    for (std::size_t i = 0; i < ns.size(); ++i) {
      const auto& n = ns[i];
      const std::string where = "nodes/" + std::to_string(i);
      if (!n.is_object()) {
        add("", where, "a node is an object {id, type, config, inputs}");
        continue;
      }
      const auto id = n.contains("id") && n["id"].is_string() ? n["id"].get<std::string>() : std::string();
      if (!is_ident(id)) {
        add("", where + "/id", "a node id is a letter or '_' then letters, digits or '_' (at most 64)");
        continue;
      }
      if (!ids_.insert(id).second) add(id, "id", "is used by two nodes");
    }
    if (!problems_.empty()) return;
    const auto* reg = env_.nodes ? env_.nodes : &node_registry::builtin();
    def_->nodes.reserve(ns.size());
    for (const auto& n : ns) {
      node_spec s;
      s.id = n["id"].get<std::string>();
      static const std::set<std::string> known{"id", "type", "config", "inputs", "retry", "timeout_ms", "on_error"};
      for (auto it = n.begin(); it != n.end(); ++it)
        if (!known.count(it.key())) add(s.id, it.key(), "is not a field of a node");
      const auto* type = n.contains("type") && n["type"].is_string() ? reg->find(n["type"].get<std::string>()) : nullptr;
      if (!type) {
        add(s.id, "type", n.contains("type") && n["type"].is_string() ? "unknown node type '" + n["type"].get<std::string>() + "' (GET /workflows/nodes lists them)"
                                                                       : "is required: a node type");
        def_->nodes.push_back(std::move(s));
        continue;
      }
      s.type = type->name();
      if (n.contains("config")) {
        if (!n["config"].is_object()) add(s.id, "config", "is an object");
        else s.config = n["config"];
      }
      if (const auto* schema = reg->schema(s.type))
        for (const auto& v : schema->validate(s.config, 20)) {
          add(s.id, "config" + v.path, v.message);
          bad_config_.insert(s.id);
        }
      if (n.contains("timeout_ms")) {
        if (!n["timeout_ms"].is_number_integer() || n["timeout_ms"].get<std::int64_t>() < 1) add(s.id, "timeout_ms", "is an integer of at least 1");
        else if (!type->waits()) add(s.id, "timeout_ms", "only a node that waits (" + s.type + " does not) takes a timeout");
        else s.timeout_ms = n["timeout_ms"].get<std::int64_t>();
      }
      if (n.contains("retry")) retry(n["retry"], s);
      if (n.contains("on_error")) {
        if (!n["on_error"].is_string() || n["on_error"].get_ref<const std::string&>().empty()) add(s.id, "on_error", "is \"fail\", \"continue\" or a handler node's id");
        else s.on_error = n["on_error"].get<std::string>();
      }
      def_->nodes.push_back(std::move(s));
    }
    for (std::size_t i = 0; i < def_->nodes.size(); ++i) def_->index[def_->nodes[i].id] = i;
    // Handlers, then bindings and type checks.
    for (auto& s : def_->nodes) {
      if (s.on_error == "fail" || s.on_error == "continue") continue;
      auto* h = const_cast<node_spec*>(def_->node(s.on_error));
      if (!h) add(s.id, "on_error", "unknown handler node '" + s.on_error + "'");
      else if (h->id == s.id) add(s.id, "on_error", "a node cannot handle its own errors");
      else if (!h->handles.empty()) add(s.id, "on_error", "node '" + h->id + "' already handles the errors of '" + h->handles + "'");
      else h->handles = s.id;
    }
    for (std::size_t i = 0; i < def_->nodes.size(); ++i) {
      auto& s = def_->nodes[i];
      const auto* type = reg->find(s.type);
      if (!type) continue;
      inputs(ns[i], s, *type);
      // A type's own checks read its config as its schema describes it: only a config that passed.
      if (!bad_config_.count(s.id)) type->check(s, *def_, problems_);
      if (s.type == "sub_workflow" && !bad_config_.count(s.id)) sub_workflow(s);
    }
  }

  void retry(const json& r, node_spec& s) {
    if (!r.is_object()) {
      add(s.id, "retry", "is an object {max_attempts, initial_backoff_ms, multiplier, max_backoff_ms, max_duration_ms, jitter, non_retryable}");
      return;
    }
    retry_policy p;
    for (auto it = r.begin(); it != r.end(); ++it) {
      const auto& k = it.key();
      const auto& v = it.value();
      const std::string f = "retry/" + k;
      auto int_in = [&](std::int64_t lo, std::int64_t hi, std::int64_t& out) {
        if (!v.is_number_integer() || v.get<std::int64_t>() < lo || v.get<std::int64_t>() > hi)
          add(s.id, f, "is an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
        else out = v.get<std::int64_t>();
      };
      if (k == "max_attempts") {
        std::int64_t a = 1;
        int_in(1, 1000, a);
        p.max_attempts = static_cast<int>(a);
      } else if (k == "initial_backoff_ms") {
        int_in(0, 86'400'000, p.initial_backoff_ms);
      } else if (k == "max_backoff_ms") {
        int_in(0, 86'400'000, p.max_backoff_ms);
      } else if (k == "max_duration_ms") {
        int_in(0, 30LL * 86'400'000, p.max_duration_ms);
      } else if (k == "multiplier") {
        if (!v.is_number() || v.get<double>() < 1 || v.get<double>() > 100) add(s.id, f, "is a number from 1 to 100");
        else p.multiplier = v.get<double>();
      } else if (k == "jitter") {
        if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 1) add(s.id, f, "is a number from 0 to 1");
        else p.jitter = v.get<double>();
      } else if (k == "non_retryable") {
        if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); })) add(s.id, f, "is a list of error codes");
        else p.non_retryable = v.get<std::vector<std::string>>();
      } else {
        add(s.id, f, "is not a retry setting");
      }
    }
    s.retry = p;
  }

  void inputs(const json& n, node_spec& s, const node_type& type) {
    const auto ports = type.inputs(s.config);
    auto port_of = [&](const std::string& name) -> const port* {
      for (const auto& p : ports)
        if (p.name == name) return &p;
      return nullptr;
    };
    std::set<std::string> bound;
    if (n.contains("inputs")) {
      if (!n["inputs"].is_object()) {
        add(s.id, "inputs", "is an object of ports and bindings");
        return;
      }
      for (auto it = n["inputs"].begin(); it != n["inputs"].end(); ++it) {
        const std::string f = "inputs/" + it.key();
        const port* p = port_of(it.key());
        if (!p && !type.open_inputs()) {
          std::string names;
          for (const auto& q : ports) names += (names.empty() ? "" : ", ") + q.name;
          add(s.id, f, "node type " + s.type + " has no input '" + it.key() + "'" + (names.empty() ? std::string(" (it takes none)") : " (it takes: " + names + ")"));
          continue;
        }
        if (!is_ident(it.key())) {
          add(s.id, f, "a port name is a letter or '_' then letters, digits or '_'");
          continue;
        }
        auto b = parse_binding(it.value());
        if (!b) {
          add(s.id, f, b.error().message);
          continue;
        }
        const value_type want = p ? p->type : value_type::any;
        switch (b->k) {
          case binding::kind::literal:
            if (!has_type(b->value, want)) add(s.id, f, std::string("port type mismatch: a literal ") + to_string(type_of(b->value)) + ", the port takes " + to_string(want));
            break;
          case binding::kind::text:
            if (want != value_type::string && want != value_type::any)
              add(s.id, f, std::string("port type mismatch: a text, the port takes ") + to_string(want));
            check_refs(*b, s.id, f, &s, {});
            break;
          case binding::kind::expression:
            check_refs(*b, s.id, f, &s, {});
            break;
          case binding::kind::connection:
            connection(*b, s, f, want);
            break;
        }
        bound.insert(it.key());
        s.inputs.emplace_back(it.key(), std::move(*b));
      }
    }
    for (const auto& p : ports)
      if (p.required && !bound.count(p.name)) add(s.id, "inputs/" + p.name, "missing connection: the required input '" + p.name + "' is not bound");
  }

  void connection(const binding& b, node_spec& s, const std::string& f, value_type want) {
    const auto* from = def_->node(b.node);
    if (!from) {
      add(s.id, f, "dangling connection: '" + b.source + "' names no node");
      return;
    }
    if (from->id == s.id) {
      add(s.id, f, "a node cannot read its own output");
      return;
    }
    s.after.push_back(from->id);
    const auto* reg = env_.nodes ? env_.nodes : &node_registry::builtin();
    const auto* ft = reg->find(from->type);
    if (!ft) return;
    const auto outs = ft->outputs(from->config);
    for (const auto& o : outs) {
      if (o.name != b.port) continue;
      if (o.type != value_type::any && want != value_type::any && o.type != want)
        add(s.id, f, std::string("port type mismatch: '") + b.source + "' is " + to_string(o.type) + ", the port takes " + to_string(want));
      return;
    }
    std::string names;
    for (const auto& o : outs) names += (names.empty() ? "" : ", ") + o.name;
    add(s.id, f, "dangling connection: node '" + from->id + "' (" + from->type + ") has no output '" + b.port + "' (it has: " + names + ")");
  }

  // A sub-workflow must exist and must not lead back to this workflow.
  void sub_workflow(const node_spec& s) {
    if (!s.config.contains("workflow") || !s.config["workflow"].is_string()) return;  // the schema said so
    const auto id = s.config["workflow"].get<std::string>();
    const std::int64_t v = s.config.contains("version") && s.config["version"].is_number_integer() ? s.config["version"].get<std::int64_t>() : 0;
    if (id == def_->id) {
      add(s.id, "config/workflow", "a workflow cannot run itself (recursive sub-workflow " + id + " -> " + id + ")");
      return;
    }
    if (!env_.lookup) {
      add(s.id, "config/workflow", "sub-workflow '" + id + "' not found");
      return;
    }
    auto doc = env_.lookup(id, v);
    if (!doc) {
      add(s.id, "config/workflow", "sub-workflow '" + id + "'" + (v ? " version " + std::to_string(v) : std::string()) + " not found");
      return;
    }
    // Its declared inputs: each bound one must exist with a matching type, and every one of them bound.
    if (doc->contains("inputs") && (*doc)["inputs"].is_object()) {
      const auto& want = (*doc)["inputs"];
      for (const auto& [port, b] : s.inputs) {
        if (!want.contains(port)) add(s.id, "inputs/" + port, "sub-workflow '" + id + "' has no input '" + port + "'");
        else if (b.k == binding::kind::literal && want[port].is_string()) {
          auto t = value_type_of(want[port].get<std::string>());
          if (t && !has_type(b.value, *t)) add(s.id, "inputs/" + port, std::string("port type mismatch: a literal ") + to_string(type_of(b.value)) + ", the port takes " + to_string(*t));
        }
      }
      for (auto it = want.begin(); it != want.end(); ++it) {
        bool found = false;
        for (const auto& [port, b] : s.inputs) found = found || port == it.key();
        if (!found) add(s.id, "inputs/" + it.key(), "missing connection: sub-workflow '" + id + "' needs input '" + it.key() + "'");
      }
    }
    std::vector<std::string> path{def_->id, id};
    recursion(*doc, path, s);
  }

  void recursion(const json& doc, std::vector<std::string>& path, const node_spec& s) {
    if (path.size() > kMaxSubDepth) {
      add(s.id, "config/workflow", "sub-workflows nest more than 16 deep");
      return;
    }
    if (!doc.contains("nodes") || !doc["nodes"].is_array()) return;
    for (const auto& n : doc["nodes"]) {
      if (!n.is_object() || n.value("type", "") != "sub_workflow" || !n.contains("config") || !n["config"].is_object()) continue;
      const auto& c = n["config"];
      if (!c.contains("workflow") || !c["workflow"].is_string()) continue;
      const auto id = c["workflow"].get<std::string>();
      if (std::find(path.begin(), path.end(), id) != path.end()) {
        std::string p;
        for (const auto& x : path) p += x + " -> ";
        add(s.id, "config/workflow", "recursive sub-workflow: " + p + id);
        return;
      }
      auto sub = env_.lookup(id, c.contains("version") && c["version"].is_number_integer() ? c["version"].get<std::int64_t>() : 0);
      if (!sub) continue;  // that workflow's own compile reported it
      path.push_back(id);
      recursion(*sub, path, s);
      path.pop_back();
    }
  }

  // A topological order; a cycle is reported with its path.
  void order() {
    const auto n = def_->nodes.size();
    std::vector<std::vector<std::size_t>> up(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto& s = def_->nodes[i];
      std::sort(s.after.begin(), s.after.end());
      s.after.erase(std::unique(s.after.begin(), s.after.end()), s.after.end());
      for (const auto& a : s.after) up[i].push_back(def_->index.at(a));
      // A handler runs after the node it handles.
      if (!s.handles.empty()) up[i].push_back(def_->index.at(s.handles));
    }
    std::vector<int> color(n, 0);
    std::vector<std::size_t> out;
    out.reserve(n);
    std::vector<std::size_t> stack;
    bool cycle = false;
    // Iterative depth-first search over "reads from" edges: a node is emitted after what it reads.
    for (std::size_t root = 0; root < n && !cycle; ++root) {
      if (color[root]) continue;
      std::vector<std::pair<std::size_t, std::size_t>> st{{root, 0}};
      color[root] = 1;
      stack.push_back(root);
      while (!st.empty() && !cycle) {
        auto& [v, next] = st.back();
        if (next < up[v].size()) {
          const auto w = up[v][next++];
          if (color[w] == 1) {
            // The path from w to v, then back to w, in data-flow order.
            std::string path;
            auto it = std::find(stack.begin(), stack.end(), w);
            std::vector<std::size_t> cyc(it, stack.end());
            std::reverse(cyc.begin(), cyc.end());
            for (auto c : cyc) path += def_->nodes[c].id + " -> ";
            path += def_->nodes[cyc.front()].id;
            add(def_->nodes[w].id, "inputs", "cycle: " + path + " (repeat work with a for_each or while node)");
            cycle = true;
          } else if (color[w] == 0) {
            color[w] = 1;
            stack.push_back(w);
            st.push_back({w, 0});
          }
        } else {
          color[v] = 2;
          out.push_back(v);
          stack.pop_back();
          st.pop_back();
        }
      }
    }
    if (cycle) return;
    std::vector<node_spec> sorted;
    sorted.reserve(n);
    for (auto i : out) sorted.push_back(std::move(def_->nodes[i]));
    def_->nodes = std::move(sorted);
    def_->index.clear();
    for (std::size_t i = 0; i < n; ++i) def_->index[def_->nodes[i].id] = i;
  }

  void outputs() {
    if (!doc_.contains("outputs")) return;
    const auto& o = doc_["outputs"];
    if (!o.is_object()) {
      add("", "outputs", "is an object of output names and bindings");
      return;
    }
    for (auto it = o.begin(); it != o.end(); ++it) {
      const std::string f = "outputs/" + it.key();
      if (!is_ident(it.key())) add("", f, "an output name is a letter or '_' then letters, digits or '_'");
      auto b = parse_binding(it.value());
      if (!b) {
        add("", f, b.error().message);
        continue;
      }
      if (b->k == binding::kind::connection) {
        const auto* from = def_->node(b->node);
        if (!from) add("", f, "dangling connection: '" + b->source + "' names no node");
      } else {
        check_refs(*b, "", f, nullptr, {});
      }
      def_->outputs.emplace_back(it.key(), std::move(*b));
    }
  }

  const json& doc_;
  const compile_env& env_;
  definition* def_ = nullptr;
  std::set<std::string> ids_;
  std::set<std::string> bad_config_;  // nodes whose config failed its schema
  std::vector<problem> problems_;
};

}  // namespace

compiled compile(const json& doc, const compile_env& env) { return compiler(doc, env).run(); }

void check_references(const expression& e, const definition& def, node_spec* spec, const std::vector<std::string>& locals,
                      const std::string& field, std::vector<problem>& out) {
  const std::string node = spec ? spec->id : std::string();
  auto add = [&](std::string m) { out.push_back({node, field, std::move(m)}); };
  auto is_input = [&](const std::string& n) {
    return std::any_of(def.inputs.begin(), def.inputs.end(), [&](const auto& i) { return i.first == n; });
  };
  for (const auto& r : e.references()) {
    const auto& root = r.path[0];
    const std::string where = "at " + std::to_string(r.at) + ": ";
    if (std::find(locals.begin(), locals.end(), root) != locals.end() || root == "run") continue;
    if (root == "inputs") {
      if (r.path.size() > 1 && !is_input(r.path[1])) add(where + "unknown input '" + r.path[1] + "'");
      continue;
    }
    if (root == "vars") {
      if (r.path.size() > 1 && !def.variables.contains(r.path[1])) add(where + "unknown variable '" + r.path[1] + "'");
      continue;
    }
    if (root == "nodes") {
      if (r.path.size() < 2) {
        add(where + "'nodes' is read by node id (nodes.fetch.out)");
      } else if (!def.index.count(r.path[1])) {
        add(where + "unknown node '" + r.path[1] + "'");
      } else if (spec && r.path[1] == spec->id) {
        add(where + "a node cannot read its own output");
      } else if (spec) {
        spec->after.push_back(r.path[1]);
      }
      continue;
    }
    if (def.variables.is_object() && def.variables.contains(root)) continue;
    if (is_input(root)) continue;
    add(where + "unknown variable '" + root + "'");
  }
}

// ---- YAML ----

namespace {

constexpr std::size_t kMaxYamlValues = 1'000'000;
constexpr int kMaxYamlDepth = 64;

result<json> from_yaml(const YAML::Node& n, int depth, std::size_t& count) {
  if (++count > kMaxYamlValues) return error{errc::invalid_argument, "the document has more than 1,000,000 values (aliases included)"};
  if (depth > kMaxYamlDepth) return error{errc::invalid_argument, "at line " + std::to_string(n.Mark().line + 1) + ": nested more than 64 deep"};
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json(nullptr);
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& x : n) {
        NF_TRY_ASSIGN(auto v, from_yaml(x, depth + 1, count));
        a.push_back(std::move(v));
      }
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar())
          return error{errc::invalid_argument, "at line " + std::to_string(kv.first.Mark().line + 1) + ": a key must be a plain value"};
        const auto key = kv.first.Scalar();
        if (!valid_utf8(key)) return error{errc::invalid_argument, "at line " + std::to_string(kv.first.Mark().line + 1) + ": a key is not valid UTF-8"};
        if (o.contains(key)) return error{errc::invalid_argument, "at line " + std::to_string(kv.first.Mark().line + 1) + ": the key '" + key + "' appears twice"};
        NF_TRY_ASSIGN(auto v, from_yaml(kv.second, depth + 1, count));
        o[key] = std::move(v);
      }
      return o;
    }
    case YAML::NodeType::Scalar: {
      const auto& s = n.Scalar();
      if (!valid_utf8(s)) return error{errc::invalid_argument, "at line " + std::to_string(n.Mark().line + 1) + ": a value is not valid UTF-8"};
      // A quoted scalar (tag "!") is a string; a plain one follows YAML 1.2's core schema.
      if (n.Tag() == "!") return json(s);
      if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) return json(nullptr);
      if (s == "true" || s == "True" || s == "TRUE") return json(true);
      if (s == "false" || s == "False" || s == "FALSE") return json(false);
      static const std::regex int_re("[-+]?[0-9]+");
      static const std::regex float_re("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
      if (s.size() < 40 && std::regex_match(s, int_re)) {
        auto j = json::parse(s[0] == '+' ? s.substr(1) : s, nullptr, false);
        if (!j.is_discarded()) return j;
      }
      if (s.size() < 40 && std::regex_match(s, float_re)) {
        std::string t = s[0] == '+' ? s.substr(1) : s;
        if (t[0] == '.') t = "0" + t;
        if (t.size() > 1 && t[0] == '-' && t[1] == '.') t = "-0" + t.substr(1);
        if (t.back() == '.') t += "0";
        auto dot = t.find(".e");
        if (dot == std::string::npos) dot = t.find(".E");
        if (dot != std::string::npos) t.insert(dot + 1, "0");
        auto j = json::parse(t, nullptr, false);
        if (!j.is_discarded()) return j;
      }
      return json(s);
    }
  }
  return json(nullptr);
}

void emit(YAML::Emitter& out, const json& j) {
  switch (j.type()) {
    case json::value_t::object:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (auto it = j.begin(); it != j.end(); ++it) {
        out << YAML::Key << YAML::DoubleQuoted << it.key() << YAML::Value;
        emit(out, it.value());
      }
      out << YAML::EndMap;
      return;
    case json::value_t::array:
      if (j.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const auto& x : j) emit(out, x);
      out << YAML::EndSeq;
      return;
    case json::value_t::string:
      out << YAML::DoubleQuoted << j.get<std::string>();
      return;
    case json::value_t::boolean:
      out << (j.get<bool>() ? "true" : "false");
      return;
    case json::value_t::null:
      out << YAML::Null;
      return;
    default:
      out << j.dump();  // numbers as JSON writes them, which YAML reads back the same
      return;
  }
}

}  // namespace

result<json> parse_yaml(std::string_view text) {
  try {
    auto n = YAML::Load(std::string(text));
    std::size_t count = 0;
    return from_yaml(n, 0, count);
  } catch (const YAML::Exception& e) {
    return error{errc::invalid_argument, "invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
}

std::string to_yaml(const json& j) {
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EscapeNonAscii);
  emit(out, j);
  return std::string(out.c_str()) + "\n";
}

bool is_yaml_type(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string ct(content_type.substr(0, semi));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  std::transform(ct.begin(), ct.end(), ct.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ct == "application/yaml" || ct == "text/yaml" || ct == "application/x-yaml" || ct == "text/x-yaml";
}

result<json> parse_document(std::string_view text, std::string_view content_type) {
  if (is_yaml_type(content_type)) return parse_yaml(text);
  if (json_depth(text, kMaxJsonDepth) > kMaxJsonDepth) return error{errc::invalid_argument, "invalid JSON: nested more than 64 deep"};
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // a syntax error, or a number out of range (found by the definition fuzzer)
    return error{errc::invalid_argument, std::string("invalid JSON: ") + e.what()};
  }
}

// ---- values ----

result<binding> make_binding(const json& v) { return parse_binding(v); }

std::string template_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

result<std::optional<json>> resolve(const binding& b, const json& scope) {
  switch (b.k) {
    case binding::kind::literal:
      return std::optional<json>(b.value);
    case binding::kind::connection: {
      if (!scope.contains("nodes")) return std::optional<json>{};
      const auto& nodes = scope["nodes"];
      if (!nodes.contains(b.node) || !nodes[b.node].is_object() || !nodes[b.node].contains(b.port)) return std::optional<json>{};
      return std::optional<json>(nodes[b.node][b.port]);
    }
    case binding::kind::expression: {
      NF_TRY_ASSIGN(auto v, std::get<expression>(b.parts[0]).eval(scope));
      return std::optional<json>(std::move(v));
    }
    case binding::kind::text: {
      std::string s;
      for (const auto& p : b.parts) {
        if (const auto* lit = std::get_if<std::string>(&p)) {
          s += *lit;
          continue;
        }
        NF_TRY_ASSIGN(auto v, std::get<expression>(p).eval(scope));
        s += template_text(v);
        if (s.size() > (1u << 20)) return error{errc::invalid_argument, "the text is longer than 1 MiB"};
      }
      return std::optional<json>(json(std::move(s)));
    }
  }
  return std::optional<json>{};
}

}  // namespace nf::workflows
