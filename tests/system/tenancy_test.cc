// Tenant administration through the real binary on 127.0.0.1: the platform admin key printed once,
// tenants, keys, custom roles, caller resolution by domain, subdomain and key, 401/403/404 rules,
// no privilege escalation, revocation on the next request, and state that survives a restart.
#include <signal.h>

#include <fstream>

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

class Tenancy : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = (dir_.path() / "nf.json").string();
    std::ofstream(config_) << json{{"data_dir", (dir_.path() / "data").string()}, {"auth", {{"base_domain", "nexus.test"}}}}.dump();
    srv_ = std::make_unique<server>(config_, std::vector<std::string>{}, false);
    admin_ = printed_admin_key();
    ASSERT_EQ(admin_.rfind("nfk_", 0), 0u) << "the first start prints the platform admin key";
    http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
  }
  // The platform admin key, if the server printed one after its "serving" line.
  std::string printed_admin_key() {
    const std::string marker = "platform admin key (shown once; only its SHA-256 is kept): ";
    for (int i = 0; i < 2; ++i) {
      const auto line = srv_->next_line(i == 0 ? 10s : 2s);
      if (line.rfind(marker, 0) == 0) return line.substr(marker.size());
    }
    return {};
  }
  t::http_reply call(const std::string& method, const std::string& target, const std::string& key, const json& body = nullptr,
                     std::map<std::string, std::string> headers = {}) {
    if (!key.empty()) headers["Authorization"] = "Bearer " + key;
    return http_->request(method, target, body.is_null() ? "" : body.dump(), "application/json", true, headers);
  }
  json expect(const t::http_reply& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  t::temp_dir dir_;
  std::string config_;
  std::unique_ptr<server> srv_;
  std::string admin_;
  std::unique_ptr<t::http_client> http_;
};

TEST_F(Tenancy, AdminsTenantsKeysRolesAndTheRulesBetweenThem) {
  // Only the platform admin creates tenants.
  auto acme = expect(call("POST", "/tenants", admin_, {{"id", "acme"}, {"name", "Acme"}, {"plan", "pro"}, {"domains", {"ev.acme.test"}}}), 201);
  EXPECT_EQ(acme["limits"]["eventsPerDay"], 1'000'000);
  expect(call("POST", "/tenants", admin_, {{"id", "globex"}, {"name", "Globex"}, {"plan", "basic"}, {"quotas", {{"eventsPerDay", 50}}}}), 201);
  expect(call("POST", "/tenants", admin_, {{"id", "acme"}, {"name", "Again"}, {"plan", "pro"}}), 409);
  expect(call("POST", "/tenants", admin_, {{"name", "x"}, {"plan", "gold"}}), 400);
  expect(call("POST", "/tenants", admin_, {{"name", "x"}, {"plan", "basic"}, {"quotas", {{"eventsPerWeek", 1}}}}), 400);
  expect(call("POST", "/tenants", admin_, {{"name", "x"}, {"plan", "basic"}, {"color", "red"}}), 400);
  auto none = call("GET", "/tenants/acme", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["WWW-Authenticate"], "Bearer");
  expect(call("GET", "/tenants/acme", "nfk_" + std::string(32, 'x')), 401);

  auto owner = expect(call("POST", "/tenants/acme/keys", admin_, {{"role", "owner"}, {"name", "founder"}}), 201);
  const auto owner_key = owner["key"].get<std::string>();
  auto dev = expect(call("POST", "/tenants/acme/keys", owner_key, {{"role", "developer"}, {"name", "ci"}}), 201);
  const auto dev_key = dev["key"].get<std::string>();
  auto other = expect(call("POST", "/tenants/globex/keys", admin_, {{"role", "owner"}}), 201);
  const auto globex_key = other["key"].get<std::string>();

  // Reading: own tenant yes (no key material shown), another tenant is 404, the list is admin only.
  auto doc = expect(call("GET", "/tenants/acme", dev_key), 200);
  EXPECT_EQ(doc["keys"].size(), 2u);
  EXPECT_EQ(doc.dump().find(owner_key), std::string::npos);
  expect(call("GET", "/tenants/globex", dev_key), 404);
  expect(call("GET", "/tenants/nope", dev_key), 404);
  expect(call("GET", "/tenants", dev_key), 403);
  EXPECT_EQ(expect(call("GET", "/tenants", admin_), 200)["items"].size(), 2u);

  // Permissions: 403 names the missing one; nobody grants more than they hold.
  auto denied = expect(call("POST", "/tenants/acme/keys", dev_key, {{"role", "viewer"}}), 403);
  EXPECT_NE(denied["error"]["message"].get<std::string>().find("keys:write"), std::string::npos);
  auto admin_key = expect(call("POST", "/tenants/acme/keys", owner_key, {{"role", "admin"}}), 201)["key"].get<std::string>();
  expect(call("POST", "/tenants/acme/keys", admin_key, {{"role", "owner"}}), 403);
  expect(call("POST", "/tenants/acme/keys", owner_key, {{"role", "wizard"}}), 400);
  expect(call("POST", "/tenants/acme/roles", admin_key, {{"name", "ci-bot"}, {"permissions", {"missions:read", "ledger:write"}}}), 201);
  expect(call("POST", "/tenants/acme/roles", admin_key, {{"name", "boss"}, {"permissions", {"tenants:write"}}}), 403);
  expect(call("POST", "/tenants/acme/roles", admin_key, {{"name", "viewer"}, {"permissions", {"missions:read"}}}), 409);
  expect(call("POST", "/tenants/acme/roles", admin_key, {{"name", "x"}, {"permissions", {"missions:fly"}}}), 400);
  auto bot = expect(call("POST", "/tenants/acme/keys", admin_key, {{"role", "ci-bot"}}), 201)["key"].get<std::string>();
  expect(call("GET", "/tenants/acme", bot), 403);  // ci-bot lacks tenants:read

  // Plan and quotas are the platform admin's; domains are the owner's.
  expect(call("PATCH", "/tenants/acme", owner_key, {{"plan", "enterprise"}}), 403);
  expect(call("PATCH", "/tenants/globex", owner_key, {{"domains", {"x.globex.test"}}}), 404);
  auto patched = expect(call("PATCH", "/tenants/acme", admin_, {{"plan", "enterprise"}, {"quotas", {{"eventsPerDay", 7}}}}), 200);
  EXPECT_EQ(patched["limits"]["eventsPerDay"], 7);
  EXPECT_EQ(patched["plan"], "enterprise");
  expect(call("PATCH", "/tenants/acme", owner_key, {{"domains", {"evidence.acme.test"}}}), 200);

  // Resolution by custom domain and subdomain; a key of another tenant on them is refused.
  expect(call("GET", "/tenants/acme", dev_key, nullptr, {{"Host", "evidence.acme.test"}}), 200);
  expect(call("GET", "/tenants/acme", dev_key, nullptr, {{"Host", "acme.nexus.test"}}), 200);
  expect(call("GET", "/tenants/acme", globex_key, nullptr, {{"Host", "evidence.acme.test"}}), 401);
  expect(call("GET", "/tenants/acme", "", nullptr, {{"X-API-Key", dev_key}}), 200);

  // Revocation takes effect on the next request.
  const auto dev_id = dev["keyId"].get<std::string>();
  expect(call("DELETE", "/tenants/acme/keys/" + dev_id, owner_key), 200);
  expect(call("GET", "/tenants/acme", dev_key), 401);
  expect(call("DELETE", "/tenants/acme/keys/k_nothere", owner_key), 404);

  // Suspension, then a restart: state and keys come back from the log; no second admin key is printed.
  expect(call("PATCH", "/tenants/globex", admin_, {{"status", "suspended"}}), 200);
  expect(call("GET", "/tenants/globex", globex_key), 403);
  http_.reset();
  ASSERT_EQ(srv_->stop(), 0);
  srv_ = std::make_unique<server>(config_, std::vector<std::string>{}, false);
  EXPECT_EQ(printed_admin_key(), "") << "the admin key is printed once, at the first start";
  http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
  EXPECT_TRUE(t::wait_until([&] { return call("GET", "/tenants/acme", owner_key).status == 200; }, 10s));
  expect(call("GET", "/tenants/acme", dev_key), 401);
  expect(call("GET", "/tenants", admin_), 200);
}

TEST_F(Tenancy, TheTenantCommandLine) {
  const auto server = "http://127.0.0.1:" + std::to_string(srv_->port());
  auto nf = [&](std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), t::nexus_forge_binary());
    args.insert(args.end(), {"--server", server});
    return t::run(args, env);
  };
  auto created = nf({"tenant", "create", "--key", admin_, "--name", "Acme", "--plan", "pro", "--id", "acme", "--domain", "ev.acme.test",
                     "--quota", "eventsPerDay=5", "--json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(json::parse(created.out)["limits"]["eventsPerDay"], 5);
  EXPECT_NE(nf({"tenant", "create", "--key", admin_, "--name", "X", "--quota", "eventsPerDay"}).err.find("NAME=LIMIT"), std::string::npos);
  auto key = nf({"tenant", "keys", "create", "acme", "--role", "developer", "--name", "ci", "--json"}, {"NF_API_KEY=" + admin_});
  ASSERT_EQ(key.exit_code, 0) << key.err;
  const auto k = json::parse(key.out);
  const auto dev = k["key"].get<std::string>();
  auto shown = nf({"tenant", "show", "acme", "--key", dev});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("eventsPerDay: 5"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("role developer"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("usage eventsToday: "), std::string::npos) << shown.out;
  auto listed = nf({"tenant", "list", "--key", dev});
  EXPECT_EQ(listed.exit_code, 1);
  EXPECT_NE(listed.err.find("HTTP 403"), std::string::npos) << listed.err;
  EXPECT_EQ(nf({"tenant", "list", "--key", admin_}).exit_code, 0);
  // Usage and audit: JSON, CSV and text.
  json usage;
  ASSERT_TRUE(t::wait_until([&] {
    auto u = nf({"tenant", "usage", "acme", "--key", dev, "--json"});
    usage = json::parse(u.out, nullptr, false);
    return u.exit_code == 0 && usage.is_object() && !usage["rows"].empty();
  }, 10s)) << usage.dump();
  EXPECT_EQ(usage["rows"][0]["metric"], "events_appended");
  auto csv = nf({"tenant", "usage", "acme", "--key", dev, "--csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')), "tenant_id,date,metric,quantity");
  EXPECT_NE(csv.out.find("acme,"), std::string::npos);
  EXPECT_NE(nf({"tenant", "usage", "acme", "--key", dev, "--period", "2026-13"}).err.find("YYYY-MM"), std::string::npos);
  auto audit_denied = nf({"tenant", "audit", "acme", "--key", dev});
  EXPECT_EQ(audit_denied.exit_code, 1);
  EXPECT_NE(audit_denied.err.find("audit:read"), std::string::npos) << audit_denied.err;
  json audit;
  ASSERT_TRUE(t::wait_until([&] {
    auto r = nf({"tenant", "audit", "acme", "--key", admin_, "--json"});
    audit = json::parse(r.out, nullptr, false);
    // Requests are audited in batches: wait for the usage reads above.
    return r.exit_code == 0 && audit.is_object() && audit.dump().find("/tenants/acme/usage") != std::string::npos;
  }, 10s)) << audit.dump();
  auto text = nf({"tenant", "audit", "acme", "--key", admin_, "--limit", "50"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("change tenancy.key_created"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("GET /tenants/acme/usage"), std::string::npos) << text.out;
  EXPECT_EQ(nf({"tenant", "keys", "revoke", "acme", k["keyId"].get<std::string>(), "--key", admin_}).exit_code, 0);
  auto after = nf({"tenant", "show", "acme", "--key", dev});
  EXPECT_EQ(after.exit_code, 1);
  EXPECT_NE(after.err.find("unknown or revoked API key"), std::string::npos) << after.err;
  EXPECT_NE(nf({"tenant", "show", "acme"}).err.find("NF_API_KEY"), std::string::npos);
  for (std::vector<std::string> help : {std::vector<std::string>{"tenant", "--help"}, {"tenant", "keys", "create", "--help"},
                                        {"tenant", "usage", "--help"}, {"tenant", "audit", "--help"}}) {
    help.insert(help.begin(), t::nexus_forge_binary());
    EXPECT_EQ(t::run(help).exit_code, 0);
  }
}

TEST_F(Tenancy, RequestsOverTheTenantsRateAre429WithRetryAfter) {
  expect(call("POST", "/tenants", admin_, {{"id", "slow"}, {"name", "Slow"}, {"plan", "basic"}, {"quotas", {{"requestsPerMinute", 5}}}}), 201);
  expect(call("POST", "/tenants", admin_, {{"id", "fast"}, {"name", "Fast"}, {"plan", "basic"}}), 201);
  const auto slow = expect(call("POST", "/tenants/slow/keys", admin_, {{"role", "owner"}}), 201)["key"].get<std::string>();
  const auto fast = expect(call("POST", "/tenants/fast/keys", admin_, {{"role", "owner"}}), 201)["key"].get<std::string>();
  for (int i = 0; i < 5; ++i) expect(call("GET", "/tenants/slow", slow), 200);
  auto limited = call("GET", "/tenants/slow", slow);
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.headers["Retry-After"], "12");
  EXPECT_NE(limited.body.find("requestsPerMinute"), std::string::npos);
  // A write over the limit appends nothing: the key does not exist afterwards.
  expect(call("POST", "/tenants/slow/keys", slow, {{"role", "viewer"}, {"name", "refused"}}), 429);
  EXPECT_EQ(expect(call("GET", "/tenants/slow", admin_), 200)["keys"].size(), 1u);
  for (int i = 0; i < 20; ++i) expect(call("GET", "/tenants/fast", fast), 200);
  // The slow tenant crossed 80 % (its last token but one) and 100 % of its per-minute quota: one
  // alert each for the day; the fast one (600 a minute) none.
  json doc;
  ASSERT_TRUE(t::wait_until([&] {
    doc = expect(call("GET", "/tenants/slow", admin_), 200);
    return doc.contains("alerts") && doc["alerts"].size() == 2;
  }, 10s)) << doc.dump();
  for (const auto& a : doc["alerts"]) EXPECT_EQ(a["quota"], "requestsPerMinute");
  EXPECT_EQ(doc["alerts"][0]["threshold"].get<int>() + doc["alerts"][1]["threshold"].get<int>(), 180);
  EXPECT_TRUE(expect(call("GET", "/tenants/fast", admin_), 200)["alerts"].empty());
  // Raising the limit applies to the next request.
  expect(call("PATCH", "/tenants/slow", admin_, {{"quotas", {{"requestsPerMinute", -1}}}}), 200);
  expect(call("GET", "/tenants/slow", slow), 200);
}

TEST_F(Tenancy, UsageIsMeteredPerTenantPerDayAndExportedAsJsonAndCsv) {
  expect(call("POST", "/tenants", admin_, {{"id", "meter"}, {"name", "Meter"}, {"plan", "basic"}}), 201);
  expect(call("POST", "/tenants", admin_, {{"id", "quiet"}, {"name", "Quiet"}, {"plan", "basic"}}), 201);
  const auto owner = expect(call("POST", "/tenants/meter/keys", admin_, {{"role", "owner"}}), 201)["key"].get<std::string>();
  expect(call("POST", "/tenants/meter/keys", owner, {{"role", "viewer"}}), 201);
  expect(call("POST", "/tenants/meter/roles", owner, {{"name", "bot"}, {"permissions", {"missions:read"}}}), 201);
  // Four events name tenant "meter": its creation, two keys, one role.
  json doc;
  ASSERT_TRUE(t::wait_until([&] {
    doc = expect(call("GET", "/tenants/meter", owner), 200);
    return doc.contains("usage") && doc["usage"]["eventsToday"] == 4;
  }, 10s)) << doc.dump();
  EXPECT_GT(doc["usage"]["bytesToday"].get<std::int64_t>(), 0);
  EXPECT_EQ(doc["usage"]["storedBytes"], doc["usage"]["bytesToday"]);
  const auto date = doc["usage"]["date"].get<std::string>();
  // The gateway meters the tenant's requests too (written in batches, so they show shortly after).
  json month;
  ASSERT_TRUE(t::wait_until([&] {
    month = expect(call("GET", "/tenants/meter/usage?period=" + date.substr(0, 7), owner), 200);
    return month["rows"].size() == 3u && month["rows"][2]["quantity"].get<std::int64_t>() >= 3;
  }, 10s)) << month.dump();
  EXPECT_EQ(month["rows"][0], (json{{"date", date}, {"metric", "events_appended"}, {"quantity", 4}}));
  EXPECT_EQ(month["rows"][2]["metric"], "api_requests");
  auto csv = call("GET", "/tenants/meter/usage?period=" + date.substr(0, 7) + "&format=csv", owner);
  EXPECT_EQ(csv.status, 200);
  EXPECT_EQ(csv.headers["Content-Type"], "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body.substr(0, csv.body.find('\n')), "tenant_id,date,metric,quantity");
  EXPECT_NE(csv.body.find("meter," + date + ",events_appended,4\n"), std::string::npos) << csv.body;
  EXPECT_NE(csv.body.find("meter," + date + ",api_requests,"), std::string::npos) << csv.body;
  EXPECT_TRUE(expect(call("GET", "/tenants/meter/usage?period=1999-01", owner), 200)["rows"].empty());
  expect(call("GET", "/tenants/meter/usage?period=2026-13", owner), 400);
  expect(call("GET", "/tenants/meter/usage?format=xml", owner), 400);
  expect(call("GET", "/tenants/quiet/usage", owner), 404);
  EXPECT_EQ(expect(call("GET", "/tenants/quiet", admin_), 200)["usage"]["eventsToday"], 1);
}

TEST_F(Tenancy, EveryAuthenticatedRequestAndEveryChangeIsAudited) {
  expect(call("POST", "/tenants", admin_, {{"id", "audited"}, {"name", "Audited"}, {"plan", "pro"}}), 201);
  expect(call("POST", "/tenants", admin_, {{"id", "elsewhere"}, {"name", "Elsewhere"}, {"plan", "pro"}}), 201);
  const auto owner = expect(call("POST", "/tenants/audited/keys", admin_, {{"role", "owner"}}), 201);
  const auto owner_key = owner["key"].get<std::string>();
  const auto auditor = expect(call("POST", "/tenants/audited/keys", owner_key, {{"role", "auditor"}}), 201)["key"].get<std::string>();
  const auto dev = expect(call("POST", "/tenants/audited/keys", owner_key, {{"role", "developer"}}), 201)["key"].get<std::string>();
  expect(call("POST", "/tenants/audited/keys", dev, {{"role", "viewer"}}), 403);
  const auto other = expect(call("POST", "/tenants/elsewhere/keys", admin_, {{"role", "owner"}}), 201)["key"].get<std::string>();

  json log;
  ASSERT_TRUE(t::wait_until([&] {
    log = expect(call("GET", "/tenants/audited/audit", auditor), 200);
    int requests = 0;
    for (const auto& r : log["items"]) requests += r["kind"] == "request";
    return requests >= 3;
  }, 10s)) << log.dump();
  bool saw_denied = false, saw_key_change = false;
  for (const auto& r : log["items"]) {
    if (r["kind"] == "request" && r["status"] == 403) {
      saw_denied = true;
      EXPECT_EQ(r["route"], "/tenants/{id}/keys");
      EXPECT_EQ(r["method"], "POST");
      EXPECT_EQ(r["roles"], json::array({"developer"}));
      EXPECT_EQ(r["principal"].get<std::string>().rfind("key:k_", 0), 0u);
    }
    if (r["kind"] == "change" && r["type"] == "tenancy.key_created") {
      saw_key_change = true;
      EXPECT_FALSE(r["event"].contains("digest")) << "no key digests in the audit view";
    }
    EXPECT_EQ(r.dump().find("elsewhere"), std::string::npos) << "only this tenant's records";
  }
  EXPECT_TRUE(saw_denied) << log.dump();
  EXPECT_TRUE(saw_key_change) << log.dump();
  // Oldest first; a time window narrows it.
  for (std::size_t i = 1; i < log["items"].size(); ++i) EXPECT_LE(log["items"][i - 1]["at"], log["items"][i]["at"]);
  EXPECT_TRUE(expect(call("GET", "/tenants/audited/audit?to=1", auditor), 200)["items"].empty());
  EXPECT_EQ(expect(call("GET", "/tenants/audited/audit?limit=2", auditor), 200)["items"].size(), 2u);
  expect(call("GET", "/tenants/audited/audit?from=yesterday", auditor), 400);
  expect(call("GET", "/tenants/audited/audit", dev), 403);
  expect(call("GET", "/tenants/audited/audit", other), 404);
  expect(call("GET", "/tenants/audited/audit", admin_), 200);
}

}  // namespace

