// The node library: one registry of node types, each with its documented config schema, its
// ports and how it runs. `GET /workflows/nodes` serves describe().
//
// Running a node is pure: it gets its resolved inputs, the run's scope and the time, and returns
// an outcome. Nodes that wait (a timer, an approval, an event, a child run, an HTTP response)
// return what they wait for; the engine records it and completes the node when it arrives.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/workflows/definition.h"
#include "actors/workflows/json_schema.h"

namespace nf::workflows {

struct node_call {
  const node_spec& spec;
  const nlohmann::json& inputs;  // resolved input ports
  const nlohmann::json& scope;   // {inputs, vars, nodes, run, ...}
  std::string run_id;
  int attempt = 1;
  std::int64_t now_ms = 0;
};

struct node_outcome {
  enum class kind { completed, failed, timer, wait } k = kind::completed;
  nlohmann::json output = nlohmann::json::object();  // completed: port -> value (produced ports only)
  nlohmann::json vars = nlohmann::json::object();    // completed: variables the node sets
  std::string code, message;                         // failed
  bool retryable = true;                             // failed
  std::int64_t fire_at = 0;                          // timer: completes with `output` then
  nlohmann::json wait;                               // wait: {kind, ...}

  static node_outcome done(nlohmann::json output) {
    node_outcome o;
    o.output = std::move(output);
    return o;
  }
  static node_outcome fail(std::string code, std::string message, bool retryable = true) {
    node_outcome o;
    o.k = kind::failed;
    o.code = std::move(code);
    o.message = std::move(message);
    o.retryable = retryable;
    return o;
  }
};

class node_type {
 public:
  virtual ~node_type() = default;
  virtual std::string name() const = 0;
  virtual std::string category() const = 0;  // control, data, effects
  virtual std::string summary() const = 0;
  virtual nlohmann::json config_schema() const = 0;  // in the validate_json subset
  // Ports, which may depend on the config (a switch's cases, a parallel's branches).
  virtual std::vector<port> inputs(const nlohmann::json& config) const = 0;
  virtual std::vector<port> outputs(const nlohmann::json& config) const = 0;
  // Nodes that take any named input (join, transform, template) say so.
  virtual bool open_inputs() const { return false; }
  // Names an expression in this node's config may read besides the run's scope (`input`, `item`).
  virtual std::vector<std::string> locals() const { return {}; }
  // Checks beyond the schema (expressions parse, variables exist); compiles the config's
  // expressions into spec.exprs.
  virtual void check(node_spec& spec, const definition& def, std::vector<problem>& out) const;
  // Whether the node waits (a timer or something from outside), so it may take a timeout.
  virtual bool waits() const { return false; }
  virtual node_outcome run(const node_call& call) const = 0;
};

class node_registry {
 public:
  // Every built-in type.
  static const node_registry& builtin();
  const node_type* find(const std::string& name) const;
  // The catalogue served at GET /workflows/nodes: [{type, category, summary, config, inputs, outputs}].
  nlohmann::json describe() const;
  // The compiled config schema of a type.
  const json_schema* schema(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  void add(std::unique_ptr<node_type> t);
  std::map<std::string, std::unique_ptr<node_type>> types_;
  std::map<std::string, json_schema> schemas_;
};

}  // namespace nf::workflows
