// The gateway through the real binary on 127.0.0.1 (port 0): contracts in, read model out,
// subscriptions, error statuses, malformed-input fuzzing, SIGKILL durability and Kafka mode.
#include <signal.h>

#include <fstream>
#include <sstream>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;
using nf::test::server;

const std::string kChecksum = "sha256:" + std::string(64, 'a');

using nf::test::uuid;

json prompt(int n, const std::string& priority = "P1") {
  return {{"id", uuid(n)}, {"objective", "objective " + std::to_string(n)}, {"priority", priority}, {"originatingSpec", "https://spec/" + std::to_string(n)}};
}


class Gateway : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = (dir_.path() / "nf.json").string();
    std::ofstream(config_) << R"({"data_dir":")" << (dir_.path() / "data").string() << R"(","http":{"max_body_bytes":262144}})";
    srv_ = std::make_unique<server>(config_);
    http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port(), t::admin_headers());
  }
  t::http_reply post(const std::string& target, const json& body) { return http_->post(target, body.dump()); }
  json get_json(const std::string& target, int expect = 200) {
    auto r = http_->get(target);
    EXPECT_EQ(r.status, expect) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // Waits until the mission reaches a status (mission_control runs asynchronously).
  json wait_status(const std::string& id, const std::string& status) {
    json doc;
    t::wait_until([&] {
      doc = json::parse(http_->get("/missions/" + id).body, nullptr, false);
      return doc.is_object() && doc.value("status", "") == status;
    }, 15s);
    return doc;
  }

  t::temp_dir dir_;
  std::string config_;
  std::unique_ptr<server> srv_;
  std::unique_ptr<t::http_client> http_;
};

TEST_F(Gateway, AllFourContractsRoundTripAndDriveTheMissionToValidated) {
  auto p = post("/missions", prompt(1, "P0"));
  ASSERT_EQ(p.status, 202) << p.body;
  auto pj = json::parse(p.body);
  EXPECT_EQ(pj["id"], uuid(1));
  EXPECT_EQ(pj["topic"], "mission.prompts");
  auto doc = get_json("/missions/" + uuid(1));
  EXPECT_EQ(doc["objective"], "objective 1");
  EXPECT_EQ(doc["priority"], "P0");
  EXPECT_EQ(doc["originatingSpec"], "https://spec/1");
  EXPECT_FALSE(doc.contains("bodySha256"));
  wait_status(uuid(1), "accepted");

  auto a = post("/missions/" + uuid(1) + "/artifacts",
                {{"artifactId", "a1"}, {"type", "code"}, {"uri", "s3://b/a1"}, {"checksum", kChecksum}, {"reviewer", "rev"}});
  ASSERT_EQ(a.status, 202) << a.body;
  EXPECT_EQ(json::parse(a.body)["topic"], "mission.artifacts");
  wait_status(uuid(1), "in_progress");
  auto v = post("/missions/" + uuid(1) + "/validations",
                {{"reportId", "r1"}, {"artifactId", "a1"}, {"suite", "unit"}, {"result", "fail"}, {"coverage", 40}});
  ASSERT_EQ(v.status, 202) << v.body;
  doc = wait_status(uuid(1), "failed");
  EXPECT_EQ(doc["artifacts"]["a1"]["latestValidation"]["result"], "fail");
  ASSERT_EQ(post("/missions/" + uuid(1) + "/validations",
                 {{"reportId", "r2"}, {"artifactId", "a1"}, {"suite", "unit"}, {"result", "pass"}, {"coverage", 95.5}})
                .status,
            202);
  doc = wait_status(uuid(1), "validated");
  EXPECT_EQ(doc["artifacts"]["a1"]["latestValidation"]["coverage"], 95.5);
  std::vector<std::string> statuses;
  for (const auto& h : doc["history"]) statuses.push_back(h["status"]);
  EXPECT_EQ(statuses, (std::vector<std::string>{"prompted", "accepted", "in_progress", "failed", "validated"}));

  auto g = post("/agents/lifecycle", {{"agentId", "agent-7"}, {"lifecycle", "spawned"}, {"capabilityProfile", "coder"}, {"energyBudget", 12.5}});
  ASSERT_EQ(g.status, 202) << g.body;
  EXPECT_EQ(json::parse(g.body)["topic"], "mission.lifecycle");
  auto agents = get_json("/agents");
  ASSERT_EQ(agents["items"].size(), 1u);
  EXPECT_EQ(agents["items"][0]["energyBudget"], 12.5);
  ASSERT_EQ(post("/agents/lifecycle", {{"agentId", "agent-7"}, {"lifecycle", "retired"}, {"energyBudget", 0}}).status, 202);
  EXPECT_EQ(get_json("/agents")["items"].size(), 0u);

  auto events = get_json("/topics/mission.lifecycle/events?partition=" + std::to_string(pj["partition"].get<int>()) + "&from=0&limit=10");
  EXPECT_GE(events["items"].size(), 1u);
  auto topics = get_json("/topics");
  EXPECT_GE(topics["items"].size(), 5u);
}

TEST_F(Gateway, ValidationErrorsAre400WithTheField) {
  struct c {
    json body;
    std::string field;
  } cases[] = {
      {{{"priority", "P1"}, {"originatingSpec", "https://s"}}, "objective"},
      {{{"objective", "x"}, {"priority", "P7"}, {"originatingSpec", "https://s"}}, "priority"},
      {{{"objective", "x"}, {"priority", "P1"}, {"originatingSpec", "not a uri"}}, "originatingSpec"},
      {{{"id", "123"}, {"objective", "x"}, {"priority", "P1"}, {"originatingSpec", "https://s"}}, "id"},
      {{{"objective", "x"}, {"priority", "P1"}, {"originatingSpec", "https://s"}, {"createdAt", "tuesday"}}, "createdAt"},
      {{{"objective", std::string(64 * 1024 + 1, 'o')}, {"priority", "P1"}, {"originatingSpec", "https://s"}}, "objective"},
  };
  for (const auto& x : cases) {
    auto r = post("/missions", x.body);
    EXPECT_EQ(r.status, 400) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_EQ(j["error"]["field"], x.field) << r.body;
  }
  ASSERT_EQ(post("/missions", prompt(2)).status, 202);
  auto bad_art = post("/missions/" + uuid(2) + "/artifacts",
                      {{"artifactId", "a"}, {"type", "code"}, {"uri", "s3://x"}, {"checksum", "sha256:abc"}, {"reviewer", "r"}});
  EXPECT_EQ(bad_art.status, 400);
  EXPECT_EQ(json::parse(bad_art.body)["error"]["field"], "checksum");
  auto bad_val = post("/missions/" + uuid(2) + "/validations",
                      {{"reportId", "r"}, {"artifactId", "a"}, {"suite", "s"}, {"result", "pass"}, {"coverage", 101}});
  EXPECT_EQ(bad_val.status, 400);
  EXPECT_EQ(json::parse(bad_val.body)["error"]["field"], "coverage");
  auto bad_agent = post("/agents/lifecycle", {{"agentId", "g"}, {"lifecycle", "spawned"}, {"energyBudget", -1}});
  EXPECT_EQ(bad_agent.status, 400);
}

TEST_F(Gateway, RePostIsIdempotentAndADifferentBodyConflicts) {
  auto first = post("/missions", prompt(3));
  ASSERT_EQ(first.status, 202);
  auto again = post("/missions", prompt(3));
  EXPECT_EQ(again.status, 202);
  EXPECT_EQ(json::parse(again.body), json::parse(first.body));
  auto changed = prompt(3);
  changed["objective"] = "something else";
  auto conflict = post("/missions", changed);
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  // The log holds one mission.prompted (beside the prompt owner's claim of its partition).
  auto end = get_json("/topics");
  std::int64_t prompts = 0;
  for (const auto& tp : end["items"])
    if (tp["name"] == "mission.prompts")
      for (std::size_t p = 0; p < tp["offsets"].size(); ++p) {
        const auto page = get_json("/topics/mission.prompts/events?partition=" + std::to_string(p) + "&from=0&limit=1000");
        for (const auto& e : page["items"]) prompts += e["type"] == "mission.prompted";
      }
  EXPECT_EQ(prompts, 1) << "a re-POST must append no second prompt";
}

TEST_F(Gateway, UnknownMissionsArtifactsRoutesAndMethods) {
  EXPECT_EQ(http_->get("/missions/" + uuid(999)).status, 404);
  EXPECT_EQ(post("/missions/" + uuid(999) + "/artifacts",
                 {{"artifactId", "a"}, {"type", "code"}, {"uri", "s3://x"}, {"checksum", kChecksum}, {"reviewer", "r"}})
                .status,
            404);
  ASSERT_EQ(post("/missions", prompt(4)).status, 202);
  auto v = post("/missions/" + uuid(4) + "/validations",
                {{"reportId", "r"}, {"artifactId", "ghost"}, {"suite", "s"}, {"result", "pass"}, {"coverage", 1}});
  EXPECT_EQ(v.status, 404);
  EXPECT_EQ(json::parse(v.body)["error"]["field"], "artifactId");
  EXPECT_EQ(http_->get("/no/such/route").status, 404);
  auto m = http_->request("DELETE", "/missions");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(http_->request("POST", "/missions", prompt(5).dump(), "text/plain").status, 415);
  EXPECT_EQ(http_->request("POST", "/missions", std::string(300 * 1024, ' '), "application/json", false).status, 413);
  EXPECT_EQ(http_->post("/missions", "{\"objective\": ").status, 400);
  EXPECT_EQ(http_->get("/missions?limit=0").status, 400);
  EXPECT_EQ(http_->get("/missions?cursor=zz").status, 400);
}

TEST_F(Gateway, ListsNewestFirstWithFiltersAndCursor) {
  for (int i = 10; i < 17; ++i) {
    auto b = prompt(i, i % 2 ? "P0" : "P2");
    b["createdAt"] = 1'700'000'000'000 + i;
    ASSERT_EQ(post("/missions", b).status, 202);
  }
  auto page1 = get_json("/missions?limit=3");
  ASSERT_EQ(page1["items"].size(), 3u);
  ASSERT_TRUE(page1["nextCursor"].is_string());
  auto page2 = get_json("/missions?limit=3&cursor=" + page1["nextCursor"].get<std::string>());
  auto page3 = get_json("/missions?limit=3&cursor=" + page2["nextCursor"].get<std::string>());
  std::vector<std::string> ids;
  for (const auto* pg : {&page1, &page2, &page3})
    for (const auto& m : (*pg)["items"]) ids.push_back(m["id"]);
  EXPECT_EQ(ids.size(), 7u);
  EXPECT_TRUE(page3["nextCursor"].is_null());
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 7u);
  EXPECT_EQ(ids.front(), uuid(16)) << "newest first";
  EXPECT_EQ(ids.back(), uuid(10));
  auto p0 = get_json("/missions?priority=P0&limit=50");
  EXPECT_EQ(p0["items"].size(), 3u);  // 11, 13, 15
}

TEST_F(Gateway, HealthReadinessAndPrometheusMetrics) {
  EXPECT_EQ(http_->get("/healthz").status, 200);
  ASSERT_TRUE(t::wait_until([&] { return http_->get("/readyz").status == 200; }, 15s));
  ASSERT_EQ(post("/missions", prompt(6)).status, 202);
  auto m = http_->get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.headers["Content-Type"].find("text/plain"), std::string::npos);
  for (const char* series : {"nf_bus_appended_events_total{topic=\"mission.prompts\"}", "nf_http_requests_total{",
                             "nf_http_request_duration_seconds_bucket{", "nf_actor_mailbox_depth{actor=\"mission_control\"}",
                             "nf_projection_lag_events{projection=\"missions\"}", "nf_consumer_lag_events{group=\"actor.mission_control\"}",
                             "nf_gateway_subscribers"})
    EXPECT_NE(m.body.find(series), std::string::npos) << series;
}

TEST_F(Gateway, SseResumesAfterADroppedConnectionWithNoGapAndNoDuplicate) {
  for (int i = 20; i < 30; ++i) ASSERT_EQ(post("/missions", prompt(i)).status, 202);
  std::vector<std::string> first_ids;
  std::string last_id;
  {
    t::sse_stream s("127.0.0.1", srv_->port(), "/subscribe?topics=mission.prompts&from=earliest", "", t::admin_headers());
    ASSERT_EQ(s.status(), 200);
    for (int i = 0; i < 4; ++i) {
      auto ev = s.next();
      ASSERT_TRUE(ev);
      first_ids.push_back(json::parse(ev->data)["payload"]["id"]);
      last_id = ev->id;
    }
  }  // dropped
  for (int i = 30; i < 33; ++i) ASSERT_EQ(post("/missions", prompt(i)).status, 202);
  t::sse_stream s2("127.0.0.1", srv_->port(), "/subscribe?topics=mission.prompts", last_id, t::admin_headers());
  std::vector<std::string> second_ids;
  while (second_ids.size() < 9) {
    auto ev = s2.next(10s);
    ASSERT_TRUE(ev) << "after " << second_ids.size();
    second_ids.push_back(json::parse(ev->data)["payload"]["id"]);
  }
  EXPECT_FALSE(s2.next(500ms)) << "no duplicates beyond the 13 events";
  std::multiset<std::string> all(first_ids.begin(), first_ids.end());
  all.insert(second_ids.begin(), second_ids.end());
  EXPECT_EQ(all.size(), 13u);
  for (int i = 20; i < 33; ++i) EXPECT_EQ(all.count(uuid(i)), 1u) << i;
  // Filters and the from= form of the token.
  t::sse_stream typed("127.0.0.1", srv_->port(), "/subscribe?topics=mission.*&from=earliest&type=mission.accepted", "", t::admin_headers());
  auto ev = typed.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(json::parse(ev->data)["type"], "mission.accepted");
  t::sse_stream bad("127.0.0.1", srv_->port(), "/subscribe?topics=mission.*&from=garbage!", "", t::admin_headers());
  EXPECT_EQ(bad.status(), 400);
}

TEST_F(Gateway, WebSocketSubscriptionDeliversEventsWithResumeIds) {
  ASSERT_EQ(post("/missions", prompt(40, "P2")).status, 202);
  t::ws_client ws("127.0.0.1", srv_->port(), "/ws", t::admin_headers());
  ws.send(R"({"subscribe":["mission.*"],"from":"earliest"})");
  auto hello = ws.next();
  ASSERT_TRUE(hello);
  EXPECT_TRUE(json::parse(*hello).contains("subscribed"));
  std::set<std::string> types;
  std::string last;
  while (types.size() < 2) {
    auto msg = ws.next();
    ASSERT_TRUE(msg) << ws.close_reason();
    auto j = json::parse(*msg);
    types.insert(j["event"]["type"].get<std::string>());
    last = j["id"];
  }
  EXPECT_TRUE(types.count("mission.prompted"));
  EXPECT_TRUE(types.count("mission.accepted"));
  EXPECT_FALSE(last.empty());
  t::ws_client bad("127.0.0.1", srv_->port(), "/ws", t::admin_headers());
  bad.send(R"({"nope":1})");
  EXPECT_FALSE(bad.next());
  EXPECT_NE(bad.close_reason().find("subscribe"), std::string::npos) << bad.close_reason();
}

TEST_F(Gateway, TenThousandMalformedBodiesGet4xxAndNoCrash) {
  std::mt19937 rng(7);
  const std::vector<std::string> seeds = {prompt(50).dump(),
                                          R"({"artifactId":"a","type":"code","uri":"s3://x","checksum":"sha256:00","reviewer":"r"})",
                                          R"({"reportId":"r","artifactId":"a","suite":"s","result":"pass","coverage":5})",
                                          R"({"agentId":"g","lifecycle":"spawned","energyBudget":1})"};
  const std::vector<std::string> targets = {"/missions", "/missions/" + uuid(50) + "/artifacts", "/missions/" + uuid(50) + "/validations",
                                            "/agents/lifecycle"};
  // A random byte can leave a body valid (then 202 is right); nothing may be a 5xx or a dropped
  // connection, and every invalid body must be a 4xx.
  std::map<int, int> by_status;
  for (int i = 0; i < 10'000; ++i) {
    const std::size_t which = rng() % seeds.size();
    std::string body = seeds[which];
    switch (rng() % 6) {
      case 0: body = body.substr(0, rng() % body.size()); break;                           // truncated
      case 1: body[rng() % body.size()] = static_cast<char>(rng() % 256); break;           // random byte (often bad UTF-8)
      case 2: body = R"({"objective":)" + std::to_string(rng()) + "}"; break;              // wrong types
      case 3: body = R"({"objective":")" + std::string(70'000, 'x') + R"(","priority":"P1","originatingSpec":"a:b"})"; break;
      case 4: body = "\xff\xfe{\"a\":\"\xc3\x28\"}"; break;                                // invalid UTF-8
      default: body = "[" + body + "]"; break;                                             // wrong shape
    }
    auto r = http_->post(targets[which], body);
    ++by_status[r.status];
    const bool valid_json = !json::parse(body, nullptr, false).is_discarded();
    if (!valid_json) {
      EXPECT_TRUE(r.status >= 400 && r.status < 500) << r.status << " for " << body.substr(0, 80);
    }
    EXPECT_TRUE(r.status > 0 && r.status < 500) << r.status << " " << r.body;
  }
  std::string summary;
  for (const auto& [st, n] : by_status) summary += std::to_string(st) + ":" + std::to_string(n) + " ";
  EXPECT_LT(by_status[202], 200) << summary;
  EXPECT_EQ(http_->get("/healthz").status, 200);
  EXPECT_EQ(srv_->proc().wait(0ms), 128 + SIGKILL) << "the server must still be running";
}

TEST_F(Gateway, SigkillLosesNoAcceptedMission) {
  std::vector<std::string> accepted;
  for (int i = 100; i < 160; ++i) {
    auto r = post("/missions", prompt(i));
    ASSERT_EQ(r.status, 202);
    accepted.push_back(uuid(i));
  }
  srv_->proc().signal(SIGKILL);
  srv_->proc().wait(10s);
  http_.reset();
  srv_ = std::make_unique<server>(config_);
  http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port(), t::admin_headers());
  ASSERT_TRUE(t::wait_until([&] { return http_->get("/readyz").status == 200; }, 30s));
  for (const auto& id : accepted) EXPECT_EQ(http_->get("/missions/" + id).status, 200) << id;
  // And a re-POST after the restart is still recognised.
  EXPECT_EQ(post("/missions", prompt(100)).status, 202);
  auto c = prompt(100);
  c["priority"] = "P0";
  EXPECT_EQ(post("/missions", c).status, 409);
}

TEST(GatewaySlowSubscriber, IsClosedWithAReasonWithoutHoldingBackOthersAndResumesWithoutGaps) {
  t::temp_dir dir;
  const auto config = (dir.path() / "nf.json").string();
  std::ofstream(config) << R"({"data_dir":")" << (dir.path() / "data").string()
                        << R"(","bus":{"embedded":{"durability":"async"}},"http":{"subscriber_buffer":16,"slow_subscriber_timeout_ms":300}})";
  server srv(config);
  t::http_client http("127.0.0.1", srv.port(), t::admin_headers());
  // About 12 MB of prompts: more than the kernel buffers a stalled client can absorb.
  constexpr int kMissions = 200;
  for (int i = 0; i < kMissions; ++i) {
    auto b = prompt(1000 + i);
    b["objective"] = std::string(60'000, 'a' + static_cast<char>(i % 26));
    ASSERT_EQ(http.post("/missions", b.dump()).status, 202);
  }
  t::sse_stream slow("127.0.0.1", srv.port(), "/subscribe?topics=mission.prompts&from=earliest", "", t::admin_headers());
  ASSERT_EQ(slow.status(), 200);
  // Another subscriber reads everything while the slow one does not read at all.
  t::sse_stream fast("127.0.0.1", srv.port(), "/subscribe?topics=mission.prompts&from=earliest", "", t::admin_headers());
  int fast_seen = 0;
  while (fast_seen < kMissions && fast.next(10s)) ++fast_seen;
  EXPECT_EQ(fast_seen, kMissions);
  ASSERT_TRUE(t::wait_until([&] {
    return http.get("/metrics").body.find("nf_gateway_slow_subscriber_closes_total 1") != std::string::npos;
  }, 30s)) << "the stalled subscriber was never closed";
  // The slow client now reads what was buffered, then the reason, then the end of the stream.
  std::vector<std::string> ids;
  std::string last_id, reason;
  while (auto ev = slow.next(10s)) {
    if (ev->event == "error") {
      reason = json::parse(ev->data)["reason"];
      continue;
    }
    ids.push_back(json::parse(ev->data)["payload"]["id"]);
    last_id = ev->id;
  }
  EXPECT_NE(reason.find("slow subscriber"), std::string::npos) << reason;
  EXPECT_LT(ids.size(), static_cast<std::size_t>(kMissions));
  ASSERT_FALSE(last_id.empty());
  t::sse_stream resumed("127.0.0.1", srv.port(), "/subscribe?topics=mission.prompts", last_id, t::admin_headers());
  while (ids.size() < static_cast<std::size_t>(kMissions)) {
    auto ev = resumed.next(10s);
    ASSERT_TRUE(ev) << "after " << ids.size();
    ids.push_back(json::parse(ev->data)["payload"]["id"]);
  }
  std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), static_cast<std::size_t>(kMissions)) << "no gap and no duplicate across the forced reconnect";
}

TEST_F(Gateway, CliCreatesQueriesSubscribesAndReplays) {
  const std::string url = "http://127.0.0.1:" + std::to_string(srv_->port());
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), t::nexus_forge_binary());
    return t::run(args, {std::string("NF_API_KEY=") + t::kAdminKey});
  };
  auto created = run({"mission", "create", "--server", url, "--objective", "from the cli", "--priority", "P1", "--spec",
                      "https://spec/cli", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = json::parse(created.out)["id"];
  auto listed = run({"query", "missions", "--server", url, "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out)["items"][0]["id"], id);
  auto one = run({"query", "missions", "--server", url, "--id", id, "--json"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(json::parse(one.out)["objective"], "from the cli");
  auto bad = run({"mission", "create", "--server", url, "--objective", "x", "--priority", "P9", "--spec", "https://s"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("field priority"), std::string::npos) << bad.err;
  auto unreachable = run({"query", "missions", "--server", "http://127.0.0.1:1"});
  EXPECT_NE(unreachable.exit_code, 0);
  EXPECT_NE(unreachable.err.find("cannot reach"), std::string::npos) << unreachable.err;
  wait_status(id, "accepted");

  auto via_server = run({"subscribe", "mission.*", "--server", url, "--from", "earliest", "--count", "2", "--json"});
  ASSERT_EQ(via_server.exit_code, 0) << via_server.err;
  std::istringstream lines(via_server.out);
  std::string line;
  std::set<std::string> types;
  std::string last_token;
  while (std::getline(lines, line)) {
    auto j = json::parse(line);
    types.insert(j["event"]["type"].get<std::string>());
    last_token = j["id"];
  }
  EXPECT_EQ(types, (std::set<std::string>{"mission.prompted", "mission.accepted"}));
  ASSERT_EQ(post("/missions", prompt(70)).status, 202);
  auto after = run({"subscribe", "mission.prompts", "--server", url, "--from", last_token, "--count", "1"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(json::parse(after.out)["payload"]["id"], uuid(70)) << "resuming from a position gives the next event only";

  auto direct = run({"subscribe", "mission.prompts", "--config", config_, "--from", "earliest", "--count", "1"});
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  EXPECT_EQ(json::parse(direct.out)["payload"]["id"], id);

  auto replayed = run({"replay", "--config", config_, "--topic", "mission.*", "--json"});
  ASSERT_EQ(replayed.exit_code, 0) << replayed.err;
  std::vector<std::string> order;
  std::vector<std::int64_t> stamps;
  std::int64_t last_ts = 0;
  std::istringstream rl(replayed.out);
  while (std::getline(rl, line)) {
    auto j = json::parse(line);
    order.push_back(j["type"]);
    stamps.push_back(j["timestamp"]);
    EXPECT_GE(j["timestamp"].get<std::int64_t>(), last_ts) << "replay is in time order";
    last_ts = j["timestamp"];
  }
  ASSERT_GE(order.size(), 2u);
  // The first prompt comes first (an acceptance stamped in the same millisecond may share its place).
  const auto first_prompt = std::find(order.begin(), order.end(), "mission.prompted");
  ASSERT_NE(first_prompt, order.end());
  EXPECT_EQ(stamps[static_cast<std::size_t>(first_prompt - order.begin())], stamps[0]) << order[0];
  EXPECT_NE(replayed.err.find("100%"), std::string::npos) << replayed.err;
  auto none = run({"replay", "--config", config_, "--topic", "mission.*", "--from", "2999-01-01T00:00:00Z", "--json"});
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_TRUE(none.out.empty());
  auto bad_from = run({"replay", "--config", config_, "--topic", "mission.*", "--from", "last week"});
  EXPECT_NE(bad_from.exit_code, 0);
  EXPECT_NE(bad_from.err.find("RFC 3339"), std::string::npos);
}

}  // namespace
