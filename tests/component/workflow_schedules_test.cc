// Schedules, triggers and event waits on an in-process node whose clock the test steps by hand:
// each due time fires once, the next five fire times are shown, catch-up after downtime follows
// its policy, overlapping runs follow theirs; a trigger starts one run per matching event even
// when the event is read twice; a wait_for_event node ends with the event it waited for.
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/workflows/feature.h"
#include "core/base/clock.h"
#include "core/base/rfc3339.h"
#include "core/event/codec.h"
#include "marketplace.pb.h"
#include "missions.pb.h"
#include "tests/support/node.h"
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

// Monday 2026-01-05 00:00:30 UTC.
constexpr std::int64_t kStart = 1767571230000;
constexpr std::int64_t kMinute = 60'000;

class WorkflowSchedules : public ::testing::Test {
 protected:
  WorkflowSchedules() : clock_(kStart), node_("wfsched", setup()) {
    auto tenant = t::ask(node_, "POST", "/tenants", json{{"id", "acme"}, {"name", "acme"}, {"plan", "enterprise"}}.dump());
    EXPECT_EQ(tenant.status, 201) << tenant.raw;
    key_ = t::ask(node_, "POST", "/tenants/acme/keys", json{{"role", "admin"}}.dump()).body["key"].get<std::string>();
  }
  t::node_setup setup() {
    t::node_setup s;
    s.clock = &clock_;
    s.extra.push_back([] { return nf::workflows::make_feature(); });
    return s;
  }
  t::answer ask(const std::string& method, const std::string& target, const json& body = nullptr) {
    return t::ask(node_, method, target, body.is_null() ? "" : body.dump(), key_);
  }
  void define(const json& wf) {
    auto r = ask("POST", "/workflows", wf);
    ASSERT_EQ(r.status, 201) << r.raw;
  }
  json schedule(const std::string& wf, const json& body) {
    auto r = ask("POST", "/workflows/" + wf + "/schedules", body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body;
  }
  json get_schedule(const std::string& wf, const std::string& sid) {
    auto r = ask("GET", "/workflows/" + wf + "/schedules/" + sid);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body;
  }
  json wait_schedule(const std::string& wf, const std::string& sid, const std::function<bool(const json&)>& ok) {
    json d;
    EXPECT_TRUE(t::wait_until([&] {
      d = get_schedule(wf, sid);
      return ok(d);
    }, 10s)) << d.dump(2);
    return d;
  }
  json runs(const std::string& wf) { return ask("GET", "/runs?workflow=" + wf).body["runs"]; }

  nf::manual_clock clock_;
  t::in_process_node node_;
  std::string key_;
};

const json kQuick = json::parse(R"({"id": "quick", "version": 1, "nodes": [{"id": "a", "type": "noop"}]})");
const json kWaits = json::parse(R"({"id": "waits", "version": 1, "nodes": [{"id": "ask", "type": "approval"}]})");

TEST_F(WorkflowSchedules, EachDueTimeFiresOnceAndTheNextFiveAreShown) {
  define(kQuick);
  auto s = schedule("quick", {{"cron", "*/5 * * * *"}, {"inputs", json::object()}, {"overlap", "allow_all"}});
  const auto sid = s["scheduleId"].get<std::string>();
  ASSERT_EQ(s["next"].size(), 5u) << s.dump();
  EXPECT_EQ(s["next"][0], kStart - 30'000 + 5 * kMinute);
  EXPECT_EQ(s["next"][4], kStart - 30'000 + 25 * kMinute);
  clock_.advance(5min);
  auto d = wait_schedule("quick", sid, [](const json& x) { return x.value("fired", 0) == 1; });
  EXPECT_EQ(d["lastFire"]["due"], kStart - 30'000 + 5 * kMinute);
  EXPECT_EQ(d["next"][0], kStart - 30'000 + 10 * kMinute);
  // More ticks at the same time fire nothing more.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(get_schedule("quick", sid)["fired"], 1);
  ASSERT_TRUE(t::wait_until([&] { return runs("quick").size() == 1 && runs("quick")[0]["status"] == "completed"; }, 10s)) << runs("quick").dump();
  EXPECT_EQ(runs("quick")[0]["searchAttributes"]["schedule"], sid);
  clock_.advance(5min);
  wait_schedule("quick", sid, [](const json& x) { return x.value("fired", 0) == 2; });
  EXPECT_TRUE(t::wait_until([&] { return runs("quick").size() == 2; }, 10s));
  // Deleted: nothing fires any more.
  EXPECT_EQ(ask("DELETE", "/workflows/quick/schedules/" + sid).status, 200);
  clock_.advance(10min);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(runs("quick").size(), 2u);
  EXPECT_EQ(ask("GET", "/workflows/quick/schedules/" + sid).status, 404);
}

TEST_F(WorkflowSchedules, CatchUpAfterDowntimeFollowsItsPolicy) {
  define(kQuick);
  const auto latest = schedule("quick", {{"cron", "* * * * *"}, {"catchup", "latest"}, {"overlap", "allow_all"}})["scheduleId"].get<std::string>();
  const auto none = schedule("quick", {{"cron", "* * * * *"}, {"catchup", "none"}, {"overlap", "allow_all"}})["scheduleId"].get<std::string>();
  const auto all = schedule("quick", {{"cron", "* * * * *"}, {"catchup", "all"}, {"catchupWindowMs", 5 * kMinute}, {"overlap", "allow_all"}})["scheduleId"].get<std::string>();
  // Thirty minutes pass at once: fire times 00:01 .. 00:30 are all due.
  clock_.advance(30min);
  auto l = wait_schedule("quick", latest, [](const json& x) { return x.value("fired", 0) == 1; });
  EXPECT_EQ(l["missed"], 29);
  EXPECT_EQ(l["lastFire"]["due"], kStart - 30'000 + 30 * kMinute);
  auto n = wait_schedule("quick", none, [](const json& x) { return x.value("missed", 0) == 30; });
  EXPECT_EQ(n["fired"], 0);
  auto a = wait_schedule("quick", all, [](const json& x) { return x.value("fired", 0) == 5; });
  EXPECT_EQ(a["missed"], 25);
  for (const auto& d : {l, n, a}) EXPECT_EQ(d["next"][0], kStart - 30'000 + 31 * kMinute) << d.dump();
  EXPECT_TRUE(t::wait_until([&] { return runs("quick").size() == 6; }, 10s)) << runs("quick").dump();
}

TEST_F(WorkflowSchedules, OverlappingRunsAreSkippedBufferedOrCancelled) {
  define(kWaits);
  const auto skip = schedule("waits", {{"cron", "* * * * *"}, {"overlap", "skip"}})["scheduleId"].get<std::string>();
  const auto buffer = schedule("waits", {{"cron", "* * * * *"}, {"overlap", "buffer_one"}})["scheduleId"].get<std::string>();
  const auto cancel = schedule("waits", {{"cron", "* * * * *"}, {"overlap", "cancel_other"}})["scheduleId"].get<std::string>();
  clock_.advance(1min);
  for (const auto& sid : {skip, buffer, cancel}) wait_schedule("waits", sid, [](const json& x) { return x.value("fired", 0) == 1; });
  clock_.advance(1min);
  auto s = wait_schedule("waits", skip, [](const json& x) { return x.value("skipped", 0) == 1; });
  EXPECT_EQ(s["fired"], 1);
  auto b = wait_schedule("waits", buffer, [](const json& x) { return x.contains("buffered"); });
  EXPECT_EQ(b["fired"], 1);
  auto c = wait_schedule("waits", cancel, [](const json& x) { return x.value("fired", 0) == 2; });
  // The cancelled run ends and leaves the schedule's active runs.
  wait_schedule("waits", cancel, [](const json& x) { return x["active"].size() == 1; });
  // Approving the buffered schedule's run lets the buffered fire start.
  const auto first = b["active"][0].get<std::string>();
  ASSERT_TRUE(t::wait_until([&] { return node_status(ask("GET", "/runs/" + first).body, "ask") == "waiting"; }, 10s));
  EXPECT_EQ(ask("POST", "/runs/" + first + "/approve", json::object()).status, 200);
  auto b2 = wait_schedule("waits", buffer, [](const json& x) { return x.value("fired", 0) == 2; });
  EXPECT_FALSE(b2.contains("buffered"));
}

TEST_F(WorkflowSchedules, BadSchedulesAreRefusedNamingTheField) {
  define(kQuick);
  auto r = ask("POST", "/workflows/quick/schedules", json{{"cron", "61 * * * *"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error"]["field"], "cron");
  EXPECT_NE(r.body["error"]["message"].get<std::string>().find("minute"), std::string::npos) << r.raw;
  r = ask("POST", "/workflows/quick/schedules", json{{"cron", "* * * * *"}, {"overlap", "sometimes"}});
  EXPECT_EQ(r.body["error"]["field"], "overlap");
  r = ask("POST", "/workflows/quick/schedules", json{{"cron", "* * * * *"}, {"catchup", "most"}});
  EXPECT_EQ(r.body["error"]["field"], "catchup");
  EXPECT_EQ(ask("POST", "/workflows/absent/schedules", json{{"cron", "* * * * *"}}).status, 404);
  EXPECT_TRUE(ask("GET", "/workflows/quick/schedules").body["schedules"].empty());
}

// An event of a tenant (acme unless named) on a topic, appended as a producer would.
void produce(t::in_process_node& n, const std::string& topic, const std::string& type, const std::string& key, const json& payload, const std::string& id,
             const std::string& tenant = "acme") {
  (void)n.bus().create_topic(nf::topic_name{topic}, nf::bus::topic_config{});
  nf::event::new_event ev;
  ev.type = type;
  ev.key = key;
  ev.tenant = tenant;
  ev.payload_json = payload.dump();
  ev.id = *nf::event::event_id::parse(id);
  auto env = nf::event::build(ev);
  ASSERT_TRUE(env) << env.error().message;
  const auto rec = nf::event::to_record(*env);
  ASSERT_TRUE(n.bus().append(nf::topic_name{topic}, std::span<const nf::bus::record>(&rec, 1)));
}

TEST_F(WorkflowSchedules, ATriggerStartsOneRunPerMatchingEvent) {
  define(json::parse(R"({"id": "onorder", "version": 1, "inputs": {"total": "number", "order": "string"},
                         "nodes": [{"id": "t", "type": "transform", "config": {"expression": "total * 2"}}], "outputs": {"double": "t.out"}})"));
  auto bad = ask("POST", "/workflows/onorder/triggers", json{{"on_event", {{"topic", "app.orders"}, {"filter", "vars.x > 1"}}}, {"inputs", {{"total", 1}, {"order", "x"}}}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["field"], "on_event.filter");
  auto tr = ask("POST", "/workflows/onorder/triggers",
                json{{"on_event", {{"topic", "app.orders"}, {"type", "order.placed"}, {"filter", "event.payload.total > 100"}}},
                     {"inputs", {{"total", "${event.payload.total}"}, {"order", "${event.key}"}}}});
  ASSERT_EQ(tr.status, 201) << tr.raw;
  produce(node_, "app.orders", "order.placed", "o-1", {{"total", 150}}, "0190a0b0-0000-7000-8000-000000000001");
  produce(node_, "app.orders", "order.placed", "o-2", {{"total", 50}}, "0190a0b0-0000-7000-8000-000000000002");   // filtered out
  produce(node_, "app.orders", "order.shipped", "o-3", {{"total", 500}}, "0190a0b0-0000-7000-8000-000000000003");  // another type
  produce(node_, "app.orders", "order.placed", "o-1", {{"total", 150}}, "0190a0b0-0000-7000-8000-000000000001");  // the same event again
  ASSERT_TRUE(t::wait_until([&] { return runs("onorder").size() == 1 && runs("onorder")[0]["status"] == "completed"; }, 10s)) << runs("onorder").dump();
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(runs("onorder").size(), 1u);
  auto run = ask("GET", "/runs/" + runs("onorder")[0]["runId"].get<std::string>()).body;
  EXPECT_EQ(run["outputs"]["double"], 300);
  EXPECT_EQ(run["inputs"]["order"], "o-1");
  EXPECT_EQ(run["trigger"]["eventId"], "0190a0b0-0000-7000-8000-000000000001");
}

TEST_F(WorkflowSchedules, AWaitForEventNodeEndsWithTheEventItsCorrelationNames) {
  define(json::parse(R"({"id": "paid", "version": 1, "inputs": {"order": "string"},
                         "nodes": [{"id": "w", "type": "wait_for_event", "config": {"topic": "app.payments", "type": "payment.received", "correlation": "order"}, "timeout_ms": 600000}],
                         "outputs": {"amount": "${nodes.w.event.payload.amount}"}})"));
  auto r = ask("POST", "/workflows/paid/runs", json{{"inputs", {{"order", "o-9"}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto id = r.body["runId"].get<std::string>();
  ASSERT_TRUE(t::wait_until([&] { return node_status(ask("GET", "/runs/" + id).body, "w") == "waiting"; }, 10s));
  produce(node_, "app.payments", "payment.received", "o-8", {{"amount", 1}}, "0190a0b0-0000-7000-8000-000000000011");  // another order
  produce(node_, "app.payments", "payment.received", "o-9", {{"amount", 42}}, "0190a0b0-0000-7000-8000-000000000012");
  json d;
  ASSERT_TRUE(t::wait_until([&] {
    d = ask("GET", "/runs/" + id).body;
    return d.value("status", "") == "completed";
  }, 10s)) << d.dump(2);
  EXPECT_EQ(d["outputs"]["amount"], 42);
  // The timeout's timer went with the node.
  EXPECT_FALSE(d["nodes"]["w"].contains("timers"));
}

TEST_F(WorkflowSchedules, AWaitThatOutlivesItsTimeoutFailsWithCodeTimeout) {
  define(json::parse(R"({"id": "late", "version": 1,
                         "nodes": [{"id": "w", "type": "wait_for_event", "config": {"topic": "app.payments"}, "timeout_ms": 1000}]})"));
  auto r = ask("POST", "/workflows/late/runs", json{{"inputs", json::object()}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto id = r.body["runId"].get<std::string>();
  ASSERT_TRUE(t::wait_until([&] { return node_status(ask("GET", "/runs/" + id).body, "w") == "waiting"; }, 10s));
  clock_.advance(2s);
  json d;
  ASSERT_TRUE(t::wait_until([&] {
    d = ask("GET", "/runs/" + id).body;
    return d.value("status", "") == "failed";
  }, 10s)) << d.dump(2);
  EXPECT_EQ(d["error"]["code"], "timeout");
}

TEST_F(WorkflowSchedules, RunsBeyondAConcurrencyLimitWaitQueuedInOrder) {
  define(json::parse(R"({"id": "serial", "version": 1, "inputs": {"customer": "string"},
                         "concurrency": {"key": "${customer}", "limit": 1},
                         "nodes": [{"id": "ask", "type": "approval"}]})"));
  auto start = [&](const std::string& customer) {
    auto r = ask("POST", "/workflows/serial/runs", json{{"inputs", {{"customer", customer}}}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.body["runId"].get<std::string>();
  };
  auto status = [&](const std::string& id) { return ask("GET", "/runs/" + id).body.value("status", ""); };
  auto waiting = [&](const std::string& id) {
    return t::wait_until([&] { return node_status(ask("GET", "/runs/" + id).body, "ask") == "waiting"; }, 10s);
  };
  const auto a1 = start("acme-corp"), a2 = start("acme-corp"), b1 = start("globex");
  ASSERT_TRUE(waiting(a1));
  ASSERT_TRUE(waiting(b1));
  std::this_thread::sleep_for(200ms);
  auto q = ask("GET", "/runs/" + a2).body;
  EXPECT_EQ(q["status"], "queued") << q.dump(2);
  EXPECT_EQ(q["waitingSlots"].size(), 1u);
  EXPECT_TRUE(q["nodes"].empty());
  // The first ends: the queued one runs.
  EXPECT_EQ(ask("POST", "/runs/" + a1 + "/approve", json::object()).status, 200);
  ASSERT_TRUE(waiting(a2));
  EXPECT_EQ(status(a2), "running");
  // A queued run can be cancelled, and leaves the queue.
  const auto a3 = start("acme-corp");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(status(a3), "queued");
  EXPECT_EQ(ask("POST", "/runs/" + a3 + "/cancel", json::object()).status, 200);
  EXPECT_EQ(ask("POST", "/runs/" + a2 + "/approve", json::object()).status, 200);
  EXPECT_TRUE(t::wait_until([&] { return status(a2) == "completed"; }, 10s));
  EXPECT_EQ(status(a3), "cancelled");
  const auto a4 = start("acme-corp");
  EXPECT_TRUE(waiting(a4));
}

TEST_F(WorkflowSchedules, TheTenantsConcurrentRunsQuotaQueuesTheRest) {
  // A tenant of the basic plan: concurrentRuns 2.
  ASSERT_EQ(t::ask(node_, "POST", "/tenants", json{{"id", "tiny"}, {"name", "tiny"}, {"plan", "basic"}}.dump()).status, 201);
  const auto key = t::ask(node_, "POST", "/tenants/tiny/keys", json{{"role", "admin"}}.dump()).body["key"].get<std::string>();
  auto as_tiny = [&](const std::string& method, const std::string& target, const json& body) {
    return t::ask(node_, method, target, body.is_null() ? "" : body.dump(), key);
  };
  ASSERT_EQ(as_tiny("POST", "/workflows", kWaits).status, 201);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(as_tiny("POST", "/workflows/waits/runs", json{{"inputs", json::object()}}).body["runId"].get<std::string>());
  auto status = [&](const std::string& id) { return as_tiny("GET", "/runs/" + id, nullptr).body.value("status", ""); };
  ASSERT_TRUE(t::wait_until([&] { return status(ids[0]) == "running" && status(ids[1]) == "running"; }, 10s));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(status(ids[2]), "queued");
  ASSERT_TRUE(t::wait_until([&] { return node_status(as_tiny("GET", "/runs/" + ids[0], nullptr).body, "ask") == "waiting"; }, 10s));
  EXPECT_EQ(as_tiny("POST", "/runs/" + ids[0] + "/approve", json::object()).status, 200);
  EXPECT_TRUE(t::wait_until([&] { return status(ids[2]) == "running"; }, 10s)) << status(ids[2]);
}

TEST_F(WorkflowSchedules, ScheduledAndTriggeredRunsCountAgainstTheQuotaToo) {
  // concurrentRuns 2: two runs started over the API hold both; a scheduled and a triggered run
  // wait queued until those end, and a child run holds no slot of its own (it runs under its
  // parent's, which would otherwise wait for it forever).
  ASSERT_EQ(t::ask(node_, "POST", "/tenants", json{{"id", "tiny"}, {"name", "tiny"}, {"plan", "basic"}}.dump()).status, 201);
  const auto key = t::ask(node_, "POST", "/tenants/tiny/keys", json{{"role", "admin"}}.dump()).body["key"].get<std::string>();
  auto as_tiny = [&](const std::string& method, const std::string& target, const json& body) {
    return t::ask(node_, method, target, body.is_null() ? "" : body.dump(), key);
  };
  ASSERT_EQ(as_tiny("POST", "/workflows", kWaits).status, 201);
  ASSERT_EQ(as_tiny("POST", "/workflows", json::parse(R"({"id": "parent", "version": 1,
      "nodes": [{"id": "child", "type": "sub_workflow", "config": {"workflow": "waits"}}]})")).status, 201);
  auto status = [&](const std::string& id) { return as_tiny("GET", "/runs/" + id, nullptr).body.value("status", ""); };
  auto runs_of = [&](const std::string& attr) { return as_tiny("GET", "/runs?workflow=waits&" + attr, nullptr).body["runs"]; };
  // A parent whose child waits for approval: two runs, one slot.
  const auto parent = as_tiny("POST", "/workflows/parent/runs", json{{"inputs", json::object()}}).body["runId"].get<std::string>();
  ASSERT_TRUE(t::wait_until([&] { return runs_of("status=running").size() == 1; }, 10s)) << runs_of("").dump();
  const auto child = runs_of("status=running")[0]["runId"].get<std::string>();
  const auto api = as_tiny("POST", "/workflows/waits/runs", json{{"inputs", json::object()}}).body["runId"].get<std::string>();
  ASSERT_TRUE(t::wait_until([&] { return status(api) == "running"; }, 10s)) << status(api);
  EXPECT_EQ(status(parent), "running");

  auto sch = as_tiny("POST", "/workflows/waits/schedules", json{{"cron", "* * * * *"}, {"inputs", json::object()}, {"overlap", "allow_all"}});
  ASSERT_EQ(sch.status, 201) << sch.raw;
  ASSERT_EQ(as_tiny("POST", "/workflows/waits/triggers", json{{"on_event", {{"topic", "app.tiny"}}}, {"inputs", json::object()}}).status, 201);
  clock_.advance(1min);
  produce(node_, "app.tiny", "tiny.thing", "k", {{"x", 1}}, "0190a0b0-0000-7000-8000-0000000000a1", "tiny");
  ASSERT_TRUE(t::wait_until([&] { return runs_of("attr.schedule=" + sch.body["scheduleId"].get<std::string>()).size() == 1 && runs_of("status=queued").size() == 2; }, 10s))
      << runs_of("").dump();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(runs_of("status=queued").size(), 2u) << runs_of("").dump();

  // The API run ends: one of the two queued runs takes its slot; the parent's end frees the other.
  ASSERT_TRUE(t::wait_until([&] { return node_status(as_tiny("GET", "/runs/" + api, nullptr).body, "ask") == "waiting"; }, 10s));
  ASSERT_EQ(as_tiny("POST", "/runs/" + api + "/approve", json::object()).status, 200);
  ASSERT_TRUE(t::wait_until([&] { return runs_of("status=queued").size() == 1; }, 10s)) << runs_of("").dump();
  ASSERT_TRUE(t::wait_until([&] { return node_status(as_tiny("GET", "/runs/" + child, nullptr).body, "ask") == "waiting"; }, 10s));
  ASSERT_EQ(as_tiny("POST", "/runs/" + child + "/approve", json::object()).status, 200);
  ASSERT_TRUE(t::wait_until([&] { return status(parent) == "completed"; }, 10s)) << status(parent);
  EXPECT_TRUE(t::wait_until([&] { return runs_of("status=queued").empty(); }, 10s)) << runs_of("").dump();
}

TEST_F(WorkflowSchedules, AMissionNodeCreatesAMissionAndWaitsForItsEnd) {
  define(json::parse(R"({"id": "research", "version": 1, "inputs": {"goal": "string"},
                         "nodes": [{"id": "m", "type": "mission", "config": {"priority": "high"}, "inputs": {"prompt": "${goal}"}}],
                         "outputs": {"result": "m.out"}})"));
  auto r = ask("POST", "/workflows/research/runs", json{{"inputs", {{"goal", "summarise the quarter"}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto id = r.body["runId"].get<std::string>();
  ASSERT_TRUE(t::wait_until([&] { return node_status(ask("GET", "/runs/" + id).body, "m") == "waiting"; }, 10s));
  const auto mission = ask("GET", "/runs/" + id).body["nodes"]["m"]["wait"]["missionId"].get<std::string>();
  // The mission exists, created through the missions feature's command, with the prompt.
  json m;
  ASSERT_TRUE(t::wait_until([&] {
    auto g = ask("GET", "/missions/" + mission);
    m = g.body;
    return g.status == 200;
  }, 10s)) << m.dump();
  EXPECT_EQ(m["objective"], "summarise the quarter") << m.dump();
  // Mission control reports it validated: the run ends with it.
  nf::events::MissionStatusChanged changed;
  changed.set_mission_id(mission);
  changed.set_status(nf::events::validated);
  changed.set_previous_status(nf::events::in_progress);
  nf::event::new_event ev;
  ev.type = "mission.validated";
  ev.key = mission;
  auto env = nf::event::build(ev, changed);
  ASSERT_TRUE(env) << env.error().message;
  const auto rec = nf::event::to_record(*env);
  ASSERT_TRUE(node_.bus().append(nf::topic_name{"mission.lifecycle"}, std::span<const nf::bus::record>(&rec, 1)));
  json d;
  ASSERT_TRUE(t::wait_until([&] {
    d = ask("GET", "/runs/" + id).body;
    return d.value("status", "") == "completed";
  }, 10s)) << d.dump(2);
  EXPECT_EQ(d["outputs"]["result"]["missionId"], mission);
  EXPECT_EQ(d["outputs"]["result"]["status"], "validated");
}

TEST_F(WorkflowSchedules, AnAgentInvokeNeedsTheAgentInstalledAndWaitsForItsResult) {
  define(json::parse(R"({"id": "delegate", "version": 1, "inputs": {"text": "string"},
                         "nodes": [{"id": "a", "type": "agent_invoke", "config": {"agent": "summarizer"}, "inputs": {"task": "${inputs}"}}],
                         "outputs": {"summary": "${nodes.a.out.summary}"}})"));
  // Not installed: the node fails at once, naming the agent.
  auto r = ask("POST", "/workflows/delegate/runs", json{{"inputs", {{"text", "long text"}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  json d;
  ASSERT_TRUE(t::wait_until([&] {
    d = ask("GET", "/runs/" + r.body["runId"].get<std::string>()).body;
    return d.value("status", "") == "failed";
  }, 10s)) << d.dump(2);
  EXPECT_EQ(d["error"]["code"], "forbidden");
  EXPECT_NE(d["error"]["message"].get<std::string>().find("summarizer"), std::string::npos);
  // The marketplace records the install; the read model folds it.
  nf::events::AgentInstalled in;
  in.set_name("summarizer");
  in.set_version("1.0.0");
  nf::event::new_event ev;
  ev.type = "marketplace.agent_installed";
  ev.key = "summarizer";
  ev.tenant = "acme";
  (void)node_.bus().create_topic(nf::topic_name{"marketplace.agents"}, nf::bus::topic_config{});
  const auto rec = nf::event::to_record(*nf::event::build(ev, in));
  ASSERT_TRUE(node_.bus().append(nf::topic_name{"marketplace.agents"}, std::span<const nf::bus::record>(&rec, 1)));
  // The read model picks the marketplace's topic up (a pattern, checked every second): until it
  // has folded the install, a run still fails as above.
  std::string id;
  ASSERT_TRUE(t::wait_until([&] {
    r = ask("POST", "/workflows/delegate/runs", json{{"inputs", {{"text", "long text"}}}});
    id = r.body["runId"].get<std::string>();
    std::string st;
    t::wait_until([&] {
      st = node_status(ask("GET", "/runs/" + id).body, "a");
      return st == "waiting" || st == "failed";
    }, 5s);
    return st == "waiting";
  }, 15s));
  const auto corr = ask("GET", "/runs/" + id).body["nodes"]["a"]["wait"]["correlationId"].get<std::string>();
  produce(node_, "agent.results", "agent.task_completed", "summarizer", {{"correlationId", corr}, {"output", {{"summary", "short"}}}},
          "0190a0b0-0000-7000-8000-000000000021");
  ASSERT_TRUE(t::wait_until([&] {
    d = ask("GET", "/runs/" + id).body;
    return d.value("status", "") == "completed";
  }, 10s)) << d.dump(2);
  EXPECT_EQ(d["outputs"]["summary"], "short");
}

}  // namespace
