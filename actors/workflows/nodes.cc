#include "actors/workflows/nodes.h"

#include <functional>
#include <set>

#include "core/base/sha256.h"
#include "core/log/log.h"

namespace nf::workflows {

using json = nlohmann::json;

void node_type::check(node_spec&, const definition&, std::vector<problem>&) const {}

namespace {

using ports_fn = std::function<std::vector<port>(const json& config)>;
using check_fn = std::function<void(node_spec&, const definition&, std::vector<problem>&)>;
using run_fn = std::function<node_outcome(const node_call&)>;

// A node type described by its parts; the library below is a table of these.
class table_type final : public node_type {
 public:
  struct parts {
    std::string name, category, summary;
    json schema;
    ports_fn ins, outs;
    bool open = false, waits = false;
    std::vector<std::string> locals;
    check_fn check;
    run_fn run;
  };
  explicit table_type(parts p) : p_(std::move(p)) {}
  std::string name() const override { return p_.name; }
  std::string category() const override { return p_.category; }
  std::string summary() const override { return p_.summary; }
  json config_schema() const override { return p_.schema; }
  std::vector<port> inputs(const json& c) const override { return p_.ins ? p_.ins(c) : std::vector<port>{}; }
  std::vector<port> outputs(const json& c) const override { return p_.outs ? p_.outs(c) : std::vector<port>{}; }
  bool open_inputs() const override { return p_.open; }
  std::vector<std::string> locals() const override { return p_.locals; }
  void check(node_spec& s, const definition& d, std::vector<problem>& out) const override {
    if (p_.check) p_.check(s, d, out);
  }
  bool waits() const override { return p_.waits; }
  node_outcome run(const node_call& c) const override { return p_.run(c); }

 private:
  parts p_;
};

ports_fn fixed(std::vector<port> ps) {
  return [ps = std::move(ps)](const json&) { return ps; };
}

json object_schema(json properties, std::vector<std::string> required = {}) {
  json s{{"type", "object"}, {"properties", std::move(properties)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = required;
  return s;
}

const json kString{{"type", "string"}};
const json kExpr{{"type", "string"}, {"minLength", 1}, {"maxLength", 4096}, {"description", "an expression"}};

// Compiles config[field] (an expression) into spec.exprs, checking the names it reads.
void compile_expr(node_spec& s, const definition& d, std::vector<problem>& out, const json& text, const std::string& field,
                  const std::vector<std::string>& locals) {
  if (!text.is_string()) return;  // the schema reported it
  auto e = expression::parse(text.get<std::string>());
  if (!e) {
    out.push_back({s.id, field, e.error().message});
    s.exprs.emplace_back();
    return;
  }
  check_references(*e, d, &s, locals, field, out);
  s.exprs.push_back(std::move(*e));
}

// A text with ${...} parts, checked the same way (kept as parts in a binding for run time).
void check_text(node_spec& s, const definition& d, std::vector<problem>& out, const json& text, const std::string& field,
                const std::vector<std::string>& locals) {
  if (!text.is_string()) return;
  const auto& t = text.get_ref<const std::string&>();
  std::size_t i = 0;
  while ((i = t.find("${", i)) != std::string::npos) {
    auto end = t.find('}', i);
    if (end == std::string::npos) {
      out.push_back({s.id, field, "at " + std::to_string(i + 1) + ": '${' is not closed by '}'"});
      return;
    }
    auto e = expression::parse(std::string_view(t).substr(i + 2, end - i - 2));
    if (!e) out.push_back({s.id, field, e.error().message});
    else check_references(*e, d, &s, locals, field, out);
    i = end + 1;
  }
}

// The scope a config expression sees: the run's, with the node's inputs as `input` and its locals.
json with_locals(const node_call& c, std::initializer_list<std::pair<const char*, json>> locals) {
  json s = c.scope;
  s["input"] = c.inputs;
  for (const auto& [k, v] : locals) s[k] = v;
  return s;
}

result<std::string> render(const std::string& text, const json& scope) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto at = text.find("${", i);
    if (at == std::string::npos) {
      out.append(text, i, std::string::npos);
      break;
    }
    out.append(text, i, at - i);
    auto end = text.find('}', at);
    if (end == std::string::npos) return error{errc::invalid_argument, "'${' is not closed"};
    NF_TRY_ASSIGN(auto e, expression::parse(std::string_view(text).substr(at + 2, end - at - 2)));
    NF_TRY_ASSIGN(auto v, e.eval(scope));
    out += template_text(v);
    if (out.size() > (1u << 20)) return error{errc::invalid_argument, "the text is longer than 1 MiB"};
    i = end + 1;
  }
  return out;
}

node_outcome expr_failed(const error& e) { return node_outcome::fail("expression", e.message, false); }

// An id (UUID text) derived from the run, node, attempt and purpose: asking again after a crash
// names the same mission or task.
std::string derived_uuid(const node_call& c, const char* purpose) {
  auto h = sha256_hex(std::string(purpose) + ":" + c.run_id + "/" + c.spec.id + "/" + std::to_string(c.attempt));
  h[12] = '8';
  h[16] = "89ab"[h[16] % 4];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

std::vector<std::unique_ptr<node_type>> library() {
  std::vector<std::unique_ptr<node_type>> out;
  auto add = [&](table_type::parts p) { out.push_back(std::make_unique<table_type>(std::move(p))); };
  const port in_any{"in", value_type::any, false, "the value passed on"};
  const port out_any{"out", value_type::any, false, "the result"};

  // ---------------- control ----------------
  add({"noop", "control", "Passes `in` on as `out` unchanged (a join point for several branches).",
       object_schema(json::object()), fixed({in_any}), fixed({out_any}), false, false, {}, {},
       [](const node_call& c) { return node_outcome::done({{"out", c.inputs.value("in", json())}}); }});

  add({"condition", "control", "Evaluates a bool expression and passes `value` on through the `true` or the `false` port; nodes on the other port are skipped.",
       object_schema({{"expression", kExpr}}, {"expression"}), fixed({{"value", value_type::any, false, "passed on through the taken port"}}),
       fixed({{"true", value_type::any, false, "the value, when the expression is true"}, {"false", value_type::any, false, "the value, when it is false"}}),
       true, false, {"input"},
       [](node_spec& s, const definition& d, std::vector<problem>& o) { compile_expr(s, d, o, s.config["expression"], "config/expression", {"input"}); },
       [](const node_call& c) {
         auto v = c.spec.exprs.at(0).eval(with_locals(c, {}));
         if (!v) return expr_failed(v.error());
         if (!v->is_boolean()) return node_outcome::fail("expression", "the condition gave " + std::string(to_string(type_of(*v))) + ", not bool", false);
         return node_outcome::done({{v->get<bool>() ? "true" : "false", c.inputs.value("value", json())}});
       }});

  add({"switch", "control", "Sends `value` through the port of the first case whose `when` is true, else through `default`.",
       object_schema({{"cases", {{"type", "array"}, {"minItems", 1}, {"maxItems", 64},
                                 {"items", object_schema({{"port", {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}}}, {"when", kExpr}}, {"port", "when"})}}}},
                     {"cases"}),
       fixed({{"value", value_type::any, false, "passed on through the chosen port"}}),
       [](const json& c) {
         std::vector<port> ps;
         if (c.contains("cases") && c["cases"].is_array())
           for (const auto& k : c["cases"])
             if (k.is_object() && k.contains("port") && k["port"].is_string()) ps.push_back({k["port"].get<std::string>(), value_type::any, false, "this case's value"});
         ps.push_back({"default", value_type::any, false, "the value, when no case holds"});
         return ps;
       },
       true, false, {"input"},
       [](node_spec& s, const definition& d, std::vector<problem>& o) {
         std::set<std::string> seen;
         for (std::size_t i = 0; i < s.config["cases"].size(); ++i) {
           const auto& k = s.config["cases"][i];
           const auto port = k.value("port", "");
           if (port == "default" || !seen.insert(port).second) o.push_back({s.id, "config/cases/" + std::to_string(i) + "/port", "'" + port + "' is used twice"});
           compile_expr(s, d, o, k["when"], "config/cases/" + std::to_string(i) + "/when", {"input"});
         }
       },
       [](const node_call& c) {
         const auto scope = with_locals(c, {});
         const auto& cases = c.spec.config["cases"];
         for (std::size_t i = 0; i < cases.size(); ++i) {
           auto v = c.spec.exprs.at(i).eval(scope);
           if (!v) return expr_failed(v.error());
           if (!v->is_boolean()) return node_outcome::fail("expression", "case " + std::to_string(i) + " gave " + to_string(type_of(*v)) + ", not bool", false);
           if (v->get<bool>()) return node_outcome::done({{cases[i]["port"].get<std::string>(), c.inputs.value("value", json())}});
         }
         return node_outcome::done({{"default", c.inputs.value("value", json())}});
       }});

  add({"for_each", "control", "Maps `items` through an expression (with `item` and `index`), at most `max_items` of them, into the array `out`.",
       object_schema({{"expression", kExpr}, {"max_items", {{"type", "integer"}, {"minimum", 1}, {"maximum", 100000}}}}, {"expression"}),
       fixed({{"items", value_type::array, true, "the items"}}), fixed({{"out", value_type::array, false, "one result per item"}}), false, false,
       {"input", "item", "index"},
       [](node_spec& s, const definition& d, std::vector<problem>& o) {
         compile_expr(s, d, o, s.config["expression"], "config/expression", {"input", "item", "index"});
       },
       [](const node_call& c) {
         const auto& items = c.inputs.contains("items") ? c.inputs["items"] : json();
         if (!items.is_array()) return node_outcome::fail("input", "items is " + std::string(to_string(type_of(items))) + ", not array", false);
         const auto max = c.spec.config.value("max_items", std::int64_t{1000});
         if (static_cast<std::int64_t>(items.size()) > max)
           return node_outcome::fail("max_items", std::to_string(items.size()) + " items, more than max_items " + std::to_string(max), false);
         json scope = with_locals(c, {});
         json res = json::array();
         for (std::size_t i = 0; i < items.size(); ++i) {
           scope["item"] = items[i];
           scope["index"] = i;
           auto v = c.spec.exprs.at(0).eval(scope);
           if (!v) return expr_failed(error{errc::invalid_argument, "item " + std::to_string(i) + ": " + v.error().message});
           res.push_back(std::move(*v));
         }
         return node_outcome::done({{"out", std::move(res)}});
       }});

  add({"while", "control", "Starts from `initial` as `state` and applies `update` while `condition` holds, at most `max_iterations` times.",
       object_schema({{"condition", kExpr}, {"update", kExpr}, {"max_iterations", {{"type", "integer"}, {"minimum", 1}, {"maximum", 100000}}}},
                     {"condition", "update"}),
       fixed({{"initial", value_type::any, false, "the first state"}}),
       fixed({{"out", value_type::any, false, "the last state"}, {"iterations", value_type::number, false, "how many updates ran"}}), false, false,
       {"input", "state", "iteration"},
       [](node_spec& s, const definition& d, std::vector<problem>& o) {
         compile_expr(s, d, o, s.config["condition"], "config/condition", {"input", "state", "iteration"});
         compile_expr(s, d, o, s.config["update"], "config/update", {"input", "state", "iteration"});
       },
       [](const node_call& c) {
         json scope = with_locals(c, {});
         json state = c.inputs.value("initial", json());
         const auto max = c.spec.config.value("max_iterations", std::int64_t{1000});
         std::int64_t i = 0;
         for (;; ++i) {
           scope["state"] = state;
           scope["iteration"] = i;
           auto go = c.spec.exprs.at(0).eval(scope);
           if (!go) return expr_failed(go.error());
           if (!go->is_boolean()) return node_outcome::fail("expression", "the condition gave " + std::string(to_string(type_of(*go))) + ", not bool", false);
           if (!go->get<bool>()) break;
           if (i >= max) return node_outcome::fail("max_iterations", "the condition still held after " + std::to_string(max) + " iterations", false);
           auto next = c.spec.exprs.at(1).eval(scope);
           if (!next) return expr_failed(next.error());
           state = std::move(*next);
         }
         return node_outcome::done({{"out", std::move(state)}, {"iterations", i}});
       }});

  add({"parallel", "control", "Fans `in` out to one port per branch; the branches run independently.",
       object_schema({{"branches", {{"type", "array"}, {"minItems", 2}, {"maxItems", 64}, {"items", {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}}}}}},
                     {"branches"}),
       fixed({in_any}),
       [](const json& c) {
         std::vector<port> ps;
         if (c.contains("branches") && c["branches"].is_array())
           for (const auto& b : c["branches"])
             if (b.is_string()) ps.push_back({b.get<std::string>(), value_type::any, false, "a branch"});
         return ps;
       },
       false, false, {},
       [](node_spec& s, const definition&, std::vector<problem>& o) {
         std::set<std::string> seen;
         for (const auto& b : s.config["branches"])
           if (b.is_string() && !seen.insert(b.get<std::string>()).second) o.push_back({s.id, "config/branches", "'" + b.get<std::string>() + "' is used twice"});
       },
       [](const node_call& c) {
         json branches = json::object();
         for (const auto& b : c.spec.config["branches"]) branches[b.get<std::string>()] = c.inputs.value("in", json());
         return node_outcome::done(std::move(branches));
       }});

  add({"join", "control", "Waits for every node it reads and gathers its inputs into the object `out` (an input from a skipped branch is null); runs when at least one input arrived.",
       object_schema(json::object()), fixed({}), fixed({{"out", value_type::object, false, "port name -> value"}}), true, false, {}, {},
       [](const node_call& c) { return node_outcome::done({{"out", c.inputs}}); }});

  add({"sub_workflow", "control", "Runs another workflow (pinned to `version`, else its latest) with this node's inputs as its inputs, and waits for its outputs.",
       object_schema({{"workflow", {{"type", "string"}, {"minLength", 1}}}, {"version", {{"type", "integer"}, {"minimum", 1}}}}, {"workflow"}),
       fixed({}), fixed({{"out", value_type::object, false, "the child run's outputs"}}), true, true, {}, {},
       [](const node_call& c) {
         node_outcome o;
         o.k = node_outcome::kind::wait;
         o.wait = {{"kind", "child"}, {"workflow", c.spec.config["workflow"]}, {"version", c.spec.config.value("version", 0)}, {"inputs", c.inputs}};
         return o;
       }});

  add({"delay", "control", "A durable timer: waits `ms` (or the `ms` input) and passes `in` on; survives restarts.",
       object_schema({{"ms", {{"type", "integer"}, {"minimum", 0}, {"maximum", 31536000000LL}}}}),
       fixed({in_any, {"ms", value_type::number, false, "overrides config.ms"}}), fixed({out_any}), false, true, {}, {},
       [](const node_call& c) {
         std::int64_t ms = c.spec.config.value("ms", std::int64_t{0});
         if (c.inputs.contains("ms")) {
           const auto& m = c.inputs["ms"];
           if (!m.is_number() || m.get<double>() < 0 || m.get<double>() > 31536000000.0) return node_outcome::fail("input", "ms is a number from 0 to 31536000000", false);
           ms = static_cast<std::int64_t>(m.get<double>());
         }
         node_outcome o;
         o.k = node_outcome::kind::timer;
         o.fire_at = c.now_ms + ms;
         o.output = {{"out", c.inputs.value("in", json())}};
         return o;
       }});

  add({"wait_for_event", "control", "Waits for an event on `topic` (of `type`, where `filter` holds for `event`), at most `timeout_ms` (then fails with code timeout).",
       object_schema({{"topic", {{"type", "string"}, {"minLength", 1}}}, {"type", kString}, {"filter", kExpr}, {"correlation", kExpr}}, {"topic"}),
       fixed({}), fixed({{"event", value_type::object, false, "the event: {id, type, key, payload}"}}), true, true, {"input", "event"},
       [](node_spec& s, const definition& d, std::vector<problem>& o) {
         if (s.config.contains("filter")) compile_expr(s, d, o, s.config["filter"], "config/filter", {"input", "event"});
         if (s.config.contains("correlation")) compile_expr(s, d, o, s.config["correlation"], "config/correlation", {"input"});
       },
       [](const node_call& c) {
         node_outcome o;
         o.k = node_outcome::kind::wait;
         o.wait = {{"kind", "event"}, {"topic", c.spec.config["topic"]}, {"type", c.spec.config.value("type", "")}};
         if (c.spec.config.contains("filter")) o.wait["filter"] = c.spec.config["filter"];
         if (c.spec.config.contains("correlation")) {
           auto v = c.spec.exprs.back().eval(with_locals(c, {}));
           if (!v) return expr_failed(v.error());
           o.wait["correlation"] = *v;
         }
         o.wait["input"] = c.inputs;
         return o;
       }});

  add({"approval", "control", "Waits for POST /runs/{id}/approve or /reject (permission workflows:approve) and passes `value` on through `approved` or `rejected`.",
       object_schema({{"message", kString}}), fixed({{"value", value_type::any, false, "passed on"}}),
       fixed({{"approved", value_type::object, false, "{value, by, comment}"}, {"rejected", value_type::object, false, "{value, by, comment}"}}), true, true, {}, {},
       [](const node_call& c) {
         node_outcome o;
         o.k = node_outcome::kind::wait;
         o.wait = {{"kind", "approval"}, {"message", c.spec.config.value("message", "")}, {"value", c.inputs.value("value", json())}};
         return o;
       }});

  add({"fail", "control", "Fails the node with `code` and a `message` (a text with ${...} parts); not retried.",
       object_schema({{"code", {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}}}, {"message", kString}}), fixed({in_any}), fixed({}), true, false, {"input"},
       [](node_spec& s, const definition& d, std::vector<problem>& o) { check_text(s, d, o, s.config.value("message", json("")), "config/message", {"input"}); },
       [](const node_call& c) {
         auto m = render(c.spec.config.value("message", std::string("failed")), with_locals(c, {}));
         return node_outcome::fail(c.spec.config.value("code", std::string("failed")), m ? *m : m.error().message, false);
       }});

  // ---------------- data ----------------
  add({"set_variable", "data", "Sets the workflow variable `name` to `value` (and passes it on as `out`).",
       object_schema({{"name", {{"type", "string"}, {"minLength", 1}}}}, {"name"}), fixed({{"value", value_type::any, true, "the new value"}}), fixed({out_any}), false, false, {},
       [](node_spec& s, const definition& d, std::vector<problem>& o) {
         const auto n = s.config.value("name", "");
         if (!d.variables.contains(n)) o.push_back({s.id, "config/name", "unknown variable '" + n + "' (declare it under variables)"});
       },
       [](const node_call& c) {
         auto o = node_outcome::done({{"out", c.inputs.value("value", json())}});
         o.vars[c.spec.config["name"].get<std::string>()] = c.inputs.value("value", json());
         return o;
       }});

  add({"transform", "data", "Evaluates an expression over the run (inputs, vars, nodes) and this node's inputs (`input`) into `out`.",
       object_schema({{"expression", kExpr}}, {"expression"}), fixed({}), fixed({out_any}), true, false, {"input"},
       [](node_spec& s, const definition& d, std::vector<problem>& o) { compile_expr(s, d, o, s.config["expression"], "config/expression", {"input"}); },
       [](const node_call& c) {
         auto v = c.spec.exprs.at(0).eval(with_locals(c, {}));
         if (!v) return expr_failed(v.error());
         return node_outcome::done({{"out", std::move(*v)}});
       }});

  add({"validate_json", "data", "Checks `value` against a JSON Schema subset (type, required, properties, items, enum, min/max); passes it on as `out` or fails with code schema_violation.",
       object_schema({{"schema", {{"type", "object"}}}}, {"schema"}), fixed({{"value", value_type::any, true, "the value to check"}}), fixed({out_any}), false, false, {},
       [](node_spec& s, const definition&, std::vector<problem>& o) {
         auto sch = json_schema::compile(s.config["schema"]);
         if (!sch) o.push_back({s.id, "config/schema", sch.error().message});
       },
       [](const node_call& c) {
         auto sch = json_schema::compile(c.spec.config["schema"]);
         if (!sch) return node_outcome::fail("schema", sch.error().message, false);
         const auto v = c.inputs.value("value", json());
         auto bad = sch->validate(v, 20);
         if (bad.empty()) return node_outcome::done({{"out", v}});
         std::string m;
         for (const auto& b : bad) m += (m.empty() ? "" : "; ") + (b.path.empty() ? std::string("(value)") : b.path) + ": " + b.message;
         return node_outcome::fail("schema_violation", m, false);
       }});

  add({"template", "data", "Renders `text`, a string with ${...} parts over the run and this node's inputs (`input`), into `out`.",
       object_schema({{"text", kString}}, {"text"}), fixed({}), fixed({{"out", value_type::string, false, "the text"}}), true, false, {"input"},
       [](node_spec& s, const definition& d, std::vector<problem>& o) { check_text(s, d, o, s.config["text"], "config/text", {"input"}); },
       [](const node_call& c) {
         auto t = render(c.spec.config["text"].get<std::string>(), with_locals(c, {}));
         if (!t) return expr_failed(t.error());
         return node_outcome::done({{"out", std::move(*t)}});
       }});

  // ---------------- effects ----------------
  add({"emit_event", "effects", "Appends an event of `type` with `payload` to `topic` (one the tenant may write); `out` is its position.",
       object_schema({{"topic", {{"type", "string"}, {"minLength", 1}}}, {"type", {{"type", "string"}, {"minLength", 1}}}, {"key", kString}}, {"topic", "type"}),
       fixed({{"payload", value_type::object, true, "the event's payload"}, {"key", value_type::string, false, "overrides config.key"}}),
       fixed({{"out", value_type::object, false, "{eventId, topic, partition, offset}"}}), false, false, {}, {},
       [](const node_call& c) {
         node_outcome o;
         o.k = node_outcome::kind::wait;
         o.wait = {{"kind", "emit"}, {"topic", c.spec.config["topic"]}, {"type", c.spec.config["type"]},
                   {"key", c.inputs.contains("key") ? c.inputs["key"] : c.spec.config.value("key", json(c.run_id))}, {"payload", c.inputs.value("payload", json::object())}};
         return o;
       }});

  add({"mission", "effects", "Creates a mission from `prompt` (priority low, normal, high or critical) and waits until it is validated (`out`: {missionId, status}) or failed (the node fails with code mission_failed).",
       object_schema({{"priority", {{"enum", {"low", "normal", "high", "critical"}}}}}),
       fixed({{"prompt", value_type::string, true, "the mission's prompt"}}), fixed({{"out", value_type::object, false, "{missionId, status}"}}), false, true, {}, {},
       [](const node_call& c) {
         node_outcome o;
         o.k = node_outcome::kind::wait;
         o.wait = {{"kind", "mission"}, {"missionId", derived_uuid(c, "mission")}, {"prompt", c.inputs.value("prompt", "")},
                   {"priority", c.spec.config.value("priority", "normal")}};
         return o;
       }});

  add({"http_request", "effects", "Sends an HTTP request to a host on the configured allowlist (workflows.http_allow); `out` is {status, headers, body}.",
       object_schema({{"method", {{"enum", {"GET", "POST", "PUT", "PATCH", "DELETE"}}}}, {"url", {{"type", "string"}, {"minLength", 1}}},
                      {"headers", {{"type", "object"}}}}, {"url"}),
       fixed({{"body", value_type::any, false, "sent as JSON"}, {"url", value_type::string, false, "overrides config.url"}}),
       fixed({{"out", value_type::object, false, "{status, headers, body}"}}), false, true, {}, {},
       [](const node_call& c) {
         node_outcome o;
         o.k = node_outcome::kind::wait;
         o.wait = {{"kind", "http"}, {"method", c.spec.config.value("method", "GET")}, {"url", c.inputs.contains("url") ? c.inputs["url"] : c.spec.config["url"]},
                   {"headers", c.spec.config.value("headers", json::object())}};
         if (c.inputs.contains("body")) o.wait["body"] = c.inputs["body"];
         return o;
       }});

  add({"agent_invoke", "effects", "Sends `task` to a marketplace agent the tenant installed (agent.task_requested on agent.tasks) and waits for its result (agent.task_completed or agent.task_failed on agent.results, with the same correlationId); `out` is the result.",
       object_schema({{"agent", {{"type", "string"}, {"minLength", 1}}}, {"version", kString}}, {"agent"}),
       fixed({{"task", value_type::object, true, "the task"}}), fixed({{"out", value_type::any, false, "the agent's result"}}), false, true, {}, {},
       [](const node_call& c) {
         node_outcome o;
         o.k = node_outcome::kind::wait;
         o.wait = {{"kind", "agent"}, {"agent", c.spec.config["agent"]}, {"version", c.spec.config.value("version", "")},
                   {"correlationId", derived_uuid(c, "agent-task")}, {"task", c.inputs.value("task", json::object())}};
         return o;
       }});
  return out;
}

}  // namespace

const node_registry& node_registry::builtin() {
  static const node_registry r = [] {
    node_registry reg;
    for (auto& t : library()) reg.add(std::move(t));
    return reg;
  }();
  return r;
}

void node_registry::add(std::unique_ptr<node_type> t) {
  auto s = json_schema::compile(t->config_schema());
  if (!s) {
    nf::log::get("workflows")->critical("node type {}: its config schema does not compile: {}", t->name(), s.error().message);
    std::abort();
  }
  schemas_.emplace(t->name(), std::move(*s));
  auto n = t->name();
  types_.emplace(std::move(n), std::move(t));
}

const node_type* node_registry::find(const std::string& name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second.get();
}

const json_schema* node_registry::schema(const std::string& name) const {
  auto it = schemas_.find(name);
  return it == schemas_.end() ? nullptr : &it->second;
}

std::vector<std::string> node_registry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, t] : types_) out.push_back(n);
  return out;
}

json node_registry::describe() const {
  json out = json::array();
  auto ports = [](const std::vector<port>& ps) {
    json a = json::array();
    for (const auto& p : ps) a.push_back({{"name", p.name}, {"type", to_string(p.type)}, {"required", p.required}, {"description", p.doc}});
    return a;
  };
  for (const auto& [n, t] : types_) {
    json d{{"type", n}, {"category", t->category()}, {"summary", t->summary()}, {"config", t->config_schema()},
           {"inputs", ports(t->inputs(json::object()))}, {"outputs", ports(t->outputs(json::object()))},
           {"openInputs", t->open_inputs()}, {"waits", t->waits()}};
    if (n == "switch") d["portsFrom"] = "config.cases[].port, and default";
    if (n == "parallel") d["portsFrom"] = "config.branches";
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace nf::workflows
