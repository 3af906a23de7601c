// Producing over HTTP on a real node (embedded bus and RocksDB in a temp dir, the real routes
// behind the server's raw-request path): single events, JSON batches and NDJSON read back from
// the log; a batch with one invalid event appends nothing; retries by client id append once;
// platform topics, other tenants' namespaces and missing permissions are refused.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "core/event/codec.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/http_client.h"
#include "tests/support/node.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;
using namespace std::chrono_literals;

using test::answer;
using test::ask;

std::vector<bus::message> read_all(bus::event_bus& b, const std::string& topic) { return test::read_topic(b, topic); }

class Producing : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = ask(n_, "POST", "/topics", R"({"name":"orders","partitions":3,"acceptUnknownTypes":true})");
    ASSERT_EQ(made.status, 201) << made.raw;
  }
  test::in_process_node n_{"producing"};
};

TEST_F(Producing, OneEventIsAppendedAndAnsweredWithItsPosition) {
  auto a = ask(n_, "POST", "/topics/orders/events", R"({"type":"order.placed","key":"o-1","payload":{"total":12}})");
  ASSERT_EQ(a.status, 201) << a.raw;
  ASSERT_EQ(a.body["positions"].size(), 1u);
  EXPECT_NE(a.raw.find("NF-Position: "), std::string::npos);
  auto log = read_all(n_.bus(), "orders");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].partition.get(), a.body["positions"][0]["partition"].get<int>());
  EXPECT_EQ(log[0].off.get(), a.body["positions"][0]["offset"].get<std::int64_t>());
  auto j = event::to_json(log[0]).value();
  EXPECT_EQ(j["type"], "order.placed");
  EXPECT_EQ(j["key"], "o-1");
  EXPECT_EQ(j["payload"]["total"], 12);
  EXPECT_EQ(j["id"], a.body["positions"][0]["id"]);
  EXPECT_EQ(bus::partition_for_key("o-1", 3).get(), log[0].partition.get());  // Kafka's partitioner
}

TEST_F(Producing, JsonBatchesAndNdjsonAreAppendedInOrder) {
  json batch{{"events", json::array()}};
  for (int i = 0; i < 50; ++i) batch["events"].push_back({{"type", "order.placed"}, {"key", "same"}, {"payload", {{"n", i}}}});
  auto a = ask(n_, "POST", "/topics/orders/events", batch.dump());
  ASSERT_EQ(a.status, 201) << a.raw;
  ASSERT_EQ(a.body["positions"].size(), 50u);
  std::string nd;
  for (int i = 50; i < 60; ++i) nd += json{{"type", "order.placed"}, {"key", "same"}, {"payload", {{"n", i}}}}.dump() + "\n";
  auto b = ask(n_, "POST", "/topics/orders/events", nd, test::kAdminKey, "application/x-ndjson");
  ASSERT_EQ(b.status, 201) << b.raw;
  ASSERT_EQ(b.body["positions"].size(), 10u);
  auto log = read_all(n_.bus(), "orders");
  ASSERT_EQ(log.size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(event::to_json(log[static_cast<std::size_t>(i)]).value()["payload"]["n"], i);
}

TEST_F(Producing, ABatchWithOneInvalidEventAppendsNothingAndNamesIt) {
  // mission.prompted is a registered type: its payload is checked against MissionPrompt.
  ASSERT_EQ(ask(n_, "POST", "/topics", R"({"name":"work","partitions":1})").status, 201);
  const std::string good = R"({"type":"mission.prompted","key":"m1","payload":{"id":"01900000-0000-7000-8000-000000000001","objective":"o","priority":"P1","originatingSpec":"https://s"}})";
  const std::string bad = R"({"type":"mission.prompted","key":"m2","payload":{"id":"01900000-0000-7000-8000-000000000002","objective":"o","priority":"P9","originatingSpec":"https://s"}})";
  auto a = ask(n_, "POST", "/topics/work/events", "{\"events\":[" + good + "," + bad + "," + good + "]}");
  EXPECT_EQ(a.status, 400) << a.raw;
  EXPECT_EQ(a.body["error"]["field"], "events[1].payload");
  EXPECT_NE(a.body["error"]["message"].get<std::string>().find("events[1]"), std::string::npos);
  EXPECT_TRUE(read_all(n_.bus(), "work").empty());
  auto nd = ask(n_, "POST", "/topics/work/events", good + "\n{not json\n", test::kAdminKey, "application/x-ndjson");
  EXPECT_EQ(nd.status, 400) << nd.raw;
  EXPECT_NE(nd.body["error"]["message"].get<std::string>().find("line 2"), std::string::npos);
  // A strict topic refuses types nobody registered.
  auto unknown = ask(n_, "POST", "/topics/work/events", R"({"type":"thing.done","payload":{}})");
  EXPECT_EQ(unknown.status, 400) << unknown.raw;
  EXPECT_EQ(unknown.body["error"]["code"], "unknown_type");
  EXPECT_TRUE(read_all(n_.bus(), "work").empty());
}

TEST_F(Producing, LimitsAndMissingTopicsAreRefusedPrecisely) {
  json batch{{"events", json::array()}};
  for (int i = 0; i < 1001; ++i) batch["events"].push_back({{"type", "x.y"}, {"payload", json::object()}});
  auto a = ask(n_, "POST", "/topics/orders/events", batch.dump());
  EXPECT_EQ(a.status, 413) << a.raw;
  EXPECT_NE(a.body["error"]["message"].get<std::string>().find("1000"), std::string::npos);
  auto missing = ask(n_, "POST", "/topics/nope/events", R"({"type":"x.y","payload":{}})");
  EXPECT_EQ(missing.status, 404) << missing.raw;
  auto media = ask(n_, "POST", "/topics/orders/events", "x", test::kAdminKey, "text/plain");
  EXPECT_EQ(media.status, 415);
  auto nf_header = ask(n_, "POST", "/topics/orders/events", R"({"type":"x.y","payload":{},"headers":{"nf-claim":"me"}})");
  EXPECT_EQ(nf_header.status, 400) << nf_header.raw;
  EXPECT_TRUE(read_all(n_.bus(), "orders").empty());
}

TEST_F(Producing, PlatformTopicsAreNeverWrittenThroughThisRoute) {
  for (const char* t : {"tenancy.tenants", "tenancy.usage", "commands.missions", "platform.deadletter", "evidence.ledger", "producing.topics"}) {
    const auto before = read_all(n_.bus(), t).size();
    auto a = ask(n_, "POST", std::string("/topics/") + t + "/events", R"({"type":"x.y","payload":{}})");
    EXPECT_EQ(a.status, 403) << t << ": " << a.raw;
    EXPECT_EQ(read_all(n_.bus(), t).size(), before) << t;
  }
}

TEST_F(Producing, ARetryWithTheSameIdAppendsOnceAndOtherContentIsAConflict) {
  const std::string id = "01900000-0000-7000-8000-0000000000aa";
  const std::string ev = R"({"type":"order.placed","key":"k","id":")" + id + R"(","payload":{"n":1}})";
  auto first = ask(n_, "POST", "/topics/orders/events", ev);
  ASSERT_EQ(first.status, 201) << first.raw;
  auto again = ask(n_, "POST", "/topics/orders/events", ev);
  ASSERT_EQ(again.status, 201) << again.raw;
  EXPECT_EQ(again.body["positions"], first.body["positions"]);
  EXPECT_EQ(again.body["duplicate"], true);
  auto other = ask(n_, "POST", "/topics/orders/events", R"({"type":"order.placed","key":"k","id":")" + id + R"(","payload":{"n":2}})");
  EXPECT_EQ(other.status, 409) << other.raw;
  EXPECT_EQ(read_all(n_.bus(), "orders").size(), 1u);
  // A batch retried whole is answered from the first append, event by event.
  json batch{{"events", json::array()}};
  for (int i = 0; i < 5; ++i)
    batch["events"].push_back({{"type", "order.placed"}, {"key", "b"}, {"id", test::uuid(100 + i)}, {"payload", {{"n", i}}}});
  auto b1 = ask(n_, "POST", "/topics/orders/events", batch.dump());
  auto b2 = ask(n_, "POST", "/topics/orders/events", batch.dump());
  ASSERT_EQ(b1.status, 201) << b1.raw;
  ASSERT_EQ(b2.status, 201) << b2.raw;
  EXPECT_EQ(b1.body["positions"], b2.body["positions"]);
  EXPECT_EQ(read_all(n_.bus(), "orders").size(), 6u);
}

TEST_F(Producing, TenantsWriteStampedEventsOnlyWhereTheirRolesAllow) {
  ASSERT_EQ(ask(n_, "POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})").status, 201);
  ASSERT_EQ(ask(n_, "POST", "/tenants", R"({"id":"umbrella","name":"Umbrella","plan":"basic"})").status, 201);
  const auto dev = ask(n_, "POST", "/tenants/acme/keys", R"({"role":"developer"})").body["key"].get<std::string>();
  const auto viewer = ask(n_, "POST", "/tenants/acme/keys", R"({"role":"viewer"})").body["key"].get<std::string>();
  const auto admin = ask(n_, "POST", "/tenants/acme/keys", R"({"role":"admin"})").body["key"].get<std::string>();
  const auto other_admin = ask(n_, "POST", "/tenants/umbrella/keys", R"({"role":"admin"})").body["key"].get<std::string>();

  auto w = ask(n_, "POST", "/topics/orders/events", R"({"type":"order.placed","key":"k","payload":{}})", dev);
  ASSERT_EQ(w.status, 201) << w.raw;
  auto log = read_all(n_.bus(), "orders");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(event::to_json(log[0]).value()["tenantId"], "acme");
  EXPECT_EQ(ask(n_, "POST", "/topics/orders/events", R"({"type":"order.placed","payload":{}})", viewer).status, 403);

  // A tenant admin creates topics in its own namespace only; other tenants do not see them.
  EXPECT_EQ(ask(n_, "POST", "/topics", R"({"name":"shared.x"})", admin).status, 403);
  EXPECT_EQ(ask(n_, "POST", "/topics", R"({"name":"tenant.umbrella.x"})", admin).status, 403);
  auto own = ask(n_, "POST", "/topics", R"({"name":"tenant.acme.private","partitions":1,"acceptUnknownTypes":true})", admin);
  ASSERT_EQ(own.status, 201) << own.raw;
  EXPECT_EQ(ask(n_, "POST", "/topics/tenant.acme.private/events", R"({"type":"a.b","payload":{}})", dev).status, 201);
  EXPECT_EQ(ask(n_, "POST", "/topics/tenant.acme.private/events", R"({"type":"a.b","payload":{}})", other_admin).status, 404);
  EXPECT_EQ(ask(n_, "GET", "/topics/tenant.acme.private", "", other_admin).status, 404);
  auto shown = ask(n_, "GET", "/topics/tenant.acme.private", "", admin);
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_EQ(shown.body["acceptUnknownTypes"], true);
  EXPECT_EQ(shown.body["offsets"][0]["end"], 1);
}

// A custom role may hold events:write for some topics only: the route answers 403 naming the
// scope for others, and writes nothing; a malformed scope is refused when the role is defined.
TEST_F(Producing, AScopedGrantWritesOnlyToTheTopicsItNames) {
  ASSERT_EQ(ask(n_, "POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})").status, 201);
  auto role = ask(n_, "POST", "/tenants/acme/roles", R"({"name":"order-writer","permissions":["events:read","events:write@orders","events:write@tenant.acme.*"]})");
  ASSERT_EQ(role.status / 100, 2) << role.raw;
  auto key = ask(n_, "POST", "/tenants/acme/keys", R"({"role":"order-writer"})");
  ASSERT_EQ(key.status, 201) << key.raw;
  const auto writer = key.body["key"].get<std::string>();
  ASSERT_EQ(ask(n_, "POST", "/topics", R"({"name":"invoices","partitions":1,"acceptUnknownTypes":true})").status, 201);
  ASSERT_EQ(ask(n_, "POST", "/topics", R"({"name":"tenant.acme.audit","partitions":1,"acceptUnknownTypes":true})").status, 201);

  EXPECT_EQ(ask(n_, "POST", "/topics/orders/events", R"({"type":"order.placed","payload":{}})", writer).status, 201);
  EXPECT_EQ(ask(n_, "POST", "/topics/tenant.acme.audit/events", R"({"type":"a.b","payload":{}})", writer).status, 201);
  auto refused = ask(n_, "POST", "/topics/invoices/events", R"({"type":"invoice.sent","payload":{}})", writer);
  EXPECT_EQ(refused.status, 403) << refused.raw;
  EXPECT_EQ(refused.body["error"]["field"], "topic") << refused.raw;
  EXPECT_NE(refused.body["error"]["message"].get<std::string>().find("'invoices' is not among them"), std::string::npos) << refused.raw;
  EXPECT_TRUE(read_all(n_.bus(), "invoices").empty());

  for (const char* bad : {R"({"name":"r1","permissions":["events:read@orders"]})", R"({"name":"r2","permissions":["events:write@"]})",
                          R"({"name":"r3","permissions":["events:write@or ders"]})"}) {
    auto r = ask(n_, "POST", "/tenants/acme/roles", bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.raw;
  }
}

}  // namespace

namespace {

// Quotas count a batch's events and bytes together: a batch that would pass the day's events or
// the stored bytes is refused whole, even when each of its events alone would fit.
TEST_F(Producing, ABatchIsCountedWholeAgainstTheTenantsQuotas) {
  // The tenant's own setup (its creation, its key) may count once the usage read model folds it.
  ASSERT_EQ(ask(n_, "POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic","quotas":{"eventsPerDay":20}})").status, 201);
  const auto dev = ask(n_, "POST", "/tenants/acme/keys", R"({"role":"developer"})").body["key"].get<std::string>();
  auto batch = [](int n) {
    json events = json::array();
    for (int i = 0; i < n; ++i) events.push_back({{"type", "order.placed"}, {"key", "k" + std::to_string(i)}, {"payload", json::object()}});
    return json{{"events", events}}.dump();
  };
  auto refused = ask(n_, "POST", "/topics/orders/events", batch(21), dev);
  EXPECT_EQ(refused.status, 429) << refused.raw;
  EXPECT_EQ(refused.body["error"]["code"], "quota_exceeded");
  EXPECT_NE(refused.body["error"]["message"].get<std::string>().find("21 more requested"), std::string::npos) << refused.raw;
  EXPECT_TRUE(read_all(n_.bus(), "orders").empty()) << "a refused batch appended events";
  auto taken = ask(n_, "POST", "/topics/orders/events", batch(10), dev);
  EXPECT_EQ(taken.status, 201) << taken.raw;
  EXPECT_EQ(read_all(n_.bus(), "orders").size(), 10u);
}

}  // namespace
