// Tenancy policy: plan and quota arithmetic, token buckets on an injected clock, the RBAC matrix,
// API keys and tenant-context resolution.
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "actors/tenancy/directory.h"
#include "actors/tenancy/plans.h"
#include "actors/tenancy/rbac.h"
#include "actors/tenancy/token_bucket.h"
#include "projections/usage/usage.h"

using namespace nf::tenancy;
using nlohmann::json;

TEST(Plans, DefaultsOverridesAndStrictParsing) {
  const auto basic = plan_defaults(plan::basic);
  const auto pro = plan_defaults(plan::pro);
  for (auto q : kQuotas) EXPECT_LT(basic[q], pro[q]) << name(q);
  auto o = parse_overrides(json{{"eventsPerDay", 50}, {"memoryMib", -1}}).value();
  auto l = effective(plan::basic, o);
  EXPECT_EQ(l[quota::events_per_day], 50);
  EXPECT_EQ(l[quota::memory_mib], -1);
  EXPECT_EQ(l[quota::stored_bytes], basic[quota::stored_bytes]);
  EXPECT_EQ(to_json(l)["eventsPerDay"], 50);
  auto bad = parse_overrides(json{{"eventsPerWeek", 1}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("quotas.eventsPerWeek"), std::string::npos);
  EXPECT_FALSE(parse_overrides(json{{"storedBytes", -2}}));
  EXPECT_FALSE(parse_overrides(json{{"storedBytes", 1.5}}));
  EXPECT_FALSE(parse_overrides(json::array()));
  EXPECT_FALSE(parse_plan("gold"));
  EXPECT_EQ(parse_plan("enterprise").value(), plan::enterprise);
}

TEST(Plans, AdmissionAndAlertThresholds) {
  EXPECT_TRUE(admit(10, 9, 1).allowed);
  EXPECT_FALSE(admit(10, 9, 2).allowed);
  EXPECT_FALSE(admit(10, 0, 11).allowed);
  EXPECT_TRUE(admit(-1, 1'000'000, 1'000'000).allowed) << "-1 is unlimited";
  EXPECT_FALSE(admit(0, 0, 1).allowed);
  EXPECT_TRUE(admit(INT64_MAX, INT64_MAX - 1, 1).allowed) << "no overflow at the top";
  EXPECT_FALSE(admit(INT64_MAX, INT64_MAX, 1).allowed);
  auto a = admit(100, 60, 50);
  EXPECT_EQ(a.limit, 100);
  EXPECT_EQ(a.used, 60);
  EXPECT_EQ(a.requested, 50);

  EXPECT_EQ(crossed(100, 79, 80), (std::vector<int>{80}));
  EXPECT_EQ(crossed(100, 80, 99), (std::vector<int>{}));
  EXPECT_EQ(crossed(100, 50, 100), (std::vector<int>{80, 100}));
  EXPECT_EQ(crossed(100, 99, 150), (std::vector<int>{100}));
  EXPECT_EQ(crossed(7, 5, 6), (std::vector<int>{80})) << "80% of 7 is 5.6: the 6th unit crosses it";
  EXPECT_EQ(crossed(-1, 0, 1'000), (std::vector<int>{}));
  EXPECT_EQ(crossed(10, 10, 5), (std::vector<int>{})) << "going down crosses nothing";
  EXPECT_EQ(crossed(INT64_MAX, 0, INT64_MAX), (std::vector<int>{80, 100}));
}

TEST(TokenBucket, BurstsRefillsAndSaysWhenToRetry) {
  std::int64_t now = 1'000'000;
  token_bucket b(60, now);  // one per second, bursts of 60
  for (int i = 0; i < 60; ++i) {
    const auto t = b.take(now);
    ASSERT_TRUE(t.allowed) << i;
    EXPECT_EQ(t.remaining, 59 - i) << "whole tokens left after this one";
  }
  auto d = b.take(now);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 1000);
  now += 999;
  EXPECT_FALSE(b.take(now).allowed);
  EXPECT_EQ(b.take(now).retry_after_ms, 1);
  now += 1;
  EXPECT_TRUE(b.take(now).allowed);
  EXPECT_FALSE(b.take(now).allowed);
  now += 10 * 60'000;  // a long idle period refills to the cap, not beyond
  int n = 0;
  while (b.take(now).allowed) ++n;
  EXPECT_EQ(n, 60);
  now -= 5'000;  // a clock stepping back adds nothing
  EXPECT_FALSE(b.take(now).allowed);

  token_bucket unlimited(-1, 0);
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(unlimited.take(0).allowed);
  EXPECT_EQ(unlimited.take(0).remaining, -1);
  token_bucket zero(0, 0);
  EXPECT_FALSE(zero.take(0).allowed);

  token_bucket fast(6000, 0);  // 100 per second: 10 ms per token
  for (int i = 0; i < 6000; ++i) ASSERT_TRUE(fast.take(0).allowed);
  EXPECT_EQ(fast.take(0).retry_after_ms, 10);
  fast.set_rate(60, 0);
  EXPECT_EQ(fast.take(0).retry_after_ms, 1000) << "a lower rate keeps the empty bucket empty";
}

TEST(RateLimiter, OneBucketPerTenantFollowingItsLimit) {
  rate_limiter l;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(l.take("a", 3, 0).allowed);
  auto d = l.take("a", 3, 0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ms, 20'000);
  EXPECT_TRUE(l.take("b", 3, 0).allowed) << "tenants do not share a bucket";
  EXPECT_TRUE(l.take("a", -1, 0).allowed) << "an unlimited tenant is never refused";
  EXPECT_FALSE(l.take("a", 3, 0).allowed) << "back to the limit, the bucket is still empty";
  EXPECT_TRUE(l.take("a", 3, 20'000).allowed);
}

TEST(Rbac, BuiltInMatrixAndCustomRoles) {
  roles r;
  struct row {
    const char* role;
    const char* perm;
    bool allowed;
  };
  for (const auto& [role, perm, allowed] : std::vector<row>{
           {"viewer", "missions:read", true},        {"viewer", "missions:write", false},  {"viewer", "audit:read", false},
           {"auditor", "audit:read", true},          {"auditor", "missions:write", false}, {"developer", "missions:write", true},
           {"developer", "marketplace:publish", true}, {"developer", "keys:write", false}, {"developer", "audit:read", false},
           {"admin", "keys:write", true},            {"admin", "roles:write", true},       {"admin", "tenants:write", false},
           {"owner", "tenants:write", true},         {"owner", "tenants:create", false},   {"nobody", "missions:read", false}}) {
    auto c = r.check(role, perm);
    EXPECT_EQ(static_cast<bool>(c), allowed) << role << " " << perm;
    if (!allowed) {
      EXPECT_EQ(c.error().code, nf::errc::permission_denied);
      if (builtin_role(role)) {
        EXPECT_NE(c.error().message.find(perm), std::string::npos) << "403 names the missing permission";
      }
    }
  }
  auto perms = parse_permissions({"missions:read", "ledger:write"}).value();
  ASSERT_TRUE(r.define("ci-bot", perms));
  EXPECT_TRUE(r.check("ci-bot", "ledger:write"));
  EXPECT_FALSE(r.check("ci-bot", "missions:write"));
  EXPECT_EQ(r.define("admin", perms).error().code, nf::errc::conflict);
  EXPECT_FALSE(r.define("Bad Name", perms));
  EXPECT_FALSE(parse_permissions({"missions:fly"}));
  EXPECT_FALSE(parse_permissions({"tenants:create"})) << "only the platform admin creates tenants";
  EXPECT_FALSE(parse_permissions({}));
  for (const auto& p : permission_catalogue()) EXPECT_TRUE(known_permission(p));
}

// "events:write@<topic pattern>": the route-level check passes, and the topic decides.
TEST(Roles, AScopedGrantHoldsItsPermissionForMatchingTopicsOnly) {
  roles r;
  auto perms = parse_permissions({"events:read", "events:write@orders.*", "events:write@audit"});
  ASSERT_TRUE(perms) << perms.error().message;
  ASSERT_TRUE(r.define("orders-bot", *perms));
  EXPECT_TRUE(r.check("orders-bot", "events:write"));
  EXPECT_FALSE(r.check("orders-bot", "missions:write"));
  EXPECT_TRUE(r.allows("orders-bot", "events:write", "orders.eu"));
  EXPECT_TRUE(r.allows("orders-bot", "events:write", "audit"));
  EXPECT_FALSE(r.allows("orders-bot", "events:write", "audit.x"));
  EXPECT_FALSE(r.allows("orders-bot", "events:write", "invoices"));
  EXPECT_TRUE(r.allows("developer", "events:write", "invoices")) << "an unscoped grant reaches every topic";
  EXPECT_FALSE(r.allows("viewer", "events:write", "orders.eu"));
  for (const char* bad : {"events:read@orders", "events:write@", "events:write@a b", "missions:write@x"}) {
    auto p = parse_permissions({bad});
    ASSERT_FALSE(p) << bad;
    EXPECT_NE(p.error().message.find(bad), std::string::npos) << p.error().message;
  }
  EXPECT_FALSE(r.define("bad", {"events:write@a b"}));
}

TEST(ApiKeys, AreRandomShownOnceAndStoredAsDigests) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto k = issue_key();
    ASSERT_TRUE(looks_like_key(k.secret)) << k.secret;
    EXPECT_EQ(k.digest, key_digest(k.secret));
    EXPECT_EQ(k.digest.size(), 64u);
    EXPECT_EQ(k.key_id, "k_" + k.digest.substr(0, 16));
    EXPECT_EQ(k.secret.find(k.digest), std::string::npos);
    EXPECT_TRUE(seen.insert(k.secret).second);
  }
}

class Directory : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.put_tenant("acme", {"evidence.acme.example"});
    dir_.put_tenant("globex", {});
    dir_.put_tenant("frozen", {}, false);
    for (auto* t : {"acme", "globex", "frozen"}) {
      keys_[t] = issue_key();
      dir_.put_key(keys_[t].digest, t, "developer", keys_[t].key_id);
    }
    admin_ = issue_key();
    dir_.set_platform_admin(admin_.digest);
  }
  nf::result<context> resolve(std::string host, std::string auth, std::string api_key = "") {
    return dir_.resolve({host, auth, api_key}, 0);
  }
  directory dir_{"nexus.example"};
  std::map<std::string, issued_key> keys_;
  issued_key admin_;
};

TEST_F(Directory, ResolvesByDomainKeyAndSubdomainAndRefusesMismatches) {
  auto c = resolve("evidence.acme.example:443", "Bearer " + keys_["acme"].secret);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->tenant, "acme");
  EXPECT_EQ(c->roles, std::vector<std::string>{"developer"});
  EXPECT_EQ(c->principal, "key:" + keys_["acme"].key_id);
  EXPECT_EQ(resolve("api.other.example", "", keys_["globex"].secret)->tenant, "globex");
  EXPECT_EQ(resolve("globex.nexus.example", "Bearer " + keys_["globex"].secret)->tenant, "globex");

  auto mismatch = resolve("EVIDENCE.acme.example", "Bearer " + keys_["globex"].secret);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, nf::errc::unauthenticated);
  EXPECT_FALSE(resolve("acme.nexus.example", "Bearer " + keys_["globex"].secret)) << "subdomain of another tenant";
  auto none = resolve("evidence.acme.example", "");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no credentials"), std::string::npos);
  EXPECT_FALSE(resolve("", "Bearer nfk_" + std::string(32, 'A')));
  EXPECT_FALSE(resolve("", "Basic dXNlcjpwdw=="));
  EXPECT_FALSE(resolve("", "Bearer not.a.jwt")) << "no JWKS configured";
  EXPECT_EQ(resolve("", "Bearer " + keys_["frozen"].secret).error().code, nf::errc::permission_denied);

  dir_.revoke_key(keys_["acme"].digest);
  EXPECT_FALSE(resolve("", "Bearer " + keys_["acme"].secret)) << "revocation takes effect on the next request";

  auto admin = resolve("", "Bearer " + admin_.secret);
  ASSERT_TRUE(admin);
  EXPECT_TRUE(admin->platform_admin);
  EXPECT_EQ(admin->tenant, "");
  EXPECT_EQ(resolve("globex.nexus.example", "", admin_.secret)->tenant, "globex") << "the admin acts in the tenant its host names";
}

TEST(DirectoryContext, LimitsAndCustomRolesTravelWithIt) {
  directory dir("nexus.example");
  auto quota = plan_defaults(plan::basic);
  quota[nf::tenancy::quota::events_per_day] = 7;
  directory::tenant_spec acme{"acme", {}, true, quota, {}};
  ASSERT_TRUE(acme.custom_roles.define("reader-bot", {"missions:read", "events:read"}));
  const auto bot = issue_key(), viewer = issue_key(), admin = issue_key();
  dir.replace({acme, {"globex", {}, true, unlimited(), {}}},
              {{bot.digest, "acme", "reader-bot", bot.key_id}, {viewer.digest, "acme", "viewer", viewer.key_id}});
  dir.set_platform_admin(admin.digest);
  auto c = dir.resolve({"", "Bearer " + bot.secret, ""}, 0);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->quota[nf::tenancy::quota::events_per_day], 7);
  EXPECT_EQ(c->quota[nf::tenancy::quota::requests_per_minute], 600) << "the plan's default where nothing overrides it";
  EXPECT_TRUE(c->holds("missions:read"));
  EXPECT_TRUE(c->holds("events:read"));
  EXPECT_FALSE(c->holds("missions:write"));
  EXPECT_FALSE(c->holds("ledger:read"));
  EXPECT_TRUE(c->sees("acme"));
  EXPECT_FALSE(c->sees("globex"));
  EXPECT_FALSE(c->sees("")) << "platform events are not a tenant's";
  auto v = dir.resolve({"", "", viewer.secret}, 0);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->holds("ledger:read"));
  EXPECT_FALSE(v->holds("reservations:write"));
  auto a = dir.resolve({"", "Bearer " + admin.secret, ""}, 0);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->holds("tenants:create"));
  EXPECT_TRUE(a->sees("globex"));
  EXPECT_EQ(a->quota, unlimited());
}

TEST(Usage, UtcDaysAndPeriods) {
  EXPECT_EQ(nf::usage::utc_date(0), "1970-01-01");
  EXPECT_EQ(nf::usage::utc_date(1'700'000'000'000), "2023-11-14");
  EXPECT_EQ(nf::usage::utc_date(951'868'799'999), "2000-02-29") << "the last ms of a leap day";
  EXPECT_EQ(nf::usage::utc_date(951'868'800'000), "2000-03-01");
  EXPECT_TRUE(nf::usage::valid_period("2026-11"));
  for (const char* bad : {"2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01"}) EXPECT_FALSE(nf::usage::valid_period(bad)) << bad;
}
