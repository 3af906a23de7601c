// The defects found in the feature-modules review, each reproduced on real components (embedded
// bus and RocksDB in a temp dir, the real routes behind the real HTTP server's raw-request path):
// the idempotency table, dropped errors, and read models that folded missing fields as "".
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <thread>

#include "actors/evidence/evidence.h"
#include "actors/missions/mission_control.h"
#include "actors/missions/routes.h"
#include "actors/tenancy/admission.h"
#include "actors/tenancy/directory_sync.h"
#include "actors/tenancy/routes.h"
#include "core/base/clock.h"
#include "core/event/codec.h"
#include "core/http/server.h"
#include "core/metrics/metrics.h"
#include "missions.pb.h"
#include "tenancy.pb.h"
#include "projections/audit/audit.h"
#include "projections/missions/missions.h"
#include "projections/tenants/tenants.h"
#include "projections/usage/usage.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/http_client.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;

std::uint64_t counter(const std::string& name, const metrics::labels& l = {}) {
  return metrics::registry::global().get_counter(name, "", l).value();
}

// An HTTP answer from server::respond, split into status and body.
struct answer {
  int status = 0;
  json body;
};
answer ask(http::server& srv, const std::string& method, const std::string& target, const std::string& body = "",
           const std::string& auth = test::kAdminKey) {
  const std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + auth +
                          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::string out = srv.respond(raw);
  answer a;
  a.status = std::stoi(out.substr(9, 3));
  const auto at = out.find("\r\n\r\n");
  a.body = json::parse(out.substr(at + 4), nullptr, false);
  return a;
}

std::int64_t events_on(bus::event_bus& b, const std::string& topic) {
  std::int64_t n = 0;
  auto info = b.describe_topic(topic_name{topic});
  for (std::int32_t p = 0; info && p < info->config.partitions; ++p) n += b.end_offset({topic_name{topic}, partition_id{p}})->get();
  return n;
}

// Audit records on tenancy.audit: they travel batched, several per event.
int audit_records(bus::event_bus& b) {
  auto c = b.make_consumer({});
  if (!c || !(*c)->assign({{{topic_name{"tenancy.audit"}, partition_id{0}}, offset{0}}})) return -1;
  int n = 0;
  for (;;) {
    auto msgs = (*c)->poll(std::chrono::milliseconds(50), 1000);
    if (!msgs || msgs->empty()) return n;
    for (const auto& m : *msgs) {
      events::AuditBatch batch;
      auto env = event::from_message(m);
      if (env && env->payload().UnpackTo(&batch)) n += batch.records_size();
    }
  }
}

class ReviewDefects : public ::testing::Test {
 protected:
  void SetUp() override {
    bus_ = test::open_test_bus(dir_.path() / "bus");
    store_ = std::move(projection::store::open({(dir_.path() / "store").string(), false}).value());
  }
  test::temp_dir dir_;
  std::unique_ptr<bus::embedded_bus> bus_;
  std::unique_ptr<projection::store> store_;
};


// Defect 2: tenant routes answered 201 before the change was visible (the wait's result was dropped).
TEST_F(ReviewDefects, ATenantChangeTheReadModelHasNotShownIsAnswered202NotCreated) {
  for (const char* t : {"tenancy.tenants", "tenancy.audit", "tenancy.usage"}) ASSERT_TRUE(bus_->create_topic(topic_name{t}, {1, -1, -1}));
  tenancy::directory dir;
  dir.set_platform_admin(test::kAdminKeySha256);
  tenants::tenants_projection tenants_proj;
  usage::usage_projection usage_proj;
  audit::audit_projection audit_proj;
  ASSERT_TRUE(store_->attach(tenants_proj));
  projection::feed tenants_feed(*store_, tenants_proj, *bus_);  // not started: nothing becomes visible
  tenancy::access_options ao;
  ao.dir = &dir;
  ao.usage = &usage_proj;
  tenancy::access acc(*bus_, *store_, ao, system_clock::instance());
  tenancy::route_options ro;
  ro.tenants = &tenants_proj;
  ro.feed = &tenants_feed;
  ro.dir = &dir;
  ro.wait = std::chrono::milliseconds(20);
  tenancy::routes routes(*bus_, *store_, ro, acc, system_clock::instance());
  http::route_table table;
  routes.add_to(table);
  http::server srv(table, acc, {});
  const auto before = counter("nf_tenancy_not_visible_total");
  auto a = ask(srv, "POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})");
  EXPECT_EQ(a.status, 202) << a.body;
  EXPECT_EQ(a.body["visible"], false);
  EXPECT_EQ(a.body["id"], "acme");
  EXPECT_EQ(counter("nf_tenancy_not_visible_total"), before + 1);
  EXPECT_EQ(events_on(*bus_, "tenancy.tenants"), 1);  // appended all the same
  srv.stop();
  acc.stop();
}

// Defect 2: a tenant document whose quota overrides do not parse fell back to the plan's
// defaults, so a damaged document loosened the tenant's limits.
TEST_F(ReviewDefects, DamagedQuotaOverridesRefuseTheTenantInsteadOfLooseningItsLimits) {
  const auto before = counter("nf_tenancy_damaged_documents_total");
  auto spec = tenancy::spec_of(json{{"id", "acme"}, {"plan", "basic"}, {"domains", json::array()}, {"quotas", {{"eventsPerDay", "lots"}}}});
  EXPECT_FALSE(spec.refusal.empty());
  EXPECT_EQ(counter("nf_tenancy_damaged_documents_total"), before + 1);
  tenancy::directory dir;
  dir.replace({spec}, {{tenancy::key_digest("nfk_acmeacmeacmeacmeacmeacmeacme0001"), "acme", "developer", "k_1"}});
  std::string authz = "Bearer nfk_acmeacmeacmeacmeacmeacmeacme0001";
  auto c = dir.resolve({"", authz, ""}, 0);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, errc::permission_denied);
  EXPECT_NE(c.error().message.find("quota overrides are damaged"), std::string::npos) << c.error().message;
  // A custom role that cannot be defined is counted too, and grants nothing.
  auto with_role = tenancy::spec_of(json{{"id", "acme"}, {"plan", "basic"}, {"domains", json::array()}, {"roles", {{"ops", {"no:such"}}}}});
  EXPECT_TRUE(with_role.refusal.empty());
  EXPECT_TRUE(with_role.custom_roles.custom().empty());
  EXPECT_EQ(counter("nf_tenancy_damaged_documents_total"), before + 2);
}

// Defect 2: audit records were dropped after one failed append. Here the audit topic does not
// exist at first, so the bus refuses the batch; once it exists, every record arrives.
TEST_F(ReviewDefects, AuditRecordsTheBusRefusesAreWrittenOnceItAcceptsThem) {
  ASSERT_TRUE(bus_->create_topic(topic_name{"tenancy.usage"}, {1, -1, -1}));
  tenancy::directory dir;
  dir.set_platform_admin(test::kAdminKeySha256);
  tenancy::access_options ao;
  ao.dir = &dir;
  tenancy::access acc(*bus_, *store_, ao, system_clock::instance());
  http::request req{http::verb::get, "/missions", 11};
  req.set(http::field::authorization, std::string("Bearer ") + test::kAdminKey);
  auto who = acc.admit(req);
  ASSERT_TRUE(std::holds_alternative<http::caller>(who));
  const auto refused_before = counter("nf_gateway_access_records_failed_total", {{"topic", "tenancy.audit"}});
  for (int i = 0; i < 5; ++i) acc.record(std::get<http::caller>(who), req, "/missions", "/missions", 200);
  ASSERT_TRUE(test::wait_until([&] { return counter("nf_gateway_access_records_failed_total", {{"topic", "tenancy.audit"}}) > refused_before; }));
  ASSERT_TRUE(bus_->create_topic(topic_name{"tenancy.audit"}, {1, -1, -1}));
  EXPECT_TRUE(test::wait_until([&] { return audit_records(*bus_) == 5; }));
  acc.stop();
  EXPECT_EQ(audit_records(*bus_), 5);
}

bus::message as_message(const event::new_event& e, const std::string& topic, std::int64_t off) {
  auto rec = event::to_record(event::build(e).value());
  bus::message m;
  m.topic = topic_name{topic};
  m.partition = partition_id{0};
  m.off = offset{off};
  m.key = rec.key;
  m.value = rec.value;
  m.headers = rec.headers;
  return m;
}

// Defect 2: the missions read model and mission control read missing fields as "": a prompt
// without an objective became a mission with an empty objective.
TEST_F(ReviewDefects, APromptWithoutRequiredFieldsIsKeptAsRejectedNotFoldedAsEmpty) {
  for (const char* t : {missions::kPrompts, missions::kLifecycle, missions::kArtifacts, missions::kValidations})
    ASSERT_TRUE(bus_->create_topic(topic_name{t}, {1, -1, -1}));
  event::new_event e;
  e.type = "mission.prompted";
  e.key = "01900000-0000-7000-8000-0000000000aa";
  e.payload_json = json{{"id", e.key}, {"priority", "P1"}}.dump();  // no objective, no originatingSpec
  auto rec = event::to_record(event::build(e).value());
  auto at = bus_->append(topic_name{missions::kPrompts}, std::span<const bus::record>(&rec, 1)).value()[0];
  missions::missions_projection proj;
  projection::feed feed(*store_, proj, *bus_);
  ASSERT_TRUE(feed.start());
  ASSERT_TRUE(feed.wait_applied({topic_name{missions::kPrompts}, at.partition}, at.off, std::chrono::seconds(10)));
  missions::missions_view view(*store_, proj);
  EXPECT_FALSE(view.get(e.key).value().has_value()) << "a mission with empty fields was folded";
  auto rejected = view.rejected().value();
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0]["offset"], at.off.get());
  EXPECT_NE(rejected[0]["reason"].get<std::string>().find("objective"), std::string::npos);
  feed.stop();
  // Mission control refuses a prompt without what it decides on (the runtime dead-letters what an
  // actor refuses) instead of scheduling it with priority "".
  event::new_event no_priority = e;
  no_priority.payload_json = json{{"id", e.key}, {"objective", "o"}, {"originatingSpec", "https://s"}}.dump();
  auto in = mission_control::decode(as_message(no_priority, missions::kPrompts, 1));
  ASSERT_FALSE(in);
  EXPECT_EQ(in.error().code, errc::invalid_argument);
  EXPECT_NE(in.error().message.find("priority"), std::string::npos);
  event::new_event no_id = e;
  no_id.payload_json = json{{"objective", "o"}, {"priority", "P0"}, {"originatingSpec", "https://s"}}.dump();
  EXPECT_FALSE(mission_control::decode(as_message(no_id, missions::kPrompts, 2)));
}

// Defect 2: the evidence actor ignored a payload it could not decode; the leaf is still recorded
// (its bytes are the evidence) but the failure is said and counted.
TEST_F(ReviewDefects, AnUndecodablePayloadIsRecordedAndCountedNotIgnored) {
  events::Envelope env;
  env.set_id(event::new_uuidv7(1).raw());
  env.set_type("mission.artifact_recorded");
  env.set_key("m-1");
  env.mutable_payload()->set_type_url("type.googleapis.com/nf.events.NoSuchMessage");
  env.mutable_payload()->set_value("\x0a\x03xyz");
  bus::message m;
  m.topic = topic_name{"mission.artifacts"};
  m.value = env.SerializeAsString();
  const auto before = counter("nf_evidence_undecodable_payloads_total");
  auto in = evidence::decode(m);
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(in->mission_id, "m-1");
  EXPECT_FALSE(in->data.empty());
  EXPECT_EQ(counter("nf_evidence_undecodable_payloads_total"), before + 1);
}

}  // namespace
