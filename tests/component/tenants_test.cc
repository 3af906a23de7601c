// The tenants projection on the embedded bus feeding the gateway's directory: tenants, domains,
// keys, revocation and custom roles, folded exactly once and visible in the directory when the
// feed says the event is applied.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "actors/tenancy/directory_sync.h"
#include "actors/tenancy/reservation_owner.h"
#include "core/bus/embedded.h"
#include "core/command/owner.h"
#include "core/event/codec.h"
#include "projections/tenants/tenants.h"
#include "projections/usage/usage.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/owner_context.h"
#include "tests/support/support.h"
#include "tenancy.pb.h"

namespace {

using namespace nf;
using nlohmann::json;
using namespace std::chrono_literals;

class Tenants : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = test::open_test_bus(dir_.path() / "bus");
    ASSERT_TRUE(bus_->create_topic(topic_name{tenants::kTenantsTopic}, {1, -1, -1}));
    store_ = std::move(projection::store::open({(dir_.path() / "store").string(), false}).value());
  }

  bus::append_result append(const std::string& type, const json& payload) {
    event::new_event e;
    e.type = type;
    e.key = payload.value("tenantId", "");
    e.payload_json = payload.dump();
    auto rec = event::to_record(event::build(e).value());
    return bus_->append(topic_name{tenants::kTenantsTopic}, std::span<const bus::record>(&rec, 1)).value()[0];
  }

  test::temp_dir dir_;
  std::unique_ptr<bus::embedded_bus> bus_;
  std::unique_ptr<projection::store> store_;
  tenants::tenants_projection proj_;
};

TEST_F(Tenants, FoldIntoDocumentsAndTheDirectory) {
  tenancy::directory dir("nexus.example");
  projection::feed feed(*store_, proj_, *bus_);
  tenants::tenants_view view(*store_, proj_);
  tenancy::directory_sync sync(*store_, proj_, dir);
  // After each batch only the tenants it touched are reloaded.
  feed.on_applied([&] { ASSERT_TRUE(sync.applied()); });
  ASSERT_TRUE(feed.start());
  ASSERT_TRUE(sync.load_all());

  append("tenancy.tenant_created", {{"tenantId", "acme"}, {"name", "Acme"}, {"plan", "pro"}, {"domains", {"evidence.acme.example"}}});
  append("tenancy.tenant_created", {{"tenantId", "acme"}, {"name", "Imposter"}, {"plan", "basic"}});  // the first one stands
  const auto key = tenancy::issue_key();
  auto pos = append("tenancy.key_created", {{"tenantId", "acme"}, {"keyId", key.key_id}, {"digest", key.digest}, {"role", "developer"}, {"name", "ci"}});
  ASSERT_TRUE(feed.wait_applied({topic_name{tenants::kTenantsTopic}, pos.partition}, pos.off, std::chrono::seconds(10)));
  // Visible in the directory as soon as the feed reports the position.
  auto ctx = dir.resolve({"evidence.acme.example", "Bearer " + key.secret, ""}, 0);
  ASSERT_TRUE(ctx) << ctx.error().message;
  EXPECT_EQ(ctx->tenant, "acme");
  EXPECT_EQ(ctx->roles, std::vector<std::string>{"developer"});

  append("tenancy.tenant_updated", {{"tenantId", "acme"}, {"plan", "enterprise"}, {"quotas", {{"eventsPerDay", 5}}}});
  append("tenancy.role_defined", {{"tenantId", "acme"}, {"role", "ci-bot"}, {"permissions", {"missions:read", "ledger:write"}}});
  // Another tenant with its own key; then acme's revocation and domain change leave it alone.
  append("tenancy.tenant_created", {{"tenantId", "globex"}, {"name", "Globex"}, {"plan", "basic"}, {"domains", {"ev.globex.example"}}});
  const auto gkey = tenancy::issue_key();
  append("tenancy.key_created", {{"tenantId", "globex"}, {"keyId", gkey.key_id}, {"digest", gkey.digest}, {"role", "viewer"}, {"name", ""}});
  append("tenancy.tenant_updated", {{"tenantId", "acme"}, {"domains", {"new.acme.example"}}, {"domainsSet", true}});
  pos = append("tenancy.key_revoked", {{"tenantId", "acme"}, {"keyId", key.key_id}});
  ASSERT_TRUE(feed.wait_applied({topic_name{tenants::kTenantsTopic}, pos.partition}, pos.off, std::chrono::seconds(10)));
  EXPECT_FALSE(dir.resolve({"", "Bearer " + key.secret, ""}, 0)) << "revoked on the next request";
  auto g = dir.resolve({"ev.globex.example", "Bearer " + gkey.secret, ""}, 0);
  ASSERT_TRUE(g) << g.error().message;
  EXPECT_EQ(g->tenant, "globex");
  EXPECT_EQ(dir.limits_of("acme")->value[0], 5) << "acme's new eventsPerDay";
  auto on_old = dir.resolve({"evidence.acme.example", "Bearer " + gkey.secret, ""}, 0);
  ASSERT_TRUE(on_old) << "the old domain no longer names acme: " << on_old.error().message;
  EXPECT_EQ(on_old->tenant, "globex");
  auto on_new = dir.resolve({"new.acme.example", "Bearer " + gkey.secret, ""}, 0);
  EXPECT_FALSE(on_new) << "the new domain names acme, whose host refuses globex's key";
  // A fresh directory loaded in full equals the one kept up to date incrementally.
  tenancy::directory fresh("nexus.example");
  ASSERT_TRUE(tenancy::load_into(view, fresh));
  EXPECT_EQ(fresh.tenants(), dir.tenants());
  EXPECT_EQ(fresh.keys(), dir.keys());

  auto doc = view.get("acme").value();
  ASSERT_TRUE(doc);
  EXPECT_EQ((*doc)["name"], "Acme");
  EXPECT_EQ((*doc)["plan"], "enterprise");
  EXPECT_EQ((*doc)["quotas"]["eventsPerDay"], 5);
  EXPECT_TRUE((*doc)["keys"][key.key_id].contains("revokedAt"));
  EXPECT_EQ((*doc).dump().find(key.digest), std::string::npos) << "the document never shows a key digest";
  auto roles = tenancy::roles_of(view, "acme").value();
  EXPECT_TRUE(roles.check("ci-bot", "ledger:write"));
  EXPECT_FALSE(roles.check("ci-bot", "missions:write"));
  feed.stop();

  // An event for a tenant that does not exist stops the projection with the position.
  append("tenancy.key_revoked", {{"tenantId", "ghost"}, {"keyId", "k_1"}});
  projection::runner run(*store_, proj_, *bus_);
  auto r = run.catch_up();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("tenant 'ghost' does not exist"), std::string::npos) << r.error().message;
}

TEST_F(Tenants, UsageCountsEveryTopicOnceIncludingTopicsCreatedLater) {
  usage::usage_projection proj;
  usage::usage_view view(*store_, proj);
  ASSERT_TRUE(bus_->create_topic(topic_name{"a.events"}, {2, -1, -1}));
  auto put = [&](const std::string& topic, const std::string& tenant, int n) {
    for (int i = 0; i < n; ++i) {
      event::new_event e;
      e.type = "test.happened";
      e.key = "k" + std::to_string(i);
      e.tenant = tenant;
      e.payload_json = "{}";
      auto rec = event::to_record(event::build(e).value());
      rec.timestamp_ms = 1'700'000'000'000;  // 2023-11-14
      ASSERT_TRUE(bus_->append(topic_name{topic}, std::span<const bus::record>(&rec, 1)));
    }
  };
  put("a.events", "acme", 5);
  put("a.events", "", 3);  // no tenant: not metered
  put("a.events", "globex", 2);
  {
    projection::feed feed(*store_, proj, *bus_);
    ASSERT_TRUE(feed.start());
    ASSERT_TRUE(test::wait_until([&] { return view.day(tenant_id{"acme"}, "2023-11-14").value().events == 5; }));
    // A topic created while the feed runs is picked up.
    ASSERT_TRUE(bus_->create_topic(topic_name{"b.events"}, {1, -1, -1}));
    put("b.events", "acme", 4);
    EXPECT_TRUE(test::wait_until([&] { return view.day(tenant_id{"acme"}, "2023-11-14").value().events == 9; }));
  }
  // A runner started again from the committed offsets counts nothing twice.
  projection::runner run(*store_, proj, *bus_);
  ASSERT_TRUE(run.catch_up());
  auto acme = view.day(tenant_id{"acme"}, "2023-11-14").value();
  EXPECT_EQ(acme.events, 9);
  EXPECT_EQ(view.day(tenant_id{"globex"}, "2023-11-14").value().events, 2);
  EXPECT_EQ(view.stored_bytes(tenant_id{"acme"}).value(), acme.bytes);
  auto month = view.month(tenant_id{"acme"}, "2023-11").value();
  ASSERT_EQ(month.size(), 1u);
  EXPECT_EQ(month[0].date, "2023-11-14");
  EXPECT_TRUE(view.month(tenant_id{"acme"}, "2023-12").value().empty());
}

TEST_F(Tenants, UsageFoldsMeteredRequestsAndGivesEachAlertOnce) {
  usage::usage_projection proj;
  usage::usage_view view(*store_, proj);
  ASSERT_TRUE(bus_->create_topic(topic_name{usage::kUsageTopic}, {1, -1, -1}));
  auto put = [&](const std::string& type, const json& payload, const std::string& id = "") {
    event::new_event e;
    e.type = type;
    e.key = "acme";
    e.tenant = "acme";
    e.payload_json = payload.dump();
    if (!id.empty()) e.id = event::event_id::parse(id).value();
    auto rec = event::to_record(event::build(e).value());
    ASSERT_TRUE(bus_->append(topic_name{usage::kUsageTopic}, std::span<const bus::record>(&rec, 1)));
  };
  put("tenancy.requests_metered", {{"tenantId", "acme"}, {"date", "2026-11-29"}, {"requests", 40}});
  put("tenancy.requests_metered", {{"tenantId", "acme"}, {"date", "2026-11-29"}, {"requests", 2}});
  put("tenancy.requests_metered", {{"tenantId", "acme"}, {"date", "2026-11-30"}, {"requests", 5}});
  const json alert{{"tenantId", "acme"}, {"quota", "eventsPerDay"}, {"threshold", 80}, {"period", "2026-11-29"}, {"used", 8}, {"limit", 10}};
  put("tenancy.usage_alert", alert);
  json again = alert;
  again["used"] = 9;
  put("tenancy.usage_alert", again);  // a second writer's copy: the first one stands
  put("tenancy.quota_exceeded", {{"tenantId", "acme"}, {"quota", "eventsPerDay"}, {"limit", 10}, {"used", 10}, {"requested", 1}, {"route", "/missions"}});
  projection::runner run(*store_, proj, *bus_);
  ASSERT_TRUE(run.catch_up());
  auto month = view.month(tenant_id{"acme"}, "2026-11").value();
  ASSERT_EQ(month.size(), 2u);
  EXPECT_EQ(month[0].requests, 42);
  EXPECT_EQ(month[1].requests, 5);
  EXPECT_EQ(month[0].events, 0) << "the platform's records about a tenant are not its usage";
  EXPECT_EQ(view.stored_bytes(tenant_id{"acme"}).value(), 0);
  auto alerts = view.alerts(tenant_id{"acme"}, "2026-11").value();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["used"], 8);
  EXPECT_TRUE(view.alerted(tenant_id{"acme"}, "2026-11-29", "eventsPerDay", 80).value());
  EXPECT_FALSE(view.alerted(tenant_id{"acme"}, "2026-11-29", "eventsPerDay", 100).value());
  EXPECT_TRUE(view.alerts(tenant_id{"acme"}, "2026-12").value().empty());
  auto w = view.for_writes(tenant_id{"acme"}, "2026-11-29").value();
  EXPECT_EQ(w.events_today, 0);
}

}  // namespace

// A command handed to the tenant's owner again (its commit was lost to a rebalance or a crash)
// is not decided twice: no second outcome, so the tenant's version (its ETag) does not move.
// Before, an unconditional change or a reservation was appended again under the same id, and a
// conditional change racing it was refused against a version nothing had changed.
TEST_F(Tenants, AnOwnerHandedACommandAgainAppendsNoSecondOutcomeAndTheVersionHolds) {
  const topic_name commands{tenancy::kCommandsTopic}, out{tenants::kTenantsTopic};
  ASSERT_TRUE(bus_->create_topic(commands, {1, -1, -1}));
  append("tenancy.tenant_created", {{"tenantId", "acme"}, {"name", "Acme"}, {"plan", "basic"}});
  // Appends a command for acme and returns it as the owner's consumer reads it.
  auto submit = [&](const char* type, const google::protobuf::Message& payload) {
    event::new_event e;
    e.type = type;
    e.key = "acme";
    e.tenant = "acme";
    e.message = &payload;
    auto rec = event::to_record(event::build(e).value());
    const auto at = bus_->append(commands, std::span<const bus::record>(&rec, 1)).value()[0];
    return test::read_topic(*bus_, commands.get()).at(static_cast<std::size_t>(at.off.get()));
  };
  auto command = [&](const std::string& type, const google::protobuf::Message& change, std::optional<std::int64_t> expected) {
    events::TenantChangeRequested req;
    req.set_tenant_id("acme");
    req.set_type(type);
    req.mutable_change()->PackFrom(change);
    if (expected) {
      req.set_conditional(true);
      req.set_expected_version(*expected);
    }
    return submit(tenancy::kChangeRequested, req);
  };
  auto reservation = [&](const std::string& id) {
    events::ReservationMade req;
    req.set_tenant_id("acme");
    req.set_reservation_id(id);
    req.set_kind("concurrentRuns");
    req.set_amount(1);
    return submit(tenancy::kReservationRequested, req);
  };
  events::TenantUpdated pro;
  pro.set_tenant_id("acme");
  pro.set_plan("pro");
  // The owner handles a partition's commands in log order, as the actor runtime hands them over.
  const auto upgrade = command("tenancy.tenant_updated", pro, 1);
  const auto anyhow = command("tenancy.tenant_updated", pro, std::nullopt);
  const auto reserve = reservation("r-1");
  const auto stale = command("tenancy.tenant_updated", pro, 1);

  // One instance's owner, as the tenancy feature wires it; `handle` hands it a command.
  struct instance {
    std::unique_ptr<projection::store> st;
    std::unique_ptr<projection::feed> feed;
    std::unique_ptr<command::single_writer> writer;
    std::unique_ptr<tenancy::reservation_owner> owner;
  };
  tenants::tenants_view view(*store_, proj_);
  auto start = [&](instance& i, projection::store& st) {
    i.feed = std::make_unique<projection::feed>(st, proj_, *bus_);
    ASSERT_TRUE(i.feed->start());
    i.writer = std::make_unique<command::single_writer>(*bus_, "reservation_owner", "local", command::owned_state{st, proj_, *i.feed}, 5s);
    i.owner = std::make_unique<tenancy::reservation_owner>(*i.writer, tenants::tenants_view(st, proj_));
  };
  test::owner_context ctx("reservation_owner");
  auto handle = [&](instance& i, const bus::message& m) {
    ctx.input = &m;
    auto r = i.owner->handle(m, ctx);
    EXPECT_TRUE(r) << describe(r.error());
  };
  auto end = [&] { return bus_->end_offset({out, partition_id{0}}).value().get(); };
  // The tenant's version once `i`'s read model has applied the whole partition.
  auto settled_version = [&](instance& i, projection::store& st) {
    EXPECT_TRUE(i.feed->wait_applied({out, partition_id{0}}, offset{end() - 1}, 10s));
    return tenants::tenants_view(st, proj_).version("acme").value();
  };

  instance a;
  start(a, *store_);
  handle(a, upgrade);
  const auto after_first = end();
  EXPECT_EQ(settled_version(a, *store_), 2);
  // The same command again, three times: nothing is appended, the version holds.
  for (int i = 0; i < 3; ++i) handle(a, upgrade);
  EXPECT_EQ(end(), after_first);
  EXPECT_EQ(settled_version(a, *store_), 2);
  // An unconditional change and a reservation, each handled twice: one outcome each.
  handle(a, anyhow);
  handle(a, anyhow);
  handle(a, reserve);
  handle(a, reserve);
  EXPECT_EQ(end(), after_first + 2);
  EXPECT_EQ(settled_version(a, *store_), 4);
  // A stale expectation is refused once (keyed apart, so the version holds), and once only.
  handle(a, stale);
  handle(a, stale);
  EXPECT_EQ(end(), after_first + 3);
  EXPECT_EQ(settled_version(a, *store_), 4);
  EXPECT_EQ(view.decided_through(partition_id{0}).value(), std::optional<std::int64_t>(stale.off.get()));
  a.feed->stop();

  // Another instance, its read model rebuilt from the log, takes the partition over (a new
  // claim) and is handed every command again from the start: it decides none of them twice.
  auto other = projection::store::open({(dir_.path() / "other").string(), false}).value();
  ASSERT_TRUE(other->attach(proj_));
  ASSERT_TRUE(other->rebuild(proj_, *bus_));
  instance b;
  start(b, *other);
  for (const auto* m : {&upgrade, &anyhow, &reserve, &stale}) handle(b, *m);
  const auto claim_only = after_first + 4;  // b's claim is the one record it adds
  EXPECT_EQ(end(), claim_only);
  EXPECT_EQ(settled_version(b, *other), 4);
  {
    std::map<std::string, int> types;
    for (const auto& m : test::read_topic(*bus_, out.get())) ++types[event::from_message(m).value().type()];
    EXPECT_EQ(types["tenancy.tenant_updated"], 2);
    EXPECT_EQ(types["tenancy.reservation_made"], 1);
    EXPECT_EQ(types["tenancy.change_refused"], 1);
  }
  b.feed->stop();
}
