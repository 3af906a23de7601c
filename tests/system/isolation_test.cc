// Tenancy enforced on every route, through the real binary on 127.0.0.1: permissions per route,
// the tenant stamped on what a tenant writes, 404 for another tenant's missions, agents, events
// and ledger entries, subscriptions that only carry the caller's events, daily event and storage
// quotas at writes, reservations refused beyond their quota, usage alerts once per period, and
// 1,000 randomized cross-tenant requests that leak nothing.
#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/jwt_signer.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;
using nf::test::server;

const std::string kChecksum = "sha256:" + std::string(64, 'a');

using nf::test::uuid;

// Protobuf's JSON renders int64 fields as strings.
std::int64_t as_int(const json& j) { return j.is_string() ? std::stoll(j.get<std::string>()) : j.get<std::int64_t>(); }

struct tenant_keys {
  std::string id, owner, developer, viewer, auditor;
};

class Isolation : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = (dir_.path() / "nf.json").string();
    std::ofstream(config_) << json{{"data_dir", (dir_.path() / "data").string()},
                                   {"ledger", {{"head_every_ms", 50}}},
                                   {"auth", {{"base_domain", "nexus.test"}}}}
                                  .dump();
    srv_ = std::make_unique<server>(config_);
    http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
  }
  t::http_reply call(const std::string& method, const std::string& target, const std::string& key, const json& body = nullptr) {
    return http_->request(method, target, body.is_null() ? "" : body.dump(), "application/json", true,
                          key.empty() ? t::header_map{} : t::key_headers(key));
  }
  json expect(const t::http_reply& r, int status, const std::string& what = "") {
    EXPECT_EQ(r.status, status) << what << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  tenant_keys make_tenant(const std::string& id, const json& quotas = json::object()) {
    tenant_keys k;
    k.id = id;
    expect(call("POST", "/tenants", t::kAdminKey, {{"id", id}, {"name", id}, {"plan", "basic"}, {"quotas", quotas}}), 201);
    auto key = [&](const char* role) {
      return expect(call("POST", "/tenants/" + id + "/keys", t::kAdminKey, {{"role", role}}), 201)["key"].get<std::string>();
    };
    k.owner = key("owner");
    k.developer = key("developer");
    k.viewer = key("viewer");
    k.auditor = key("auditor");
    return k;
  }
  static json prompt(int n, const std::string& marker) {
    return {{"id", uuid(n)}, {"objective", marker + " objective"}, {"priority", "P1"}, {"originatingSpec", "https://spec/" + marker}};
  }

  t::temp_dir dir_;
  std::string config_;
  std::unique_ptr<server> srv_;
  std::unique_ptr<t::http_client> http_;
};

TEST_F(Isolation, EveryRouteNeedsItsPermissionAndSeesOnlyItsTenant) {
  auto a = make_tenant("alpha");
  auto b = make_tenant("beta");
  // No credentials: 401 on every tenant-facing route; operations routes stay open.
  for (const auto* target : {"/missions", "/agents", "/topics", "/ledger/tree-head", "/topics/mission.prompts/events"})
    EXPECT_EQ(call("GET", target, "").status, 401) << target;
  EXPECT_EQ(call("GET", "/healthz", "").status, 200);
  EXPECT_EQ(call("GET", "/metrics", "").status, 200);

  // A viewer reads but does not write; the 403 names the permission.
  auto denied = expect(call("POST", "/missions", a.viewer, prompt(1, "alpha-secret")), 403);
  EXPECT_NE(denied["error"]["message"].get<std::string>().find("missions:write"), std::string::npos) << denied;
  expect(call("POST", "/ledger/record", a.viewer, {{"json", {{"x", 1}}}, {"kind", "k"}}), 403);
  expect(call("POST", "/missions", a.developer, prompt(1, "alpha-secret")), 202);
  expect(call("POST", "/missions", b.developer, prompt(2, "beta-secret")), 202);

  // The mission belongs to its tenant: the other one gets 404, as for a mission that does not exist.
  auto doc = expect(call("GET", "/missions/" + uuid(1), a.viewer), 200);
  EXPECT_EQ(doc["tenantId"], "alpha");
  auto hidden = expect(call("GET", "/missions/" + uuid(1), b.viewer), 404);
  auto absent = expect(call("GET", "/missions/" + uuid(99), b.viewer), 404);
  EXPECT_EQ(hidden["error"]["code"], absent["error"]["code"]);
  expect(call("POST", "/missions/" + uuid(1) + "/artifacts", b.developer,
              {{"artifactId", "a1"}, {"type", "code"}, {"uri", "s3://b/a1"}, {"checksum", kChecksum}, {"reviewer", "r"}}),
         404);
  expect(call("POST", "/missions/" + uuid(1) + "/artifacts", a.developer,
              {{"artifactId", "a1"}, {"type", "code"}, {"uri", "s3://b/a1"}, {"checksum", kChecksum}, {"reviewer", "r"}}),
         202);
  // Re-sending another tenant's id is a conflict that shows nothing of the other mission.
  auto clash = expect(call("POST", "/missions", b.developer, prompt(1, "alpha-secret")), 409);
  EXPECT_EQ(clash.dump().find("alpha"), std::string::npos);
  // Lists: each tenant its own; the platform admin all.
  auto la = expect(call("GET", "/missions", a.viewer), 200)["items"];
  ASSERT_EQ(la.size(), 1u);
  EXPECT_EQ(la[0]["id"], uuid(1));
  EXPECT_EQ(expect(call("GET", "/missions", b.viewer), 200)["items"].size(), 1u);
  EXPECT_EQ(expect(call("GET", "/missions", t::kAdminKey), 200)["items"].size(), 2u);

  // Agents.
  expect(call("POST", "/agents/lifecycle", a.developer, {{"agentId", "agent-1"}, {"lifecycle", "spawned"}, {"capabilityProfile", "alpha-secret"}, {"energyBudget", 1}}), 202);
  EXPECT_EQ(expect(call("GET", "/agents", a.viewer), 200)["items"].size(), 1u);
  EXPECT_EQ(expect(call("GET", "/agents", b.viewer), 200)["items"].size(), 0u);

  // Events on the bus carry the tenant; a tenant reading a topic sees its own events only.
  t::wait_until([&] { return expect(call("GET", "/missions/" + uuid(1), a.viewer), 200).value("status", "") == "in_progress"; }, 15s);
  std::set<std::string> seen_by_b;
  for (int p = 0; p < 3; ++p) {
    auto page = expect(call("GET", "/topics/mission.prompts/events?partition=" + std::to_string(p), b.viewer), 200);
    for (const auto& e : page["items"]) seen_by_b.insert(e.value("tenantId", "?"));
    auto all = expect(call("GET", "/topics/mission.prompts/events?partition=" + std::to_string(p), t::kAdminKey), 200);
    EXPECT_EQ(page["nextOffset"], all["nextOffset"]) << "a tenant's page still advances past others' events";
  }
  EXPECT_EQ(seen_by_b, (std::set<std::string>{"beta"}));
  auto topics = expect(call("GET", "/topics", b.viewer), 200)["items"];
  EXPECT_FALSE(topics.empty());
  EXPECT_FALSE(topics[0].contains("offsets")) << "a tenant does not see how much others wrote";

  // Subscriptions carry only the caller's events, even when it asks for another tenant's; a
  // browser-style ?access_token= works too.
  t::sse_stream sb("127.0.0.1", srv_->port(), "/subscribe?topics=mission.*&from=earliest&tenant=alpha&access_token=" + b.viewer);
  ASSERT_EQ(sb.status(), 200);
  t::sse_stream none("127.0.0.1", srv_->port(), "/subscribe?topics=mission.*&from=earliest");
  EXPECT_EQ(none.status(), 401);
  std::set<std::string> stream_tenants;
  while (auto e = sb.next(1500ms)) {
    if (e->data.empty()) continue;
    stream_tenants.insert(json::parse(e->data).value("tenantId", "?"));
  }
  EXPECT_EQ(stream_tenants, (std::set<std::string>{"beta"}));
  t::ws_client ws("127.0.0.1", srv_->port(), "/ws", t::key_headers(a.viewer));
  ws.send(R"({"subscribe":["mission.*"],"from":"earliest"})");
  std::set<std::string> ws_tenants;
  while (auto m = ws.next(1500ms)) {
    auto j = json::parse(*m, nullptr, false);
    if (j.contains("event")) ws_tenants.insert(j["event"].value("tenantId", "?"));
  }
  EXPECT_EQ(ws_tenants, (std::set<std::string>{"alpha"}));

  // The ledger: a tenant's record is its own; heads and consistency proofs are shared.
  auto rec = expect(call("POST", "/ledger/record", a.developer, {{"json", {{"note", "alpha-secret"}}}, {"kind", "note"}, {"missionId", uuid(1)}}), 201);
  const auto index = std::to_string(rec["leaf_index"].get<std::uint64_t>());
  expect(call("GET", "/ledger/entries/" + index, a.viewer), 200);
  expect(call("GET", "/ledger/entries/" + index, b.viewer), 404);
  ASSERT_TRUE(t::wait_until([&] {
    auto h = expect(call("GET", "/ledger/tree-head", b.viewer), 200);
    return h.value("tree_size", 0) > rec["leaf_index"].get<int>();
  }, 10s));
  expect(call("GET", "/ledger/proof/inclusion?index=" + index, a.viewer), 200);
  expect(call("GET", "/ledger/proof/inclusion?index=" + index, b.viewer), 404);
  expect(call("GET", "/ledger/proof/inclusion?leaf_hash=" + rec["leaf_hash"].get<std::string>(), b.viewer), 404);
  EXPECT_FALSE(expect(call("GET", "/ledger/search?missionId=" + uuid(1), a.viewer), 200)["indices"].empty());
  EXPECT_TRUE(expect(call("GET", "/ledger/search?missionId=" + uuid(1), b.viewer), 200)["indices"].empty());
}

TEST_F(Isolation, DailyEventAndStorageQuotasAreEnforcedAtWritesAndAlertOncePerPeriod) {
  // Tenant creation and its four keys are 5 of its 12 events today.
  auto q = make_tenant("quota", {{"eventsPerDay", 12}});
  int accepted = 0;
  json refusal;
  for (int i = 0; i < 40 && refusal.is_null(); ++i) {
    auto r = call("POST", "/missions", q.developer, prompt(100 + i, "quota"));
    if (r.status == 202) {
      ++accepted;
      continue;
    }
    ASSERT_EQ(r.status, 429) << r.body;
    refusal = json::parse(r.body);
    EXPECT_FALSE(r.headers["Retry-After"].empty());
  }
  ASSERT_FALSE(refusal.is_null()) << "the daily event quota was never enforced";
  EXPECT_EQ(refusal["error"]["code"], "quota_exceeded");
  EXPECT_EQ(refusal["error"]["field"], "eventsPerDay");
  EXPECT_NE(refusal["error"]["message"].get<std::string>().find("is 12 events today"), std::string::npos) << refusal;
  EXPECT_LE(accepted, 7);
  // A refused write appended nothing: the tenant's mission count is what was accepted.
  EXPECT_EQ(expect(call("GET", "/missions?limit=500", q.viewer), 200)["items"].size(), static_cast<std::size_t>(accepted));
  // Alerts at 80 % and 100 %, once each, however often the quota is hit again.
  for (int i = 0; i < 3; ++i) expect(call("POST", "/missions", q.developer, prompt(200 + i, "quota")), 429);
  json doc;
  ASSERT_TRUE(t::wait_until([&] {
    doc = expect(call("GET", "/tenants/quota", q.viewer), 200);
    return doc.contains("alerts") && doc["alerts"].size() >= 2;
  }, 10s)) << doc.dump();
  std::multiset<int> thresholds;
  for (const auto& al : doc["alerts"]) {
    EXPECT_EQ(al["quota"], "eventsPerDay");
    EXPECT_EQ(al["period"], doc["usage"]["date"]);
    thresholds.insert(al["threshold"].get<int>());
  }
  EXPECT_EQ(thresholds, (std::multiset<int>{80, 100}));
  // The refusal and the alerts are events on tenancy.usage that the tenant can subscribe to.
  t::sse_stream usage("127.0.0.1", srv_->port(), "/subscribe?topics=tenancy.usage&from=earliest", "", t::key_headers(q.viewer));
  std::multiset<std::string> types;
  while (auto e = usage.next(1500ms))
    if (!e->data.empty()) types.insert(json::parse(e->data).value("type", ""));
  EXPECT_EQ(types.count("tenancy.usage_alert"), 2u);
  EXPECT_EQ(types.count("tenancy.quota_exceeded"), 1u) << "refusals of writes are reported at most once a minute";

  // Stored bytes: a tenant whose bytes are used up cannot write, whatever its event quota.
  auto s = make_tenant("storage", {{"storedBytes", 4000}});
  json full;
  for (int i = 0; i < 40 && full.is_null(); ++i) {
    auto r = call("POST", "/missions", s.developer, prompt(300 + i, "storage"));
    if (r.status == 429) {
      full = json::parse(r.body);
    } else {
      ASSERT_EQ(r.status, 202) << r.body;
    }
  }
  ASSERT_FALSE(full.is_null());
  EXPECT_EQ(full["error"]["field"], "storedBytes");
  // The platform admin is not held to a tenant's quotas, and other tenants are untouched.
  auto other = make_tenant("other");
  expect(call("POST", "/missions", other.developer, prompt(400, "other")), 202);
}

// Alerts follow the metered counts, not only the gateway's own writes: here every event of the
// tenant is written by the platform admin acting in it (its subdomain) and by mission_control.
TEST_F(Isolation, UsageAlertsFollowTheMeteredEventsWhoeverWroteThem) {
  auto q = make_tenant("drift", {{"eventsPerDay", 8}});
  for (int i = 0; i < 3; ++i) {
    auto r = http_->request("POST", "/missions", prompt(500 + i, "drift").dump(), "application/json", true,
                            {{"Authorization", std::string("Bearer ") + t::kAdminKey}, {"Host", "drift.nexus.test"}});
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(expect(call("GET", "/missions/" + uuid(500 + i), q.viewer), 200)["tenantId"], "drift");
  }
  json doc;
  ASSERT_TRUE(t::wait_until([&] {
    doc = expect(call("GET", "/tenants/drift", q.viewer), 200);
    return doc.contains("alerts") && doc["alerts"].size() == 2;
  }, 10s)) << doc.dump();
  EXPECT_GE(doc["usage"]["eventsToday"].get<int>(), 8);
}

TEST_F(Isolation, ReservationsBeyondTheirQuotaAreRefusedNamingItAndRecorded) {
  auto r = make_tenant("runs", {{"concurrentRuns", 5}, {"cpuMillicores", 1000}});
  auto one = expect(call("POST", "/tenants/runs/reservations", r.developer, {{"kind", "concurrentRuns"}, {"amount", 3}}), 201);
  EXPECT_EQ(one["reserved"], 3);
  auto two = expect(call("POST", "/tenants/runs/reservations", r.developer, {{"kind", "concurrentRuns"}, {"amount", 1}}), 201);
  auto over = expect(call("POST", "/tenants/runs/reservations", r.developer, {{"kind", "concurrentRuns"}, {"amount", 2}}), 409);
  EXPECT_EQ(over["error"]["code"], "quota_exceeded");
  EXPECT_EQ(over["error"]["quota"], "concurrentRuns");
  EXPECT_EQ(over["error"]["limit"], 5);
  EXPECT_EQ(over["error"]["used"], 4);
  EXPECT_EQ(over["error"]["requested"], 2);
  expect(call("POST", "/tenants/runs/reservations", r.developer, {{"kind", "cpuMillicores"}, {"amount", 1001}}), 409);
  expect(call("POST", "/tenants/runs/reservations", r.viewer, {{"kind", "concurrentRuns"}, {"amount", 1}}), 403);
  expect(call("POST", "/tenants/runs/reservations", r.developer, {{"kind", "installedAgents"}, {"amount", 1}}), 400);
  expect(call("POST", "/tenants/runs/reservations", r.developer, {{"kind", "concurrentRuns"}, {"amount", 0}}), 400);
  // Releasing makes room again.
  expect(call("DELETE", "/tenants/runs/reservations/" + two["reservationId"].get<std::string>(), r.developer), 200);
  expect(call("DELETE", "/tenants/runs/reservations/" + two["reservationId"].get<std::string>(), r.developer), 404);
  expect(call("POST", "/tenants/runs/reservations", r.developer, {{"kind", "concurrentRuns"}, {"amount", 2}}), 201);
  auto list = expect(call("GET", "/tenants/runs/reservations", r.viewer), 200);
  EXPECT_EQ(list["items"].size(), 2u);
  EXPECT_EQ(list["reserved"]["concurrentRuns"], 5);
  // Another tenant cannot see or change them.
  auto o = make_tenant("outsider");
  expect(call("GET", "/tenants/runs/reservations", o.owner), 404);
  expect(call("POST", "/tenants/runs/reservations", o.owner, {{"kind", "concurrentRuns"}, {"amount", 1}}), 404);
  // Every refusal is a tenancy.quota_exceeded event; 80 % and 100 % of concurrentRuns alerted once.
  std::vector<json> exceeded, alerts;
  ASSERT_TRUE(t::wait_until([&] {
    exceeded.clear();
    alerts.clear();
    for (int p = 0; p < 3; ++p) {
      auto page = expect(call("GET", "/topics/tenancy.usage/events?partition=" + std::to_string(p) + "&limit=1000", r.viewer), 200);
      for (const auto& e : page["items"]) {
        if (e["type"] == "tenancy.quota_exceeded") exceeded.push_back(e["payload"]);
        if (e["type"] == "tenancy.usage_alert") alerts.push_back(e["payload"]);
      }
    }
    return exceeded.size() == 2 && alerts.size() >= 3;
  }, 10s)) << exceeded.size() << " " << alerts.size();
  EXPECT_EQ(exceeded[0]["quota"], "concurrentRuns");
  EXPECT_EQ(as_int(exceeded[0]["used"]), 4);
  EXPECT_EQ(as_int(exceeded[0]["limit"]), 5);
  std::multiset<std::string> alerted;
  for (const auto& al : alerts) alerted.insert(al["quota"].get<std::string>() + "@" + std::to_string(al["threshold"].get<int>()));
  EXPECT_EQ(alerted.count("concurrentRuns@80"), 1u);
  EXPECT_EQ(alerted.count("concurrentRuns@100"), 1u);
  EXPECT_EQ(alerted.count("cpuMillicores@100"), 1u);
}

// Three tenants with data in every resource; 1,000 requests, each by one tenant's key against a
// randomly chosen resource of any tenant, over every read route, plus each tenant's subscription
// stream. Nothing of another tenant may show up: no marker in a body, no 2xx for another
// tenant's resource (404 instead), no event of another tenant on a stream.
TEST_F(Isolation, AThousandRandomCrossTenantRequestsLeakNothing) {
  const std::vector<std::string> names = {"red", "green", "blue"};
  std::vector<tenant_keys> tenants;
  struct owned {
    std::string mission, leaf_index, leaf_hash, reservation;
  };
  std::map<std::string, std::vector<owned>> data;
  int n = 1000;
  for (const auto& name : names) {
    tenants.push_back(make_tenant(name));
    const auto& k = tenants.back();
    for (int i = 0; i < 3; ++i) {
      owned o;
      o.mission = uuid(++n);
      expect(call("POST", "/missions", k.developer, prompt(n, "marker-" + name)), 202);
      expect(call("POST", "/missions/" + o.mission + "/artifacts", k.developer,
                  {{"artifactId", "art-" + name}, {"type", "code"}, {"uri", "s3://marker-" + name}, {"checksum", kChecksum}, {"reviewer", "r"}}),
             202);
      expect(call("POST", "/missions/" + o.mission + "/validations", k.developer,
                  {{"reportId", "rep-" + name}, {"artifactId", "art-" + name}, {"suite", "marker-" + name}, {"result", "pass"}, {"coverage", 90}}),
             202);
      auto rec = expect(call("POST", "/ledger/record", k.developer, {{"json", {{"marker", "marker-" + name}}}, {"kind", "note"}, {"missionId", o.mission}}), 201);
      o.leaf_index = std::to_string(rec["leaf_index"].get<std::uint64_t>());
      o.leaf_hash = rec["leaf_hash"];
      o.reservation = expect(call("POST", "/tenants/" + name + "/reservations", k.developer, {{"kind", "cpuMillicores"}, {"amount", 10}}), 201)["reservationId"];
      data[name].push_back(o);
    }
    expect(call("POST", "/agents/lifecycle", k.developer, {{"agentId", "agent-" + name}, {"lifecycle", "spawned"}, {"capabilityProfile", "marker-" + name}, {"energyBudget", 1}}), 202);
  }
  // Every leaf under a signed head, so inclusion proofs are answerable.
  ASSERT_TRUE(t::wait_until([&] {
    return expect(call("GET", "/ledger/tree-head", t::kAdminKey), 200).value("tree_size", 0) >= 9 * 3;
  }, 15s));

  std::mt19937 rng(20261129);
  auto pick = [&](std::size_t k) { return static_cast<std::size_t>(rng() % k); };
  int leaks = 0, cross = 0, own = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto& caller = tenants[pick(3)];
    const auto& owner_name = names[pick(3)];
    const auto& res = data[owner_name][pick(3)];
    const bool mine = owner_name == caller.id;
    const std::string key = std::vector<std::string>{caller.owner, caller.viewer, caller.auditor, caller.developer}[pick(4)];
    std::string method = "GET", target;
    json body = nullptr;
    switch (pick(16)) {
      case 0: target = "/missions/" + res.mission; break;
      case 1: target = "/missions?limit=500"; break;
      case 2: target = "/agents"; break;
      case 3: target = "/topics/mission.prompts/events?partition=" + std::to_string(pick(3)) + "&limit=1000"; break;
      case 4: target = "/topics/mission.artifacts/events?partition=" + std::to_string(pick(3)) + "&limit=1000"; break;
      case 5: target = "/ledger/entries/" + res.leaf_index; break;
      case 6: target = "/ledger/proof/inclusion?index=" + res.leaf_index; break;
      case 7: target = "/ledger/search?missionId=" + res.mission; break;
      case 8: target = "/tenants/" + owner_name; break;
      case 9: target = "/tenants/" + owner_name + "/usage"; break;
      case 10: target = "/tenants/" + owner_name + "/audit?limit=200"; break;
      case 11: target = "/tenants/" + owner_name + "/reservations"; break;
      case 12:
        method = "POST";
        target = "/missions/" + res.mission + "/artifacts";
        body = {{"artifactId", "x"}, {"type", "code"}, {"uri", "s3://x"}, {"checksum", kChecksum}, {"reviewer", "r"}};
        break;
      case 13:
        method = "POST";
        target = "/missions/" + res.mission + "/validations";
        body = {{"reportId", "x"}, {"artifactId", "art-" + owner_name}, {"suite", "s"}, {"result", "pass"}, {"coverage", 1}};
        break;
      case 14: target = "/topics/tenancy.audit/events?partition=" + std::to_string(pick(3)) + "&limit=1000"; break;
      default: target = "/ledger/proof/inclusion?leaf_hash=" + res.leaf_hash; break;
    }
    // Writes to another tenant's missions must fail; to one's own they may succeed (then they
    // are only the caller's). Keep own writes out so the data set stays as built.
    if (method == "POST" && mine) continue;
    const auto r = call(method, target, key, body);
    const bool per_resource = target.find("/missions/") == 0 || target.find("/ledger/entries") == 0 || target.find("/ledger/proof") == 0 ||
                              target.find("/tenants/") == 0;
    for (const auto& other : names) {
      if (other == caller.id) continue;
      if (r.body.find("marker-" + other) != std::string::npos || r.body.find("\"tenantId\":\"" + other + "\"") != std::string::npos) {
        ++leaks;
        ADD_FAILURE() << caller.id << " saw " << other << "'s data via " << method << " " << target << ": " << r.body.substr(0, 300);
      }
    }
    if (!mine && per_resource) {
      ++cross;
      // 404 for another tenant's resource; 403 only where the caller's role lacks the permission
      // for its own tenant first (a viewer reading the audit, say) is not an existence leak either
      // when it answers the same for an unknown id.
      if (r.status != 404 && r.status != 403) {
        ++leaks;
        ADD_FAILURE() << caller.id << " got " << r.status << " for " << owner_name << "'s " << method << " " << target << ": " << r.body;
      }
      if (r.status == 403) {
        const auto unknown = call(method, target.find(res.mission) != std::string::npos ? std::string(target).replace(target.find(res.mission), res.mission.size(), uuid(999999)) : target, key, body);
        EXPECT_TRUE(unknown.status == 403 || unknown.status == 404) << target;
      }
    } else if (mine) {
      ++own;
      EXPECT_LT(r.status, 500) << target << " " << r.body;
    }
  }
  EXPECT_EQ(leaks, 0);
  EXPECT_GT(cross, 300);
  EXPECT_GT(own, 100);

  // The subscription stream: each tenant's stream over every topic carries its events only.
  for (const auto& k : tenants) {
    t::sse_stream s("127.0.0.1", srv_->port(), "/subscribe?topics=*&from=earliest", "", t::key_headers(k.viewer));
    ASSERT_EQ(s.status(), 200);
    int events = 0;
    while (auto e = s.next(1500ms)) {
      if (e->data.empty()) continue;
      ++events;
      const auto j = json::parse(e->data);
      EXPECT_EQ(j.value("tenantId", ""), k.id) << e->data.substr(0, 300);
      for (const auto& other : names) {
        if (other == k.id) continue;
        EXPECT_EQ(e->data.find("marker-" + other), std::string::npos);
      }
    }
    EXPECT_GT(events, 20) << k.id;
  }
}

// OIDC-style bearer tokens from an identity provider whose keys are in a JWKS file: the tenant
// and roles claims make the context, on the same routes and rules as API keys.
TEST(IsolationJwt, TokensFromTheConfiguredIssuerActInTheirTenantWithTheirRoles) {
  t::temp_dir dir;
  const nf::test::signer_key rsa{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), "RS256", "idp-rsa"};
  const nf::test::signer_key ec{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "ES256", "idp-ec"};
  const nf::test::signer_key stranger{EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)), "RS256", "idp-rsa"};
  const auto jwks = (dir.path() / "jwks.json").string();
  std::ofstream(jwks) << json{{"keys", {rsa.jwk(), ec.jwk()}}}.dump();
  const auto config = (dir.path() / "nf.json").string();
  std::ofstream(config) << json{{"data_dir", (dir.path() / "data").string()},
                                {"auth", {{"jwks_file", jwks}, {"jwt_issuer", "https://idp.test"}, {"jwt_audience", "nexus-forge"}}}}
                               .dump();
  server srv(config);
  t::http_client admin("127.0.0.1", srv.port(), t::admin_headers());
  for (const char* id : {"acme", "globex"})
    ASSERT_EQ(admin.post("/tenants", json{{"id", id}, {"name", id}, {"plan", "pro"}}.dump()).status, 201);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto claims = [&](const std::string& tenant, const std::vector<std::string>& roles) {
    return json{{"iss", "https://idp.test"}, {"aud", "nexus-forge"}, {"sub", "ana@" + tenant}, {"tenant", tenant}, {"roles", roles},
                {"exp", now + 300}, {"iat", now}};
  };
  t::http_client http("127.0.0.1", srv.port());
  auto as = [&](const std::string& token, const std::string& method, const std::string& target, const json& body = nullptr) {
    return http.request(method, target, body.is_null() ? "" : body.dump(), "application/json", true, t::key_headers(token));
  };
  const json mission{{"id", uuid(7)}, {"objective", "by token"}, {"priority", "P1"}, {"originatingSpec", "https://s"}};
  const auto dev = rsa.token(claims("acme", {"developer"}));
  auto posted = as(dev, "POST", "/missions", mission);
  ASSERT_EQ(posted.status, 202) << posted.body;
  EXPECT_EQ(json::parse(as(dev, "GET", "/missions/" + uuid(7)).body)["tenantId"], "acme");
  EXPECT_EQ(as(ec.token(claims("acme", {"viewer"})), "GET", "/missions/" + uuid(7)).status, 200) << "ES256 too";
  auto denied = as(ec.token(claims("acme", {"viewer"})), "POST", "/missions", mission);
  EXPECT_EQ(denied.status, 403);
  EXPECT_NE(denied.body.find("missions:write"), std::string::npos) << denied.body;
  EXPECT_EQ(as(rsa.token(claims("globex", {"owner"})), "GET", "/missions/" + uuid(7)).status, 404) << "another tenant's token";
  // Refused: expired, wrong audience, wrong issuer, a key the JWKS does not hold, no tenant.
  auto expired = claims("acme", {"developer"});
  expired["exp"] = now - 3600;
  auto wrong_aud = claims("acme", {"developer"});
  wrong_aud["aud"] = "someone-else";
  auto wrong_iss = claims("acme", {"developer"});
  wrong_iss["iss"] = "https://evil.test";
  auto no_tenant = claims("acme", {"developer"});
  no_tenant.erase("tenant");
  for (const auto& token : {rsa.token(expired), rsa.token(wrong_aud), rsa.token(wrong_iss), stranger.token(claims("acme", {"developer"})),
                            rsa.token(no_tenant), rsa.token(claims("nowhere", {"developer"}))}) {
    auto r = as(token, "GET", "/missions");
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.headers["WWW-Authenticate"], "Bearer");
  }
  // The audit names the token's subject.
  json log;
  ASSERT_TRUE(t::wait_until([&] {
    log = json::parse(admin.get("/tenants/acme/audit").body, nullptr, false);
    return log.is_object() && log.dump().find("jwt:ana@acme") != std::string::npos;
  }, 10s)) << log.dump();
  EVP_PKEY_free(rsa.pkey);
  EVP_PKEY_free(ec.pkey);
  EVP_PKEY_free(stranger.pkey);
}

}  // namespace
