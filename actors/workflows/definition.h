// Workflow definitions: the document (JSON or YAML, one schema), its compile into a checked plan,
// and the values flowing between nodes.
//
//   {id, version, name, description?, inputs: {name: type}, variables: {name: initial value},
//    nodes: [{id, type, config, inputs: {port: binding}, retry?, timeout_ms?, on_error?}],
//    outputs: {name: binding}, concurrency?: {key, limit}}
//
// A binding is a connection "node.port", an expression "${...}" (over inputs, variables and the
// outputs of earlier nodes), a text with ${...} parts, or any other JSON value as a literal.
// Compiling checks everything it can before a run starts and lists every problem with its node:
// cycles (with the path), unknown node types, configs against each type's schema, missing and
// dangling connections, port types, unknown inputs, variables and nodes in expressions, and
// sub-workflows that are missing or recursive.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/workflows/expression.h"
#include "core/base/result.h"

namespace nf::workflows {

enum class value_type { string, number, boolean, object, array, any };
const char* to_string(value_type t);
// "string", "number", "bool" (or "boolean"), "object", "array", "any".
std::optional<value_type> value_type_of(std::string_view name);
// Whether a JSON value has the type (null has only `any`).
bool has_type(const nlohmann::json& v, value_type t);
// The type of a JSON value (`any` for null).
value_type type_of(const nlohmann::json& v);

struct port {
  std::string name;
  value_type type = value_type::any;
  bool required = false;
  std::string doc;
};

// One thing wrong with a definition; `node` is empty for the document itself.
struct problem {
  std::string node;
  std::string field;    // "config/ms", "inputs/x", "version", ...
  std::string message;
};
nlohmann::json to_json(const problem& p);
std::string to_string(const problem& p);

struct retry_policy {
  int max_attempts = 1;
  std::int64_t initial_backoff_ms = 1000;
  double multiplier = 2.0;
  std::int64_t max_backoff_ms = 60'000;
  std::int64_t max_duration_ms = 0;  // 0: no bound
  double jitter = 0.0;               // 0..1, a share of each backoff
  std::vector<std::string> non_retryable;
  // The delay before attempt `next` (2, 3, ...), jitter drawn from `seed` (the run and node),
  // so replaying a run gives the same delays.
  std::int64_t backoff_ms(int next, std::string_view seed) const;
};

struct binding {
  enum class kind { literal, connection, expression, text } k = kind::literal;
  nlohmann::json value;                                    // literal
  std::string node, port;                                  // connection
  std::vector<std::variant<std::string, expression>> parts;  // expression (one part) or text
  std::string source;                                      // as written
};

struct node_spec {
  std::string id, type;
  nlohmann::json config = nlohmann::json::object();
  std::vector<std::pair<std::string, binding>> inputs;
  std::optional<retry_policy> retry;
  std::int64_t timeout_ms = 0;          // 0: none
  std::string on_error = "fail";        // "fail", "continue" or the id of a handler node
  std::vector<std::string> after;       // the nodes it reads (connections and nodes.X references)
  std::string handles;                  // set on a handler node: the node whose errors it handles
  std::vector<expression> exprs;        // compiled expressions of its config (per type)
};

struct definition {
  std::string id;
  std::int64_t version = 0;
  std::string name, description;
  std::vector<std::pair<std::string, value_type>> inputs;
  nlohmann::json variables = nlohmann::json::object();
  std::vector<node_spec> nodes;  // in a topological order
  std::map<std::string, std::size_t> index;
  std::vector<std::pair<std::string, binding>> outputs;
  std::optional<binding> concurrency_key;
  int concurrency_limit = 0;
  nlohmann::json document;  // the canonical document

  const node_spec* node(const std::string& node_id) const;
};

class node_registry;

struct compile_env {
  const node_registry* nodes = nullptr;
  // The canonical document of a workflow (the given version, or the latest when 0), if any.
  std::function<std::optional<nlohmann::json>(const std::string& id, std::int64_t version)> lookup;
};

struct compiled {
  std::shared_ptr<const definition> def;  // null when there are problems
  std::vector<problem> problems;
};

compiled compile(const nlohmann::json& doc, const compile_env& env);

// The document as stored and exported: the fields in schema order, defaults filled in.
// Compiling a document's canonical form gives the same canonical form.
nlohmann::json canonical(const nlohmann::json& doc);

// Checks the names an expression reads against the definition (inputs, variables, nodes and the
// node's `locals`); the nodes it reads are added to spec->after. Problems name `node` and `field`.
void check_references(const expression& e, const definition& def, node_spec* spec, const std::vector<std::string>& locals,
                      const std::string& field, std::vector<problem>& out);

// Reads a definition body: YAML when `content_type` says so (application/yaml, text/yaml,
// application/x-yaml), else JSON. errc::invalid_argument with the line and column.
result<nlohmann::json> parse_document(std::string_view text, std::string_view content_type);
// Whether a Content-Type names YAML (application/yaml, text/yaml and their x- forms).
bool is_yaml_type(std::string_view content_type);
result<nlohmann::json> parse_yaml(std::string_view text);
// YAML block style, strings double-quoted: parse_yaml(to_yaml(j)) == j.
std::string to_yaml(const nlohmann::json& j);

// A binding as written in a definition (a connection "node.port", "${...}", a text with ${...}
// parts, or a literal). errc::invalid_argument when an expression does not parse.
result<binding> make_binding(const nlohmann::json& v);

// Resolves a binding against a run's scope ({inputs, vars, nodes: {id: {port: value}}, ...}).
// A connection to a port that was not produced gives nullopt.
result<std::optional<nlohmann::json>> resolve(const binding& b, const nlohmann::json& scope);
// A value as a template part shows it (strings bare, anything else as JSON).
std::string template_text(const nlohmann::json& v);

}  // namespace nf::workflows
