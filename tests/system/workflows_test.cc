// The workflow engine through the real binary on 127.0.0.1: definitions in JSON and YAML with
// immutable versions and a YAML round trip; compile errors naming every node; runs to completion
// with branches, variables and sub-workflows; retries with their attempts; approvals and their
// permission; idempotency keys; cancel; step-through debugging; reset from a node; search; and a
// durable delay that fires once, on time, after the server is SIGKILLed.
#include <signal.h>

#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;

// A node's status in a run document ("" before the node has one).
std::string node_status(const json& run, const std::string& node) {
  if (!run.is_object() || !run.contains("nodes") || !run["nodes"].contains(node) || !run["nodes"][node].is_object()) return "";
  return run["nodes"][node].value("status", "");
}

class Workflows : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = (dir_.path() / "nf.json").string();
    json cfg{{"data_dir", (dir_.path() / "data").string()}, {"workflows", {{"http_allow", {"127.0.0.1"}}}}};
    std::ofstream(config_) << cfg.dump();
    start();
    dev_ = tenant_key("acme", "developer");
    admin_ = tenant_key("acme", "admin");
  }
  void start() {
    srv_.reset();
    srv_ = std::make_unique<t::server>(config_);
    http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
  }
  t::http_reply call(const std::string& method, const std::string& target, const json& body = nullptr, const std::string& key = "") {
    return http_->request(method, target, body.is_null() ? "" : body.dump(), "application/json", true, t::key_headers(key.empty() ? dev_ : key));
  }
  t::http_reply call_text(const std::string& method, const std::string& target, const std::string& body, const std::string& ctype) {
    return http_->request(method, target, body, ctype, true, t::key_headers(dev_));
  }
  json expect(const t::http_reply& r, int status, const std::string& what = "") {
    EXPECT_EQ(r.status, status) << what << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  std::string tenant_key(const std::string& id, const std::string& role, const std::string& plan = "basic") {
    auto admin = [&](const std::string& m, const std::string& target, const json& body) {
      return http_->request(m, target, body.is_null() ? "" : body.dump(), "application/json", true, t::key_headers(t::kAdminKey));
    };
    if (admin("GET", "/tenants/" + id, nullptr).status == 404) expect(admin("POST", "/tenants", {{"id", id}, {"name", id}, {"plan", plan}}), 201);
    return expect(admin("POST", "/tenants/" + id + "/keys", {{"role", role}}), 201)["key"].get<std::string>();
  }
  std::string run(const std::string& wf, const json& body) {
    return expect(call("POST", "/workflows/" + wf + "/runs", body), 201, wf)["runId"].get<std::string>();
  }
  json until(const std::string& run_id, const std::function<bool(const json&)>& ok, std::chrono::milliseconds within = 20s) {
    json doc;
    EXPECT_TRUE(t::wait_until(
        [&] {
          auto r = call("GET", "/runs/" + run_id);
          if (r.status != 200) return false;
          doc = json::parse(r.body);
          return ok(doc);
        },
        within))
        << doc.dump(2);
    return doc;
  }
  json ended(const std::string& run_id) {
    return until(run_id, [](const json& d) {
      const auto s = d.value("status", "");
      return s == "completed" || s == "failed" || s == "cancelled";
    });
  }
  json history(const std::string& run_id) { return expect(call("GET", "/runs/" + run_id + "/history?limit=1000"), 200)["events"]; }

  t::temp_dir dir_;
  std::string config_;
  std::unique_ptr<t::server> srv_;
  std::unique_ptr<t::http_client> http_;
  std::string dev_, admin_;
};

const char* kOrders = R"Y(
id: orders
version: 1
name: Order handling
inputs: {qty: number, price: number, customer: string}
variables: {tier: "standard"}
nodes:
  - id: total
    type: transform
    config: {expression: "inputs.qty * inputs.price"}
  - id: big
    type: condition
    config: {expression: "input.value >= 100"}
    inputs: {value: total.out}
  - id: vip
    type: set_variable
    config: {name: tier}
    inputs: {value: "gold"}
  - id: gate
    type: noop
    inputs: {in: big.true}
  - id: note
    type: template
    config: {text: "${customer} pays ${nodes.total.out} (${tier})"}
    inputs: {after: gate.out}
outputs:
  total: total.out
  note: "${nodes.note.out}"
)Y";

TEST_F(Workflows, DefinitionsAreVersionedAndRoundTripThroughYaml) {
  auto nodes = expect(call("GET", "/workflows/nodes"), 200);
  EXPECT_GE(nodes.size(), 20u);
  auto created = expect(call_text("POST", "/workflows", kOrders, "application/yaml"), 201);
  EXPECT_EQ(created["version"], 1);
  // Export then import again gives the identical document.
  auto y = call("GET", "/workflows/orders?format=yaml");
  ASSERT_EQ(y.status, 200);
  auto v1 = expect(call("GET", "/workflows/orders/versions/1"), 200);
  auto validated = expect(call_text("POST", "/workflows/validate", y.body, "application/yaml"), 200);
  EXPECT_TRUE(validated["valid"]) << validated.dump();
  // The same document again is answered as the first time; another with the same version is 409.
  expect(call_text("POST", "/workflows", y.body, "application/yaml"), 200);
  auto changed = v1["document"];
  changed["name"] = "renamed";
  expect(call("POST", "/workflows", changed), 409);
  changed["version"] = 2;
  expect(call("POST", "/workflows", changed), 201);
  auto v1again = expect(call("GET", "/workflows/orders/versions/1"), 200);
  EXPECT_EQ(v1again["document"], v1["document"]);
  EXPECT_EQ(expect(call("GET", "/workflows/orders"), 200)["version"], 2);
  auto list = expect(call("GET", "/workflows"), 200);
  ASSERT_EQ(list["workflows"].size(), 1u);
  EXPECT_EQ(list["workflows"][0]["latestVersion"], 2);
  // Another tenant sees none of it.
  const auto other = tenant_key("globex", "developer");
  expect(call("GET", "/workflows/orders", nullptr, other), 404);
}

TEST_F(Workflows, CompileErrorsNameEveryNodeAndStoreNothing) {
  json bad{{"id", "broken"}, {"version", 1}, {"nodes", {{{"id", "a"}, {"type", "teleport"}}, {{"id", "b"}, {"type", "transform"}, {"config", {{"expression", "nope +"}}}},
                                                        {{"id", "c"}, {"type", "noop"}, {"inputs", {{"in", "ghost.out"}}}}}}};
  auto r = expect(call("POST", "/workflows", bad), 400);
  EXPECT_EQ(r["error"]["code"], "invalid_definition");
  ASSERT_EQ(r["problems"].size(), 3u) << r.dump();
  std::set<std::string> nodes;
  for (const auto& p : r["problems"]) nodes.insert(p["node"].get<std::string>());
  EXPECT_EQ(nodes, (std::set<std::string>{"a", "b", "c"}));
  expect(call("GET", "/workflows/broken"), 404);
  auto y = expect(call_text("POST", "/workflows", "id: [unclosed\n", "application/yaml"), 400);
  EXPECT_NE(y["error"]["message"].get<std::string>().find("line"), std::string::npos) << y.dump();
  EXPECT_EQ(y["error"]["code"], "malformed_yaml") << y.dump();
  EXPECT_EQ(expect(call_text("POST", "/workflows", "{\"id\": ", "application/json"), 400)["error"]["code"], "malformed_json");
  json cyc{{"id", "cyc"}, {"version", 1}, {"nodes", {{{"id", "a"}, {"type", "noop"}, {"inputs", {{"in", "b.out"}}}}, {{"id", "b"}, {"type", "noop"}, {"inputs", {{"in", "a.out"}}}}}}};
  auto c = expect(call("POST", "/workflows", cyc), 400);
  EXPECT_NE(c["error"]["message"].get<std::string>().find("cycle"), std::string::npos) << c.dump();
}

TEST_F(Workflows, ARunTakesItsBranchesAndEndsWithItsOutputs) {
  expect(call_text("POST", "/workflows", kOrders, "application/yaml"), 201);
  const auto big = run("orders", {{"inputs", {{"qty", 10}, {"price", 12.5}, {"customer", "ada"}}}, {"searchAttributes", {{"customer", "ada"}}}});
  auto d = ended(big);
  ASSERT_EQ(d["status"], "completed") << d.dump(2);
  EXPECT_EQ(d["outputs"]["total"], 125);
  EXPECT_EQ(d["outputs"]["note"], "ada pays 125 (gold)");
  EXPECT_EQ(d["nodes"]["gate"]["status"], "completed");
  EXPECT_EQ(d["version"], 1);
  const auto small = run("orders", {{"inputs", {{"qty", 1}, {"price", 2}, {"customer", "bob"}}}});
  auto s = ended(small);
  ASSERT_EQ(s["status"], "completed") << s.dump(2);
  EXPECT_EQ(s["nodes"]["gate"]["status"], "skipped");
  EXPECT_EQ(s["nodes"]["note"]["status"], "skipped");
  EXPECT_EQ(s["outputs"]["total"], 2);
  EXPECT_TRUE(s["outputs"]["note"].is_null());
  // Every step is in the history, in order.
  auto h = history(big);
  ASSERT_FALSE(h.empty());
  EXPECT_EQ(h.front()["type"], "workflow.run_started");
  EXPECT_EQ(h.back()["type"], "workflow.run_completed");
  for (std::size_t i = 1; i < h.size(); ++i) EXPECT_EQ(h[i]["seq"].get<int>(), h[i - 1]["seq"].get<int>() + 1);
  // Paged.
  auto page = expect(call("GET", "/runs/" + big + "/history?limit=3"), 200);
  EXPECT_EQ(page["events"].size(), 3u);
  auto rest = expect(call("GET", "/runs/" + big + "/history?after=" + std::to_string(page["next"].get<int>())), 200);
  EXPECT_EQ(page["events"].size() + rest["events"].size(), h.size());
  // Search by workflow, status and attribute.
  auto found = expect(call("GET", "/runs?workflow=orders&attr.customer=ada"), 200)["runs"];
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["runId"], big);
  EXPECT_EQ(expect(call("GET", "/runs?status=completed"), 200)["runs"].size(), 2u);
  auto m = expect(call("GET", "/workflows/orders/metrics"), 200);
  EXPECT_FALSE(m["nodes"].empty());
  // Another tenant cannot read the run.
  expect(call("GET", "/runs/" + big, nullptr, tenant_key("globex", "developer")), 404);
}

TEST_F(Workflows, BadRunInputIsRefusedNamingTheField) {
  expect(call_text("POST", "/workflows", kOrders, "application/yaml"), 201);
  auto r = expect(call("POST", "/workflows/orders/runs", {{"inputs", {{"qty", "ten"}, {"price", 1}, {"customer", "x"}}}}), 400);
  EXPECT_EQ(r["error"]["field"], "inputs.qty");
  r = expect(call("POST", "/workflows/orders/runs", {{"inputs", {{"qty", 1}, {"price", 1}}}}), 400);
  EXPECT_EQ(r["error"]["field"], "inputs.customer");
  r = expect(call("POST", "/workflows/orders/runs", {{"inputs", {{"qty", 1}, {"price", 1}, {"customer", "x"}}}, {"breakpoints", {"nowhere"}}}), 400);
  EXPECT_EQ(r["error"]["field"], "breakpoints");
  expect(call("POST", "/workflows/absent/runs", {{"inputs", json::object()}}), 404);
  EXPECT_TRUE(expect(call("GET", "/runs"), 200)["runs"].empty());
}

TEST_F(Workflows, AnIdempotencyKeyStartsOneRun) {
  expect(call_text("POST", "/workflows", kOrders, "application/yaml"), 201);
  json body{{"inputs", {{"qty", 1}, {"price", 1}, {"customer", "x"}}}, {"idempotencyKey", "order-17"}};
  const auto first = run("orders", body);
  auto again = expect(call("POST", "/workflows/orders/runs", body), 200);
  EXPECT_EQ(again["runId"], first);
  body["inputs"]["qty"] = 2;
  expect(call("POST", "/workflows/orders/runs", body), 409);
  EXPECT_EQ(expect(call("GET", "/runs?workflow=orders"), 200)["runs"].size(), 1u);
}

TEST_F(Workflows, FailedNodesAreRetriedThenFailTheRunOrContinue) {
  // Nothing listens on port 9 of loopback: every attempt fails.
  json wf{{"id", "flaky"}, {"version", 1}, {"nodes", {{{"id", "call"}, {"type", "http_request"}, {"config", {{"url", "http://127.0.0.1:9/x"}}},
                                                       {"retry", {{"max_attempts", 3}, {"initial_backoff_ms", 50}, {"multiplier", 2}, {"jitter", 0.5}}}},
                                                      {{"id", "after"}, {"type", "noop"}, {"inputs", {{"in", "call.out"}}}}}}};
  expect(call("POST", "/workflows", wf), 201);
  auto d = ended(run("flaky", {{"inputs", json::object()}}));
  ASSERT_EQ(d["status"], "failed") << d.dump(2);
  EXPECT_EQ(d["nodes"]["call"]["attempts"], 3);
  EXPECT_EQ(d["error"]["node"], "call");
  auto h = history(d["runId"]);
  int retries = 0, failures = 0;
  for (const auto& e : h) {
    retries += e["type"] == "workflow.retry_scheduled";
    failures += e["type"] == "workflow.node_failed";
  }
  EXPECT_EQ(retries, 2);
  EXPECT_EQ(failures, 3);
  // on_error: continue gives a null output and the run goes on.
  wf["version"] = 2;
  wf["nodes"][0]["on_error"] = "continue";
  wf["nodes"][0]["retry"]["max_attempts"] = 1;
  expect(call("POST", "/workflows", wf), 201);
  auto c = ended(run("flaky", {{"inputs", json::object()}}));
  ASSERT_EQ(c["status"], "completed") << c.dump(2);
  EXPECT_EQ(c["nodes"]["after"]["status"], "completed");
  // A host off the allowlist is refused without retries.
  json off{{"id", "offlist"}, {"version", 1}, {"nodes", {{{"id", "call"}, {"type", "http_request"}, {"config", {{"url", "http://10.0.0.1/x"}}},
                                                          {"retry", {{"max_attempts", 5}, {"initial_backoff_ms", 10}}}}}}};
  expect(call("POST", "/workflows", off), 201);
  auto o = ended(run("offlist", {{"inputs", json::object()}}));
  EXPECT_EQ(o["status"], "failed");
  EXPECT_EQ(o["nodes"]["call"]["attempts"], 1);
  EXPECT_NE(o["error"]["message"].get<std::string>().find("http_allow"), std::string::npos) << o.dump();
}

TEST_F(Workflows, ApprovalsNeedThePermissionAndPassTheValueOn) {
  json wf{{"id", "release"}, {"version", 1}, {"inputs", {{"build", "string"}}},
          {"nodes", {{{"id", "ask"}, {"type", "approval"}, {"config", {{"message", "ship?"}}}, {"inputs", {{"value", "${build}"}}}},
                     {{"id", "ship"}, {"type", "template"}, {"config", {{"text", "shipped ${nodes.ask.approved.value} (${nodes.ask.approved.comment})"}}}, {"inputs", {{"go", "ask.approved"}}}}}},
          {"outputs", {{"result", "ship.out"}}}};
  expect(call("POST", "/workflows", wf), 201);
  const auto id = run("release", {{"inputs", {{"build", "v7"}}}});
  until(id, [](const json& d) { return d["nodes"].contains("ask") && node_status(d, "ask") == "waiting"; });
  expect(call("POST", "/runs/" + id + "/approve", {{"comment", "ok"}}), 403);  // a developer may not approve
  expect(call("POST", "/runs/" + id + "/approve", {{"comment", "go"}}, admin_), 200);
  auto d = ended(id);
  ASSERT_EQ(d["status"], "completed") << d.dump(2);
  EXPECT_EQ(d["outputs"]["result"], "shipped v7 (go)");
  EXPECT_NE(d["nodes"]["ask"]["by"].get<std::string>(), "");
  // Approving again: nothing waits.
  expect(call("POST", "/runs/" + id + "/approve", json::object(), admin_), 409);
  // A rejection takes the other port; a cancel ends a waiting run.
  const auto r2 = run("release", {{"inputs", {{"build", "v8"}}}});
  until(r2, [](const json& d2) { return d2["nodes"].contains("ask") && node_status(d2, "ask") == "waiting"; });
  expect(call("POST", "/runs/" + r2 + "/reject", json::object(), admin_), 200);
  auto rej = ended(r2);
  EXPECT_EQ(rej["nodes"]["ship"]["status"], "skipped");
  const auto r3 = run("release", {{"inputs", {{"build", "v9"}}}});
  until(r3, [](const json& d3) { return d3["nodes"].contains("ask") && node_status(d3, "ask") == "waiting"; });
  expect(call("POST", "/runs/" + r3 + "/cancel", {{"reason", "not today"}}), 200);
  EXPECT_EQ(ended(r3)["status"], "cancelled");
  expect(call("POST", "/runs/" + r3 + "/cancel", json::object()), 409);
}

TEST_F(Workflows, DebugRunsPauseBeforeEachNodeUntilStepped) {
  expect(call_text("POST", "/workflows", kOrders, "application/yaml"), 201);
  const auto id = run("orders", {{"inputs", {{"qty", 10}, {"price", 10}, {"customer", "c"}}}, {"debug", true}});
  auto p = until(id, [](const json& d) { return d.value("status", "") == "paused"; });
  EXPECT_EQ(p["paused"], "total");
  expect(call("POST", "/runs/" + id + "/step", json::object()), 200);
  p = until(id, [](const json& d) { return d.value("status", "") == "paused" && d.value("paused", "") != "total"; });
  EXPECT_EQ(p["nodes"]["total"]["output"]["out"], 100);
  EXPECT_EQ(p["paused"], "big");
  expect(call("POST", "/runs/" + id + "/continue", json::object()), 200);
  EXPECT_EQ(ended(id)["status"], "completed");
  // Breakpoints pause only there.
  const auto b = run("orders", {{"inputs", {{"qty", 10}, {"price", 10}, {"customer", "c"}}}, {"breakpoints", {"note"}}});
  auto bp = until(b, [](const json& d) { return d.value("status", "") == "paused"; });
  EXPECT_EQ(bp["paused"], "note");
  EXPECT_EQ(bp["nodes"]["gate"]["status"], "completed");
  expect(call("POST", "/runs/" + b + "/continue", json::object()), 200);
  EXPECT_EQ(ended(b)["status"], "completed");
  expect(call("POST", "/runs/" + b + "/step", json::object()), 409);
}

TEST_F(Workflows, AResetRunsAgainFromANodeReusingEarlierOutputs) {
  json wf{{"id", "pipeline"}, {"version", 1}, {"inputs", {{"limit", "number"}}},
          {"nodes", {{{"id", "load"}, {"type", "transform"}, {"config", {{"expression", "[1, 2, 3]"}}}},
                     {{"id", "sum"}, {"type", "transform"}, {"config", {{"expression", "nodes.load.out[0] + nodes.load.out[1] + nodes.load.out[2]"}}}},
                     {{"id", "check"}, {"type", "validate_json"}, {"config", {{"schema", {{"type", "number"}, {"maximum", 5}}}}}, {"inputs", {{"value", "sum.out"}}}},
                     {{"id", "cap"}, {"type", "transform"}, {"config", {{"expression", "min(input.v, limit)"}}}, {"inputs", {{"v", "check.out"}}}}}},
          {"outputs", {{"capped", "cap.out"}}}};
  expect(call("POST", "/workflows", wf), 201);
  const auto orig = run("pipeline", {{"inputs", {{"limit", 4}}}});
  auto o = ended(orig);
  ASSERT_EQ(o["status"], "failed") << o.dump(2);
  EXPECT_EQ(o["error"]["node"], "check");
  EXPECT_EQ(o["error"]["code"], "schema_violation");
  // A reset to an unknown node is refused.
  EXPECT_EQ(expect(call("POST", "/runs/" + orig + "/reset", {{"node", "ghost"}}), 400)["error"]["field"], "node");
  // Reset from `cap`: load, sum and check are not re-run... check failed, so it runs again too.
  auto r = expect(call("POST", "/runs/" + orig + "/reset", {{"node", "sum"}}), 201);
  auto again = ended(r["runId"]);
  EXPECT_EQ(again["resetOf"]["runId"], orig);
  EXPECT_TRUE(again["nodes"]["load"].value("reused", false)) << again.dump(2);
  EXPECT_FALSE(again["nodes"]["sum"].value("reused", false));
  // The original's history is untouched and links to the reset.
  auto o2 = expect(call("GET", "/runs/" + orig), 200);
  EXPECT_EQ(o2["status"], "failed");
  ASSERT_EQ(o2["resets"].size(), 1u);
  EXPECT_EQ(o2["resets"][0]["runId"], r["runId"]);
  EXPECT_EQ(history(orig).size(), o["steps"].get<std::size_t>());
}

TEST_F(Workflows, SubWorkflowsReturnTheirOutputs) {
  json child{{"id", "double"}, {"version", 1}, {"inputs", {{"x", "number"}}}, {"nodes", {{{"id", "d"}, {"type", "transform"}, {"config", {{"expression", "x * 2"}}}}}},
             {"outputs", {{"y", "d.out"}}}};
  expect(call("POST", "/workflows", child), 201);
  json parent{{"id", "quad"}, {"version", 1}, {"inputs", {{"n", "number"}}},
              {"nodes", {{{"id", "once"}, {"type", "sub_workflow"}, {"config", {{"workflow", "double"}}}, {"inputs", {{"x", "${n}"}}}},
                         {{"id", "twice"}, {"type", "sub_workflow"}, {"config", {{"workflow", "double"}, {"version", 1}}}, {"inputs", {{"x", "${nodes.once.out.y}"}}}}}},
              {"outputs", {{"result", "${nodes.twice.out.y}"}}}};
  expect(call("POST", "/workflows", parent), 201);
  auto d = ended(run("quad", {{"inputs", {{"n", 5}}}}));
  ASSERT_EQ(d["status"], "completed") << d.dump(2);
  EXPECT_EQ(d["outputs"]["result"], 20);
  // A recursive definition is refused at compile.
  json rec = parent;
  rec["id"] = "loopy";
  rec["nodes"][0]["config"]["workflow"] = "loopy";
  expect(call("POST", "/workflows", rec), 400);
}

TEST_F(Workflows, ADelayFiresOnceOnTimeAfterSigkill) {
  json wf{{"id", "wait"}, {"version", 1}, {"nodes", {{{"id", "pause"}, {"type", "delay"}, {"config", {{"ms", 2000}}}, {"inputs", {{"in", "done"}}}}}},
          {"outputs", {{"r", "pause.out"}}}};
  expect(call("POST", "/workflows", wf), 201);
  const auto id = run("wait", {{"inputs", json::object()}});
  auto set = until(id, [](const json& d) { return d["nodes"].contains("pause") && d["nodes"]["pause"].contains("timers"); });
  const auto due = set["nodes"]["pause"]["timers"]["delay"]["at"].get<std::int64_t>();
  srv_->proc().signal(SIGKILL);
  srv_->proc().wait();
  start();
  auto d = ended(id);
  ASSERT_EQ(d["status"], "completed") << d.dump(2);
  EXPECT_EQ(d["outputs"]["r"], "done");
  EXPECT_GE(d["endedAt"].get<std::int64_t>(), due);
  EXPECT_LT(d["endedAt"].get<std::int64_t>(), due + 5000);
  int fired = 0;
  for (const auto& e : history(id)) {
    fired += e["type"] == "workflow.timer_fired";
    // Each entry's `at` is when it happened; a timer's own time is `fireAt`.
    ASSERT_TRUE(e["at"].is_number()) << e.dump();
    if (e["type"] == "workflow.timer_set") {
      EXPECT_EQ(e["fireAt"], due) << e.dump();
    }
    if (e["type"] == "workflow.timer_fired") {
      EXPECT_GE(e["at"].get<std::int64_t>(), due) << e.dump();
    }
  }
  EXPECT_EQ(fired, 1);
}

}  // namespace

namespace {

// 200 runs with retries and timers, each SIGKILL of the server at a random point, restarts, and
// every run still ends exactly once with the outputs an uninterrupted server gives.
TEST_F(Workflows, TwoHundredRunsSurviveSigkillsAtRandomPointsExactlyOnce) {
  json wf{{"id", "crashy"}, {"version", 1}, {"inputs", {{"n", "number"}}}, {"variables", {{"acc", 0}}},
          {"nodes", {{{"id", "square"}, {"type", "transform"}, {"config", {{"expression", "n * n"}}}},
                     {{"id", "keep"}, {"type", "set_variable"}, {"config", {{"name", "acc"}}}, {"inputs", {{"value", "square.out"}}}},
                     {{"id", "pause"}, {"type", "delay"}, {"config", {{"ms", 200}}}, {"inputs", {{"in", "keep.out"}}}},
                     {{"id", "flaky"}, {"type", "http_request"}, {"config", {{"url", "http://127.0.0.1:9/"}}}, {"on_error", "continue"},
                      {"retry", {{"max_attempts", 3}, {"initial_backoff_ms", 40}, {"jitter", 0.5}}}, {"inputs", {{"body", "pause.out"}}}},
                     {{"id", "even"}, {"type", "condition"}, {"config", {{"expression", "n % 2 == 0"}}}, {"inputs", {{"value", "flaky.out"}}}},
                     {{"id", "label"}, {"type", "template"}, {"config", {{"text", "even ${acc}"}}}, {"inputs", {{"go", "even.true"}}}}}},
          {"outputs", {{"acc", "${acc}"}, {"label", "label.out"}}}};
  constexpr int kRuns = 200;
  auto start_all = [&](std::map<int, std::string>& ids) {
    for (int i = 0; i < kRuns; ++i) {
      if (ids.count(i)) continue;
      auto r = call("POST", "/workflows/crashy/runs", {{"inputs", {{"n", i}}}, {"idempotencyKey", "k" + std::to_string(i)}});
      if (r.status == 201 || r.status == 200) ids[i] = json::parse(r.body)["runId"].get<std::string>();
    }
  };
  auto outputs = [&](const std::map<int, std::string>& ids) {
    std::map<int, json> out;
    EXPECT_TRUE(t::wait_until([&] {
      for (const auto& [i, id] : ids) {
        if (out.count(i)) continue;
        auto r = call("GET", "/runs/" + id);
        if (r.status != 200) return false;
        auto d = json::parse(r.body);
        if (d.value("status", "") == "completed" || d.value("status", "") == "failed") out[i] = d;
      }
      return out.size() == ids.size();
    }, 120s)) << out.size() << " of " << ids.size() << " ended";
    return out;
  };

  // The reference: an uninterrupted server. (Tenants whose concurrentRuns admits all 200 at once.)
  dev_ = tenant_key("reference", "developer", "enterprise");
  expect(call("POST", "/workflows", wf), 201);
  std::map<int, std::string> ref_ids;
  start_all(ref_ids);
  ASSERT_EQ(ref_ids.size(), static_cast<std::size_t>(kRuns));
  auto reference = outputs(ref_ids);

  // The same runs in another tenant, with the server SIGKILLed at random points meanwhile.
  dev_ = tenant_key("initech", "developer", "enterprise");
  expect(call("POST", "/workflows", wf), 201);
  std::mt19937 rng(42);
  std::map<int, std::string> ids;
  for (int kill = 0; kill < 4; ++kill) {
    start_all(ids);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 400));
    srv_->proc().signal(SIGKILL);
    srv_->proc().wait();
    start();
  }
  start_all(ids);
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kRuns));
  auto got = outputs(ids);
  for (int i = 0; i < kRuns; ++i) {
    ASSERT_EQ(got[i]["status"], "completed") << got[i].dump(2);
    EXPECT_EQ(got[i]["outputs"], reference[i]["outputs"]) << i;
    EXPECT_EQ(got[i]["nodes"]["flaky"]["attempts"], 3) << i;
    // Exactly once: one start, one end, each timer fired once, each node completed once.
    std::map<std::string, int> seen;
    std::map<std::string, int> completed;
    std::set<std::string> event_ids;
    const auto events = history(ids[i]);
    for (const auto& e : events) event_ids.insert(e.value("eventId", ""));
    EXPECT_EQ(event_ids.size(), events.size()) << i << ": every event of the run has an id of its own";
    for (const auto& e : events) {
      seen[e["type"].get<std::string>()]++;
      if (e["type"] == "workflow.node_completed") completed[e["node"].get<std::string>()]++;
    }
    EXPECT_EQ(seen["workflow.run_started"], 1) << i;
    EXPECT_EQ(seen["workflow.run_completed"], 1) << i;
    EXPECT_EQ(seen["workflow.timer_fired"], seen["workflow.timer_set"]) << i;
    EXPECT_EQ(seen["workflow.timer_set"], 3) << i;  // the delay and two retry backoffs
    for (const auto& [node, n] : completed) EXPECT_EQ(n, 1) << i << " " << node;
  }
}

}  // namespace

namespace {

TEST_F(Workflows, EveryShippedTemplateInstantiatesAndRuns) {
  auto list = expect(call("GET", "/workflows/templates"), 200)["templates"];
  ASSERT_GE(list.size(), 10u);
  std::set<std::string> categories;
  for (const auto& t : list) {
    ASSERT_TRUE(t["shipped"].get<bool>());
    categories.insert(t["category"].get<std::string>());
    const auto name = t["template"].get<std::string>();
    auto pre = expect(call("POST", "/workflows/templates/" + name + "/preview", {{"params", json::object()}}), 200, name);
    EXPECT_TRUE(pre["valid"].get<bool>()) << name << " " << pre.dump();
    auto made = expect(call("POST", "/workflows/templates/" + name + "/instantiate", {{"params", {{"id", "t-" + name}}}}), 201, name);
    EXPECT_EQ(made["template"], name);
    const auto id = run("t-" + name, {{"inputs", t["example_inputs"]}});
    // A run that waits for an approval gets one.
    auto d = until(id, [&](const json& doc) {
      for (const auto& [node, n] : doc["nodes"].items())
        if (n.is_object() && n.value("status", "") == "waiting" && n.contains("wait") && n["wait"].is_object() && n["wait"].value("kind", "") == "approval")
          call("POST", "/runs/" + id + "/approve", {{"node", node}, {"comment", "ok"}}, admin_);
      const auto s = doc.value("status", "");
      return s == "completed" || s == "failed" || s == "cancelled";
    });
    EXPECT_EQ(d["status"], "completed") << name << " " << d.dump(2);
    EXPECT_FALSE(d["outputs"].empty()) << name;
  }
  EXPECT_GE(categories.size(), 6u);
  // Parameters are checked by name and type; nothing is stored.
  auto bad = expect(call("POST", "/workflows/templates/order-handling/preview", {{"params", {{"approval_over", "lots"}}}}), 400);
  EXPECT_EQ(bad["error"]["field"], "params.approval_over");
  bad = expect(call("POST", "/workflows/templates/order-handling/instantiate", {{"params", {{"colour", 1}}}}), 400);
  EXPECT_EQ(bad["error"]["field"], "params.colour");
  expect(call("POST", "/workflows/templates/absent/preview", json::object()), 404);
  // A parameter changes the definition: a lower approval limit makes the example order wait.
  auto low = expect(call("POST", "/workflows/templates/order-handling/preview", {{"params", {{"approval_over", 10}}}}), 200);
  EXPECT_NE(low["definition"].dump().find("input.value > 10"), std::string::npos) << low.dump();
  // A tenant's own template, versioned like definitions.
  const std::string own = R"(template: greet
version: 1
category: custom
params: {who: {type: string}}
definition:
  id: "greet-{{who}}"
  version: 1
  nodes: [{id: say, type: template, config: {text: "hello {{who}}"}}]
  outputs: {text: say.out}
)";
  expect(call_text("POST", "/workflows/templates", own, "application/yaml"), 201);
  expect(call_text("POST", "/workflows/templates", own, "application/yaml"), 409);
  EXPECT_EQ(expect(call("POST", "/workflows/templates/greet/instantiate", json::object()), 400)["error"]["field"], "params.who");
  expect(call("POST", "/workflows/templates/greet/instantiate", {{"params", {{"who", "ada"}}}}), 201);
  auto g = ended(run("greet-ada", {{"inputs", json::object()}}));
  EXPECT_EQ(g["outputs"]["text"], "hello ada");
  // Another tenant does not see it.
  auto theirs = expect(call("GET", "/workflows/templates", nullptr, tenant_key("globex", "developer")), 200)["templates"];
  for (const auto& t : theirs) EXPECT_NE(t["template"], "greet");
}

}  // namespace

namespace {

TEST_F(Workflows, TheCommandLineAppliesRunsExportsAndSchedules) {
  const auto server = "http://127.0.0.1:" + std::to_string(srv_->port());
  const std::vector<std::string> env{"NF_API_KEY=" + dev_, "NF_STATE_DIR=" + (dir_.path() / "state").string()};
  const auto file = (dir_.path() / "orders.yaml").string();
  std::ofstream(file) << kOrders;
  auto nf = [&](std::vector<std::string> args) {
    args.insert(args.begin(), t::nexus_forge_binary());
    args.push_back("--server");
    args.push_back(server);
    return t::run(args, env);
  };
  auto v = nf({"workflow", "validate", file});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find("valid (5 nodes)"), std::string::npos) << v.out;
  const auto bad = (dir_.path() / "bad.json").string();
  std::ofstream(bad) << R"({"id": "bad", "version": 1, "nodes": [{"id": "a", "type": "teleport"}]})";
  auto vb = nf({"workflow", "validate", bad});
  EXPECT_EQ(vb.exit_code, 1);
  EXPECT_NE(vb.out.find("node 'a': type: unknown node type 'teleport'"), std::string::npos) << vb.out;
  auto a = nf({"workflow", "apply", file});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_NE(a.out.find("defined orders version 1"), std::string::npos) << a.out;
  auto r = nf({"workflow", "run", "orders", "--input", "qty=10", "--input", "price=12.5", "--input", "customer=ada", "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("completed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ada pays 125 (gold)"), std::string::npos) << r.out;
  auto j = nf({"workflow", "run", "orders", "--input", "qty=1", "--input", "price=1", "--input", "customer=bob", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto run_id = json::parse(j.out)["runId"].get<std::string>();
  ended(run_id);
  auto h = nf({"workflow", "history", run_id, "--json"});
  ASSERT_EQ(h.exit_code, 0) << h.err;
  EXPECT_EQ(json::parse(h.out)["events"].back()["type"], "workflow.run_completed");
  auto ex = nf({"workflow", "export", "orders", "--format", "yaml"});
  ASSERT_EQ(ex.exit_code, 0) << ex.err;
  EXPECT_NE(ex.out.find("\"id\": \"orders\""), std::string::npos) << ex.out;
  auto s = nf({"workflow", "schedule", "orders", "--cron", "0 9 * * mon", "--input", "qty=1", "--input", "price=1", "--input", "customer=c", "--json"});
  ASSERT_EQ(s.exit_code, 0) << s.err << s.out;
  EXPECT_EQ(json::parse(s.out)["next"].size(), 5u);
  auto sbad = nf({"workflow", "schedule", "orders", "--cron", "0 25 * * *"});
  EXPECT_EQ(sbad.exit_code, 1);
  EXPECT_NE(sbad.err.find("hour"), std::string::npos) << sbad.err;
  auto tp = nf({"workflow", "templates"});
  ASSERT_EQ(tp.exit_code, 0) << tp.err;
  EXPECT_NE(tp.out.find("order-handling v1"), std::string::npos) << tp.out;
  auto rs = nf({"workflow", "reset", run_id, "--node", "note"});
  ASSERT_EQ(rs.exit_code, 0) << rs.err;
  EXPECT_NE(rs.out.find("outputs reused"), std::string::npos) << rs.out;
  auto help = nf({"workflow", "run", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--idempotency-key"), std::string::npos);
}

}  // namespace

namespace {

// A UI follows runs live: GET /subscribe?topics=workflow.runs carries every step of the caller's
// runs, and only the caller's tenant's.
TEST_F(Workflows, ASubscriptionToWorkflowRunsStreamsEveryStepOfTheTenantsRuns) {
  expect(call_text("POST", "/workflows", kOrders, "application/yaml"), 201);
  const auto id = run("orders", {{"inputs", {{"qty", 10}, {"price", 12.5}, {"customer", "ada"}}}});
  ASSERT_EQ(ended(id)["status"], "completed");
  const auto steps = history(id).size();
  t::sse_stream mine("127.0.0.1", srv_->port(), "/subscribe?topics=workflow.runs&from=earliest", "", t::key_headers(dev_));
  ASSERT_EQ(mine.status(), 200);
  std::vector<std::string> types;
  std::set<std::string> tenants;
  while (auto e = mine.next(1500ms)) {
    if (e->data.empty()) continue;
    const auto j = json::parse(e->data);
    tenants.insert(j.value("tenantId", "?"));
    if (j.value("key", "") == id) types.push_back(j.value("type", ""));
  }
  EXPECT_EQ(tenants, (std::set<std::string>{"acme"}));
  ASSERT_EQ(types.size(), steps);
  EXPECT_EQ(types.front(), "workflow.run_started");
  EXPECT_EQ(types.back(), "workflow.run_completed");
  // Another tenant's stream has none of them.
  t::sse_stream theirs("127.0.0.1", srv_->port(), "/subscribe?topics=workflow.runs&from=earliest", "", t::key_headers(tenant_key("globex", "viewer")));
  ASSERT_EQ(theirs.status(), 200);
  while (auto e = theirs.next(1500ms)) {
    if (!e->data.empty()) {
      EXPECT_NE(json::parse(e->data).value("tenantId", ""), "acme") << e->data;
    }
  }
}

}  // namespace
