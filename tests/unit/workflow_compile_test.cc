// Workflow definitions: compile checks, canonical form, YAML round trips and the node library.
#include <chrono>

#include <gtest/gtest.h>

#include "actors/workflows/definition.h"
#include "actors/workflows/nodes.h"

namespace nf::workflows {
namespace {

using json = nlohmann::json;

json order_flow() {
  return json::parse(R"({
    "id": "orders", "version": 1, "name": "Order handling",
    "inputs": {"order": "object", "threshold": "number"},
    "variables": {"status": "new"},
    "nodes": [
      {"id": "notify", "type": "template", "config": {"text": "order ${input.id} is ${vars.status}"}, "inputs": {"id": "total.out"}},
      {"id": "total", "type": "transform", "config": {"expression": "inputs.order.qty * inputs.order.price"}},
      {"id": "big", "type": "condition", "config": {"expression": "input.value > threshold"}, "inputs": {"value": "total.out"}},
      {"id": "mark", "type": "set_variable", "config": {"name": "status"}, "inputs": {"value": "big"}},
      {"id": "wait", "type": "delay", "config": {"ms": 2000}, "inputs": {"in": "big.true"}}
    ],
    "outputs": {"total": "total.out", "text": "notify.out"}
  })");
}

compiled compile_doc(const json& doc, compile_env env = {}) { return compile(doc, env); }

std::vector<std::string> messages(const compiled& c) {
  std::vector<std::string> out;
  for (const auto& p : c.problems) out.push_back(to_string(p));
  return out;
}

bool mentions(const compiled& c, const std::string& node, const std::string& text) {
  for (const auto& p : c.problems)
    if (p.node == node && to_string(p).find(text) != std::string::npos) return true;
  return false;
}

TEST(WorkflowCompile, AValidDefinitionCompilesInATopologicalOrder) {
  auto c = compile_doc(order_flow());
  ASSERT_TRUE(c.problems.empty()) << ::testing::PrintToString(messages(c));
  const auto& d = *c.def;
  EXPECT_EQ(d.id, "orders");
  EXPECT_EQ(d.version, 1);
  ASSERT_EQ(d.nodes.size(), 5u);
  auto pos = [&](const std::string& id) { return d.index.at(id); };
  EXPECT_LT(pos("total"), pos("notify"));
  EXPECT_LT(pos("total"), pos("big"));
  EXPECT_LT(pos("big"), pos("wait"));
  EXPECT_EQ(d.node("wait")->after, std::vector<std::string>{"big"});
}

TEST(WorkflowCompile, ListsEveryProblemWithItsNode) {
  auto doc = json::parse(R"({
    "id": "bad", "version": 1,
    "inputs": {"n": "number"},
    "nodes": [
      {"id": "a", "type": "teleport"},
      {"id": "b", "type": "transform", "config": {"expression": "missing + 1"}},
      {"id": "c", "type": "delay", "config": {"ms": -5}, "inputs": {"in": "ghost.out"}},
      {"id": "d", "type": "set_variable", "config": {"name": "nope"}},
      {"id": "e", "type": "template", "config": {"text": "x"}, "inputs": {"v": "b.nothing"}},
      {"id": "f", "type": "delay", "inputs": {"ms": "wrong type"}},
      {"id": "g", "type": "transform", "config": {"expression": "1 +"}}
    ]
  })");
  auto c = compile_doc(doc);
  EXPECT_FALSE(c.def);
  EXPECT_TRUE(mentions(c, "a", "unknown node type 'teleport'")) << ::testing::PrintToString(messages(c));
  EXPECT_TRUE(mentions(c, "b", "unknown variable 'missing'"));
  EXPECT_TRUE(mentions(c, "c", "config/ms"));
  EXPECT_TRUE(mentions(c, "c", "dangling connection: 'ghost.out' names no node"));
  EXPECT_TRUE(mentions(c, "d", "missing connection: the required input 'value'"));
  EXPECT_TRUE(mentions(c, "d", "unknown variable 'nope'"));
  EXPECT_TRUE(mentions(c, "e", "has no output 'nothing'"));
  EXPECT_TRUE(mentions(c, "f", "port type mismatch: a literal string, the port takes number"));
  EXPECT_TRUE(mentions(c, "g", "at 4:"));
}

TEST(WorkflowCompile, ReportsACycleWithItsPath) {
  auto doc = json::parse(R"({"id": "loop", "version": 1, "nodes": [
      {"id": "a", "type": "noop", "inputs": {"in": "c.out"}},
      {"id": "b", "type": "noop", "inputs": {"in": "a.out"}},
      {"id": "c", "type": "transform", "config": {"expression": "nodes.b.out"}},
      {"id": "solo", "type": "noop"}]})");
  auto c = compile_doc(doc);
  ASSERT_EQ(c.problems.size(), 1u) << ::testing::PrintToString(messages(c));
  const auto m = to_string(c.problems[0]);
  EXPECT_NE(m.find("cycle: "), std::string::npos) << m;
  // The path names every node of the cycle and closes it.
  for (const char* n : {"a", "b", "c"}) EXPECT_NE(m.find(n), std::string::npos) << m;
  EXPECT_EQ(m.find("solo"), std::string::npos) << m;
}

TEST(WorkflowCompile, PortTypesAreCheckedAlongConnections) {
  auto doc = json::parse(R"({"id": "t", "version": 1, "nodes": [
      {"id": "txt", "type": "template", "config": {"text": "hi"}},
      {"id": "each", "type": "for_each", "config": {"expression": "item"}, "inputs": {"items": "txt.out"}}]})");
  auto c = compile_doc(doc);
  EXPECT_TRUE(mentions(c, "each", "port type mismatch: 'txt.out' is string, the port takes array")) << ::testing::PrintToString(messages(c));
}

TEST(WorkflowCompile, SubWorkflowsMustExistAndNotRecurse) {
  std::map<std::string, json> store;
  store["child"] = json::parse(R"({"id": "child", "version": 1, "inputs": {"x": "number"}, "nodes": [
      {"id": "back", "type": "sub_workflow", "config": {"workflow": "parent"}, "inputs": {"y": 1}}]})");
  store["parent"] = json::parse(R"({"id": "parent", "version": 1, "nodes": []})");
  compile_env env;
  env.lookup = [&](const std::string& id, std::int64_t) -> std::optional<json> {
    auto it = store.find(id);
    if (it == store.end()) return std::nullopt;
    return it->second;
  };
  auto doc = json::parse(R"({"id": "parent", "version": 2, "nodes": [
      {"id": "run_child", "type": "sub_workflow", "config": {"workflow": "child"}, "inputs": {"x": 2}},
      {"id": "nowhere", "type": "sub_workflow", "config": {"workflow": "absent"}},
      {"id": "self", "type": "sub_workflow", "config": {"workflow": "parent"}}]})");
  auto c = compile_doc(doc, env);
  EXPECT_TRUE(mentions(c, "run_child", "recursive sub-workflow: parent -> child -> parent")) << ::testing::PrintToString(messages(c));
  EXPECT_TRUE(mentions(c, "nowhere", "sub-workflow 'absent' not found"));
  EXPECT_TRUE(mentions(c, "self", "a workflow cannot run itself"));

  auto wrong = json::parse(R"({"id": "p2", "version": 1, "nodes": [
      {"id": "s", "type": "sub_workflow", "config": {"workflow": "child"}, "inputs": {"x": "text", "z": 1}}]})");
  store["child"]["nodes"] = json::parse(R"([{"id": "n", "type": "noop"}])");
  auto w = compile_doc(wrong, env);
  EXPECT_TRUE(mentions(w, "s", "port type mismatch: a literal string, the port takes number")) << ::testing::PrintToString(messages(w));
  EXPECT_TRUE(mentions(w, "s", "has no input 'z'"));
}

TEST(WorkflowCompile, HandlersRetriesAndTimeoutsAreChecked) {
  auto doc = json::parse(R"({"id": "h", "version": 1, "nodes": [
      {"id": "a", "type": "fail", "config": {"code": "boom"}, "on_error": "rescue", "retry": {"max_attempts": 3, "jitter": 2, "colour": 1}},
      {"id": "rescue", "type": "noop"},
      {"id": "b", "type": "noop", "on_error": "nobody", "timeout_ms": 5}]})");
  auto c = compile_doc(doc);
  EXPECT_TRUE(mentions(c, "a", "retry/jitter: is a number from 0 to 1")) << ::testing::PrintToString(messages(c));
  EXPECT_TRUE(mentions(c, "a", "retry/colour: is not a retry setting"));
  EXPECT_TRUE(mentions(c, "b", "unknown handler node 'nobody'"));
  EXPECT_TRUE(mentions(c, "b", "only a node that waits"));
}

TEST(WorkflowCompile, AConfigOfTheWrongShapeIsReportedNotRead) {
  // Found by the definition fuzzer: a type's checks read a config its schema had refused.
  auto c = compile_doc(json::parse(R"({"id": "w", "version": 1, "variables": {"v": 0}, "nodes": [
      {"id": "s", "type": "set_variable", "config": {"name": null}, "inputs": {"value": 1}},
      {"id": "t", "type": "switch", "config": {"cases": [{"port": 3, "when": []}]}},
      {"id": "u", "type": "sub_workflow", "config": {"workflow": 7}}]})"));
  EXPECT_TRUE(mentions(c, "s", "config/name")) << ::testing::PrintToString(messages(c));
  EXPECT_TRUE(mentions(c, "t", "config/cases/0/port"));
  EXPECT_TRUE(mentions(c, "u", "config/workflow"));
}

TEST(WorkflowCompile, DocumentFieldsAreChecked) {
  auto c = compile_doc(json::parse(R"({"id": "-x", "version": 0, "nodes": [], "colour": 1, "inputs": {"a": "integer"}})"));
  EXPECT_TRUE(mentions(c, "", "id: is required")) << ::testing::PrintToString(messages(c));
  EXPECT_TRUE(mentions(c, "", "version: is required"));
  EXPECT_TRUE(mentions(c, "", "colour: is not a field"));
  EXPECT_TRUE(mentions(c, "", "inputs/a: a type is one of"));
  EXPECT_TRUE(mentions(c, "", "nodes: is required"));
  EXPECT_FALSE(compile_doc(json::array()).problems.empty());
}

TEST(WorkflowCompile, AThousandNodesCompileQuickly) {
  json doc{{"id", "big"}, {"version", 1}, {"inputs", {{"n", "number"}}}, {"nodes", json::array()}};
  for (int i = 0; i < 1000; ++i) {
    json n{{"id", "n" + std::to_string(i)}, {"type", "transform"}, {"config", {{"expression", i ? "input.prev + 1" : "n"}}}};
    if (i) n["inputs"] = {{"prev", "n" + std::to_string(i - 1) + ".out"}};
    doc["nodes"].push_back(n);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto c = compile_doc(doc);
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(c.problems.empty()) << ::testing::PrintToString(messages(c));
  EXPECT_EQ(c.def->nodes.front().id, "n0");
  EXPECT_EQ(c.def->nodes.back().id, "n999");
  // The target is 50 ms (bench/workflows_bench.cc measures it); a sanitizer build is slower.
  EXPECT_LT(ms, 1000.0);
}

TEST(WorkflowDocument, YamlImportThenExportRoundTrips) {
  const std::string yaml = R"(id: orders
version: 3
name: "Order handling"
inputs:
  order: object
  limit: number
variables: {seen: 0, tags: [], note: ~}
nodes:
  - id: total
    type: transform
    config:
      expression: "inputs.order.qty * 2.5"
  - id: say
    type: template
    config: {text: 'total ${nodes.total.out}'}
    inputs: {flag: true, ratio: 0.25, big: -12, quoted: "12", dotted: "total.out"}
outputs:
  total: total.out
)";
  auto j = parse_document(yaml, "application/yaml; charset=utf-8");
  ASSERT_TRUE(j) << j.error().message;
  EXPECT_EQ((*j)["version"], 3);
  EXPECT_EQ((*j)["variables"]["note"], nullptr);
  EXPECT_EQ((*j)["nodes"][1]["inputs"]["quoted"], "12");
  EXPECT_EQ((*j)["nodes"][1]["inputs"]["ratio"], 0.25);
  auto c = compile_doc(*j);
  ASSERT_TRUE(c.problems.empty()) << ::testing::PrintToString(messages(c));
  const auto exported = to_yaml(c.def->document);
  auto again = parse_yaml(exported);
  ASSERT_TRUE(again) << again.error().message << "\n" << exported;
  EXPECT_EQ(*again, c.def->document);
  auto c2 = compile_doc(*again);
  ASSERT_TRUE(c2.def);
  EXPECT_EQ(to_yaml(c2.def->document), exported);
  EXPECT_EQ(c2.def->document.dump(), c.def->document.dump());
}

TEST(WorkflowDocument, BadYamlAndJsonSayWhere) {
  auto y = parse_document("id: [unclosed\n", "application/yaml");
  ASSERT_FALSE(y);
  EXPECT_NE(y.error().message.find("line"), std::string::npos) << y.error().message;
  auto dup = parse_yaml("a: 1\na: 2\n");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("appears twice"), std::string::npos);
  auto big = parse_document("{\"id\": 1e777}", "application/json");  // out of range, found by the fuzzer
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("invalid JSON"), std::string::npos);
  auto j = parse_document("{\"id\": ", "application/json");
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().message.find("invalid JSON"), std::string::npos);
  // Aliases that would expand without bound are refused, not expanded.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'k'; ++c, ++prev) bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n";
  // Text that is not UTF-8 is refused with its line (found by the definition fuzzer).
  auto bytes = parse_yaml("id: w\nname: \"\xd4\x9b\x9a\"\n");
  ASSERT_FALSE(bytes);
  EXPECT_NE(bytes.error().message.find("line 2: a value is not valid UTF-8"), std::string::npos) << bytes.error().message;
  auto b = parse_yaml(bomb);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("1,000,000"), std::string::npos) << b.error().message;
}

// ---- the node library, run pure with an injected time ----

struct harness {
  std::shared_ptr<const definition> def;
  json scope = {{"inputs", json::object()}, {"vars", json::object()}, {"nodes", json::object()}, {"run", {{"id", "r1"}}}};
  node_outcome run(const std::string& id, const json& inputs, std::int64_t now = 1'000) {
    const auto* s = def->node(id);
    const auto* t = node_registry::builtin().find(s->type);
    return t->run(node_call{*s, inputs, scope, "r1", 1, now});
  }
};

harness build(const std::string& nodes_json, const std::string& extra = "") {
  auto doc = json::parse(R"({"id": "w", "version": 1, "inputs": {"n": "number"}, "variables": {"v": 0}, "nodes": )" + nodes_json + extra + "}");
  auto c = compile(doc, {});
  EXPECT_TRUE(c.problems.empty()) << ::testing::PrintToString(messages(c));
  harness h;
  h.def = c.def;
  h.scope["inputs"]["n"] = 5;
  h.scope["n"] = 5;
  h.scope["vars"]["v"] = 0;
  h.scope["v"] = 0;
  return h;
}

TEST(WorkflowNodes, TheLibraryHasTwentyDocumentedTypes) {
  const auto& reg = node_registry::builtin();
  EXPECT_GE(reg.names().size(), 20u);
  for (const char* t : {"condition", "switch", "for_each", "while", "parallel", "join", "sub_workflow", "delay", "wait_for_event", "approval", "fail", "noop",
                        "set_variable", "transform", "validate_json", "template", "emit_event", "mission", "http_request", "agent_invoke"})
    EXPECT_NE(reg.find(t), nullptr) << t;
  for (const auto& d : reg.describe()) {
    EXPECT_FALSE(d["summary"].get<std::string>().empty()) << d["type"];
    EXPECT_TRUE(d["config"].is_object()) << d["type"];
    EXPECT_TRUE(d["inputs"].is_array() && d["outputs"].is_array()) << d["type"];
  }
}

TEST(WorkflowNodes, ConditionAndSwitchTakeOnePort) {
  auto h = build(R"([{"id": "c", "type": "condition", "config": {"expression": "input.value > n"}},
                     {"id": "s", "type": "switch", "config": {"cases": [{"port": "low", "when": "input.value < 3"}, {"port": "mid", "when": "input.value < 10"}]}}])");
  EXPECT_EQ(h.run("c", {{"value", 7}}).output, json({{"true", 7}}));
  EXPECT_EQ(h.run("c", {{"value", 2}}).output, json({{"false", 2}}));
  auto bad = h.run("c", {{"value", "x"}});
  EXPECT_EQ(bad.k, node_outcome::kind::failed);
  EXPECT_EQ(bad.code, "expression");
  EXPECT_EQ(h.run("s", {{"value", 1}}).output, json({{"low", 1}}));
  EXPECT_EQ(h.run("s", {{"value", 5}}).output, json({{"mid", 5}}));
  EXPECT_EQ(h.run("s", {{"value", 50}}).output, json({{"default", 50}}));
}

TEST(WorkflowNodes, LoopsAreBounded) {
  auto h = build(R"([{"id": "each", "type": "for_each", "config": {"expression": "item * 2 + index", "max_items": 3}, "inputs": {"items": []}},
                     {"id": "w", "type": "while", "config": {"condition": "state < 100", "update": "state * 2", "max_iterations": 5}}])");
  EXPECT_EQ(h.run("each", {{"items", {1, 2, 3}}}).output, json({{"out", {2, 5, 8}}}));
  EXPECT_EQ(h.run("each", {{"items", {1, 2, 3, 4}}}).code, "max_items");
  EXPECT_EQ(h.run("w", {{"initial", 10}}).output, json({{"out", 160}, {"iterations", 4}}));
  EXPECT_EQ(h.run("w", {{"initial", 1}}).code, "max_iterations");
}

TEST(WorkflowNodes, DataNodes) {
  auto h = build(R"([{"id": "t", "type": "transform", "config": {"expression": "upper(input.name) + '!'"}},
                     {"id": "tpl", "type": "template", "config": {"text": "n=${n}, v=${vars.v}, x=${input.x}"}},
                     {"id": "set", "type": "set_variable", "config": {"name": "v"}, "inputs": {"value": 1}},
                     {"id": "val", "type": "validate_json", "config": {"schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer", "minimum": 1}}}}, "inputs": {"value": null}},
                     {"id": "p", "type": "parallel", "config": {"branches": ["a", "b"]}},
                     {"id": "j", "type": "join"}])");
  EXPECT_EQ(h.run("t", {{"name", "ada"}}).output["out"], "ADA!");
  EXPECT_EQ(h.run("tpl", {{"x", {1, 2}}}).output["out"], "n=5, v=0, x=[1,2]");
  auto s = h.run("set", {{"value", 42}});
  EXPECT_EQ(s.vars, json({{"v", 42}}));
  EXPECT_EQ(h.run("val", {{"value", {{"id", 3}}}}).output["out"]["id"], 3);
  auto bad = h.run("val", {{"value", {{"id", 0}}}});
  EXPECT_EQ(bad.code, "schema_violation");
  EXPECT_NE(bad.message.find("/id"), std::string::npos) << bad.message;
  EXPECT_FALSE(bad.retryable);
  EXPECT_EQ(h.run("p", {{"in", 1}}).output, json({{"a", 1}, {"b", 1}}));
  EXPECT_EQ(h.run("j", {{"x", 1}, {"y", nullptr}}).output, json({{"out", {{"x", 1}, {"y", nullptr}}}}));
}

TEST(WorkflowNodes, WaitingNodesSayWhatTheyWaitFor) {
  auto h = build(R"([{"id": "d", "type": "delay", "config": {"ms": 2000}},
                     {"id": "a", "type": "approval", "config": {"message": "ship it?"}},
                     {"id": "f", "type": "fail", "config": {"code": "nope", "message": "n was ${n}"}},
                     {"id": "e", "type": "emit_event", "config": {"topic": "mission.custom", "type": "x.happened"}, "inputs": {"payload": {}}}])");
  auto d = h.run("d", {{"in", "v"}}, 10'000);
  EXPECT_EQ(d.k, node_outcome::kind::timer);
  EXPECT_EQ(d.fire_at, 12'000);
  EXPECT_EQ(d.output, json({{"out", "v"}}));
  auto d2 = h.run("d", {{"ms", 5}}, 10'000);
  EXPECT_EQ(d2.fire_at, 10'005);
  auto a = h.run("a", {{"value", 1}});
  EXPECT_EQ(a.k, node_outcome::kind::wait);
  EXPECT_EQ(a.wait["kind"], "approval");
  auto f = h.run("f", json::object());
  EXPECT_EQ(f.code, "nope");
  EXPECT_EQ(f.message, "n was 5");
  EXPECT_FALSE(f.retryable);
  auto e = h.run("e", {{"payload", {{"a", 1}}}});
  EXPECT_EQ(e.wait["kind"], "emit");
  EXPECT_EQ(e.wait["key"], "r1");
}

TEST(WorkflowRetry, BackoffGrowsIsCappedAndItsJitterIsDeterministic) {
  retry_policy p;
  p.initial_backoff_ms = 100;
  p.multiplier = 2;
  p.max_backoff_ms = 500;
  EXPECT_EQ(p.backoff_ms(2, "r/n"), 100);
  EXPECT_EQ(p.backoff_ms(3, "r/n"), 200);
  EXPECT_EQ(p.backoff_ms(4, "r/n"), 400);
  EXPECT_EQ(p.backoff_ms(5, "r/n"), 500);
  p.jitter = 0.5;
  const auto a = p.backoff_ms(3, "run-1/n");
  EXPECT_EQ(a, p.backoff_ms(3, "run-1/n"));
  EXPECT_GE(a, 100);
  EXPECT_LE(a, 200);
  bool differs = false;
  for (int i = 0; i < 20; ++i) differs = differs || p.backoff_ms(3, "run-" + std::to_string(i) + "/n") != a;
  EXPECT_TRUE(differs);
}

TEST(WorkflowBindings, ConnectionsExpressionsTextsAndLiterals) {
  auto h = build(R"([{"id": "a", "type": "noop", "inputs": {"in": 3}},
                     {"id": "b", "type": "join", "inputs": {"c": "a.out", "e": "${nodes.a.out + n}", "t": "got ${nodes.a.out}", "l": [1, 2], "s": "plain text"}}])");
  h.scope["nodes"]["a"] = {{"out", 3}};
  const auto* b = h.def->node("b");
  std::map<std::string, json> got;
  for (const auto& [port, bind] : b->inputs) {
    auto v = resolve(bind, h.scope);
    ASSERT_TRUE(v && *v) << port;
    got[port] = **v;
  }
  EXPECT_EQ(got["c"], 3);
  EXPECT_EQ(got["e"], 8);
  EXPECT_EQ(got["t"], "got 3");
  EXPECT_EQ(got["l"], json({1, 2}));
  EXPECT_EQ(got["s"], "plain text");
  // A connection to a port that was not produced resolves to nothing.
  h.scope["nodes"]["a"] = json::object();
  auto none = resolve(b->inputs[0].second, h.scope);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

}  // namespace
}  // namespace nf::workflows
