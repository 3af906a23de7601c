// The engine's decisions, pure: runs of generated workflows (branches, joins, variables, delays,
// retries, handlers, approvals) decided with an injected time, and the property that folding a
// run's recorded events from nothing gives exactly the document the engine decided from.
#include <random>

#include <gtest/gtest.h>

#include "actors/workflows/engine.h"
#include "actors/workflows/events.h"
#include "core/event/codec.h"
#include "projections/workflows/workflows.h"
#include "workflows.pb.h"

namespace nf::workflows {
namespace {

using json = nlohmann::json;

class recorder final : public effects {
 public:
  result<json> emit_event(const json&, const std::string& node, const json&) override { return json{{"node", node}}; }
  result<void> start_wait(const json&, const std::string&, int, const json&) override { return ok(); }
  void notify_parent(const json&) override {}
};

// A run driven by hand: every event is built as the actor builds it, folded, and kept.
struct driven {
  std::shared_ptr<const definition> def;
  json doc;
  std::vector<events::Envelope> log;
  recorder fx;
  std::int64_t now = 1'700'000'000'000;

  explicit driven(const json& definition_doc, const json& inputs = json::object()) {
    static const bool registered = [] {
      register_events(event::type_registry::global());
      return true;
    }();
    (void)registered;
    auto c = compile(definition_doc, {});
    EXPECT_TRUE(c.def) << (c.problems.empty() ? "" : to_string(c.problems[0]));
    def = c.def;
    events::RunStart s;
    s.set_run_id("0190a0b0-0000-7000-8000-0000000000aa");
    s.set_workflow_id(def->id);
    s.set_version(def->version);
    s.set_inputs_json(inputs.dump());
    s.set_variables_json(def->variables.dump());
    EXPECT_TRUE(emit(kRunStarted, s));
  }
  int crash_after = -1;  // >= 0: the emit after that many more fails, as a crash would stop it
  result<void> emit(const char* type, const google::protobuf::Message& m) {
    if (crash_after == 0) return error{errc::io_error, "crashed"};
    if (crash_after > 0) --crash_after;
    event::new_event ev;
    ev.type = type;
    ev.key = "0190a0b0-0000-7000-8000-0000000000aa";
    ev.tenant = "acme";
    ev.occurred_at = now;
    NF_TRY_ASSIGN(auto env, event::build(ev, m));
    std::string why;
    NF_TRY_ASSIGN(bool took, fold_run(doc, env, 0, &why));
    if (!took) return error{errc::internal, "refused: " + why};
    log.push_back(std::move(env));
    return ok();
  }
  run_decider decider() {
    return run_decider(*def, doc, now, [this](const char* t, const google::protobuf::Message& m) { return emit(t, m); }, fx);
  }
  // Fires every due timer, in due order, moving time to it.
  void fire_timers() {
    for (int guard = 0; guard < 1000; ++guard) {
      std::string node, timer;
      int attempt = 0;
      std::int64_t at = INT64_MAX;
      for (auto& [id, n] : doc["nodes"].items())
        if (n.contains("timers"))
          for (auto& [k, t] : n["timers"].items())
            if (t["at"].get<std::int64_t>() < at) {
              at = t["at"].get<std::int64_t>();
              node = id;
              timer = k;
              attempt = t["attempt"].get<int>();
            }
      if (node.empty()) return;
      now = std::max(now, at);
      ASSERT_TRUE(decider().timer_due(node, attempt, timer));
    }
  }
  json replayed() const {
    json d;
    for (const auto& e : log) {
      auto r = fold_run(d, e, 0, nullptr);
      EXPECT_TRUE(r && *r);
    }
    return d;
  }
};

TEST(WorkflowEngine, RetriesThenAHandlerThenCompletion) {
  driven r(json::parse(R"({"id": "h", "version": 1, "nodes": [
      {"id": "call", "type": "validate_json", "config": {"schema": {"type": "string"}}, "inputs": {"value": 5}, "on_error": "rescue"},
      {"id": "rescue", "type": "transform", "config": {"expression": "'handled: ' + nodes.call.error.code"}},
      {"id": "after", "type": "noop", "inputs": {"in": "call.out"}}],
      "outputs": {"msg": "rescue.out"}})"));
  ASSERT_TRUE(r.decider().advance());
  EXPECT_EQ(r.doc["status"], "completed") << r.doc.dump(2);
  EXPECT_EQ(r.doc["outputs"]["msg"], "handled: schema_violation");
  EXPECT_EQ(r.doc["nodes"]["call"]["status"], "failed");
  EXPECT_EQ(r.doc["nodes"]["after"]["status"], "skipped");
  EXPECT_EQ(r.replayed(), r.doc);
}

TEST(WorkflowEngine, DelaysWaitForTheirTimeAndApprovalsForTheirCommand) {
  driven r(json::parse(R"({"id": "d", "version": 1, "nodes": [
      {"id": "wait", "type": "delay", "config": {"ms": 5000}, "inputs": {"in": 1}},
      {"id": "ok", "type": "approval", "inputs": {"value": "wait.out"}},
      {"id": "end", "type": "noop", "inputs": {"in": "ok.approved"}}]})"));
  ASSERT_TRUE(r.decider().advance());
  EXPECT_EQ(r.doc["status"], "running");
  EXPECT_EQ(r.doc["nodes"]["wait"]["timers"]["delay"]["at"], r.now + 5000);
  // A stale timer (another attempt) changes nothing.
  const auto before = r.log.size();
  ASSERT_TRUE(r.decider().timer_due("wait", 7, "delay"));
  EXPECT_EQ(r.log.size(), before);
  r.fire_timers();
  EXPECT_EQ(r.doc["nodes"]["ok"]["status"], "waiting");
  // The same timer again: once only.
  ASSERT_TRUE(r.decider().timer_due("wait", 1, "delay"));
  EXPECT_EQ(r.doc["nodes"]["wait"]["status"], "completed");
  auto wrong = r.decider().approve("end", true, "u", "");
  EXPECT_FALSE(wrong);
  ASSERT_TRUE(r.decider().approve("", true, "key:1", "fine"));
  EXPECT_EQ(r.doc["status"], "completed");
  EXPECT_EQ(r.doc["nodes"]["ok"]["output"]["approved"]["value"], 1);
  EXPECT_EQ(r.replayed(), r.doc);
}

TEST(WorkflowEngine, RetryBackoffsFollowThePolicyAndReplayTheSame) {
  const auto doc = json::parse(R"({"id": "r", "version": 1, "nodes": [
      {"id": "h", "type": "http_request", "config": {"url": "http://127.0.0.1:9/"},
       "retry": {"max_attempts": 4, "initial_backoff_ms": 100, "multiplier": 3, "max_backoff_ms": 500, "jitter": 0.5}}]})");
  std::vector<std::int64_t> delays;
  for (int round = 0; round < 2; ++round) {
    driven r(doc);
    ASSERT_TRUE(r.decider().advance());
    std::vector<std::int64_t> seen;
    for (int attempt = 1; attempt <= 4; ++attempt) {
      ASSERT_EQ(r.doc["nodes"]["h"]["status"], "waiting");
      ASSERT_TRUE(r.decider().node_result("h", attempt, nullptr, "http", "connection refused"));
      if (attempt < 4) {
        const auto at = r.doc["nodes"]["h"]["retryAt"].get<std::int64_t>();
        seen.push_back(at - r.now);
        r.fire_timers();
      }
    }
    EXPECT_EQ(r.doc["status"], "failed");
    EXPECT_EQ(r.doc["nodes"]["h"]["attempts"], 4);
    EXPECT_EQ(r.replayed(), r.doc);
    if (round == 0) delays = seen;
    else EXPECT_EQ(seen, delays);  // the same run id: the same jittered delays
  }
  ASSERT_EQ(delays.size(), 3u);
  EXPECT_GE(delays[0], 50);
  EXPECT_LE(delays[0], 100);
  EXPECT_GE(delays[1], 150);
  EXPECT_LE(delays[1], 300);
  EXPECT_LE(delays[2], 500);
}

TEST(WorkflowEngine, ACommandHandledAgainAfterACrashFinishesWhatTheFirstHandlingStarted) {
  // Found by the cluster test: the first handling of a timer_due wrote timer_fired and the node's
  // completion, then the instance died; handled again, the timer no longer counts, and the run
  // must still go on instead of stopping there.
  driven r(json::parse(R"({"id": "c", "version": 1, "nodes": [
      {"id": "wait", "type": "delay", "config": {"ms": 100}, "inputs": {"in": 1}},
      {"id": "next", "type": "noop", "inputs": {"in": "wait.out"}},
      {"id": "last", "type": "noop", "inputs": {"in": "next.out"}}]})"));
  ASSERT_TRUE(r.decider().advance());
  r.now += 100;
  r.crash_after = 2;  // timer_fired and node_completed get written, nothing after
  EXPECT_FALSE(r.decider().timer_due("wait", 1, "delay"));
  EXPECT_EQ(r.doc["nodes"]["wait"]["status"], "completed");
  EXPECT_FALSE(r.doc["nodes"].contains("next"));
  r.crash_after = -1;
  ASSERT_TRUE(r.decider().timer_due("wait", 1, "delay"));  // the same command again
  EXPECT_EQ(r.doc["status"], "completed") << r.doc.dump(2);
  EXPECT_EQ(r.replayed(), r.doc);
  // The same for a result that arrives twice and an approval given twice.
  driven a(json::parse(R"({"id": "a", "version": 1, "nodes": [
      {"id": "ok", "type": "approval"}, {"id": "after", "type": "noop", "inputs": {"in": "ok.approved"}}]})"));
  ASSERT_TRUE(a.decider().advance());
  a.crash_after = 1;
  EXPECT_FALSE(a.decider().approve("", true, "u", ""));
  a.crash_after = -1;
  EXPECT_FALSE(a.decider().approve("", true, "u", ""));  // nothing waits any more: refused...
  EXPECT_EQ(a.doc["status"], "completed");               // ...but the run went on
}

// Generated workflows: a random DAG over transforms, conditions, joins, variables, delays and
// failing nodes with retries or handlers.
json generate(std::mt19937& rng) {
  const int n = 3 + static_cast<int>(rng() % 12);
  json nodes = json::array();
  auto pick = [&](int below) { return static_cast<int>(rng() % static_cast<unsigned>(below)); };
  std::vector<std::string> branchy;  // outputs that may not be produced
  for (int i = 0; i < n; ++i) {
    const std::string id = "n" + std::to_string(i);
    const std::string prev = i ? "n" + std::to_string(pick(i)) : "";
    json node{{"id", id}};
    switch (pick(i ? 7 : 2)) {
      case 0:
        node["type"] = "transform";
        node["config"] = {{"expression", "x + " + std::to_string(i)}};
        break;
      case 1:
        node["type"] = "set_variable";
        node["config"] = {{"name", "v"}};
        node["inputs"] = {{"value", "${x * 2}"}};
        break;
      case 2:
        node["type"] = "condition";
        node["config"] = {{"expression", "x % 2 == " + std::to_string(pick(2))}};
        node["inputs"] = {{"value", prev + ".out"}};
        if (nodes[std::stoi(prev.substr(1))]["type"] != "transform") node["inputs"] = {{"value", i}};
        break;
      case 3:
        node["type"] = "join";
        node["inputs"] = {{"a", prev + ".out"}, {"b", "n0.out"}};
        break;
      case 4:
        node["type"] = "delay";
        node["config"] = {{"ms", 100 * (1 + pick(20))}};
        node["inputs"] = {{"in", prev + ".out"}};
        break;
      case 5:
        node["type"] = "fail";
        node["config"] = {{"code", "boom"}};
        node["on_error"] = pick(2) ? "continue" : "fail";
        break;
      default:
        node["type"] = "noop";
        node["inputs"] = {{"in", prev + ".out"}};
        break;
    }
    // Connections to outputs a node has: conditions have true/false, others out.
    if (node.contains("inputs"))
      for (auto& [port, b] : node["inputs"].items())
        if (b.is_string() && b.get<std::string>().find('.') != std::string::npos && b.get<std::string>().rfind("${", 0) != 0) {
          const auto from = std::stoi(b.get<std::string>().substr(1, b.get<std::string>().find('.') - 1));
          const auto& ft = nodes[static_cast<std::size_t>(from)]["type"];
          if (ft == "condition") b = "n" + std::to_string(from) + (pick(2) ? ".true" : ".false");
          else if (ft == "fail") b = 0;
        }
    nodes.push_back(node);
  }
  return json{{"id", "gen"}, {"version", 1}, {"inputs", {{"x", "number"}}}, {"variables", {{"v", 0}}}, {"nodes", nodes}};
}

TEST(WorkflowEngine, ReplayingARunsHistoryReproducesItsStateForGeneratedWorkflows) {
  std::mt19937 rng(20261203);
  int completed = 0, failed = 0;
  for (int i = 0; i < 300; ++i) {
    const auto doc = generate(rng);
    auto c = compile(doc, {});
    ASSERT_TRUE(c.def) << doc.dump() << "\n" << (c.problems.empty() ? "" : to_string(c.problems[0]));
    driven r(doc, {{"x", static_cast<int>(rng() % 100)}});
    ASSERT_TRUE(r.decider().advance());
    r.fire_timers();
    const auto st = r.doc.value("status", "");
    ASSERT_TRUE(st == "completed" || st == "failed") << r.doc.dump(2) << "\n" << doc.dump(2);
    completed += st == "completed";
    failed += st == "failed";
    EXPECT_EQ(r.replayed(), r.doc) << doc.dump();
    // Deciding again on the finished document adds nothing.
    const auto n = r.log.size();
    ASSERT_TRUE(r.decider().advance());
    EXPECT_EQ(r.log.size(), n);
  }
  EXPECT_GT(completed, 50);
  EXPECT_GT(failed, 10);
}

}  // namespace
}  // namespace nf::workflows
