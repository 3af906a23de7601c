// Optimistic concurrency over HTTP, on a real node served on 127.0.0.1: a tenant's ETag is its
// version; PATCH (and the other changes of the tenant document) with a stale If-Match answer 412
// and change nothing; of several PATCHes racing with the same If-Match exactly one wins.
// Producing with expectedVersion: a wrong version appends nothing of the batch (409).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <barrier>
#include <memory>
#include <thread>

#include "tests/support/embedded_bus.h"
#include "tests/support/http_client.h"
#include "tests/support/node.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;

std::string header(const test::http_reply& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
  return {};
}

class OptimisticConcurrency : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = n_.listen();
    auto made = client().post("/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})");
    ASSERT_EQ(made.status, 201) << made.body;
  }
  test::http_client client() { return test::http_client("127.0.0.1", port_, test::admin_headers()); }
  test::http_reply patch(test::http_client& c, const std::string& body, const std::string& if_match) {
    std::map<std::string, std::string> h;
    if (!if_match.empty()) h["If-Match"] = if_match;
    return c.request("PATCH", "/tenants/acme", body, "application/json", true, h);
  }
  test::in_process_node n_{"optimistic"};
  int port_ = 0;
};

TEST_F(OptimisticConcurrency, ATenantCarriesItsVersionAsETagAndAStaleIfMatchChangesNothing) {
  auto c = client();
  auto got = c.get("/tenants/acme");
  ASSERT_EQ(got.status, 200) << got.body;
  const auto v1 = json::parse(got.body)["version"].get<std::int64_t>();
  EXPECT_EQ(v1, 1);  // tenant_created
  EXPECT_EQ(header(got, "ETag"), "\"1\"");

  auto changed = patch(c, R"({"plan":"pro"})", "\"1\"");
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(header(changed, "ETag"), "\"2\"");
  EXPECT_EQ(json::parse(changed.body)["plan"], "pro");

  auto stale = patch(c, R"({"plan":"enterprise"})", "\"1\"");
  ASSERT_EQ(stale.status, 412) << stale.body;
  const auto err = json::parse(stale.body)["error"];
  EXPECT_EQ(err["code"], "version_mismatch");
  EXPECT_NE(err["message"].get<std::string>().find("version 2"), std::string::npos) << err;
  auto after = c.get("/tenants/acme");
  EXPECT_EQ(json::parse(after.body)["plan"], "pro");
  EXPECT_EQ(header(after, "ETag"), "\"2\"");

  // Ahead of the log (a tag this server never gave): the bus refuses it in the write.
  auto ahead = patch(c, R"({"plan":"enterprise"})", "\"9\"");
  EXPECT_EQ(ahead.status, 412) << ahead.body;
  // Without If-Match, and with If-Match: *, the change is unconditional.
  EXPECT_EQ(patch(c, R"({"plan":"basic"})", "").status, 200);
  EXPECT_EQ(patch(c, R"({"plan":"pro"})", "*").status, 200);
  EXPECT_EQ(header(c.get("/tenants/acme"), "ETag"), "\"4\"");

  // Key and role changes of the tenant document take If-Match too, and move its version.
  auto key = c.request("POST", "/tenants/acme/keys", R"({"role":"viewer"})", "application/json", true, {{"If-Match", "\"3\""}});
  EXPECT_EQ(key.status, 412) << key.body;
  key = c.request("POST", "/tenants/acme/keys", R"({"role":"viewer"})", "application/json", true, {{"If-Match", "\"4\""}});
  ASSERT_EQ(key.status, 201) << key.body;
  EXPECT_EQ(header(key, "ETag"), "\"5\"");
  const auto key_id = json::parse(key.body)["keyId"].get<std::string>();
  auto revoke = c.request("DELETE", "/tenants/acme/keys/" + key_id, "", "application/json", true, {{"If-Match", "\"4\""}});
  EXPECT_EQ(revoke.status, 412) << revoke.body;
  auto role = c.request("POST", "/tenants/acme/roles", R"({"name":"reader","permissions":["missions:read"]})", "application/json", true,
                        {{"If-Match", "\"5\""}});
  EXPECT_EQ(role.status, 201) << role.body;
  EXPECT_EQ(header(c.get("/tenants/acme"), "ETag"), "\"6\"");
}

TEST_F(OptimisticConcurrency, OfPatchesRacingWithTheSameIfMatchExactlyOneWins) {
  constexpr int kClients = 6, kRounds = 8;
  std::vector<std::unique_ptr<test::http_client>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<test::http_client>("127.0.0.1", port_, test::admin_headers()));
  std::barrier start(kClients);
  std::atomic<int> version{1};
  std::vector<std::atomic<int>> wins(kRounds), refused(kRounds);
  std::atomic<int> other{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kClients; ++t)
    ts.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        start.arrive_and_wait();
        const auto tag = "\"" + std::to_string(version.load()) + "\"";
        start.arrive_and_wait();
        const char* plans[] = {"basic", "pro", "enterprise"};
        auto res = patch(*clients[static_cast<std::size_t>(t)], json{{"plan", plans[(t + r) % 3]}}.dump(), tag);
        if (res.status == 200) ++wins[static_cast<std::size_t>(r)];
        else if (res.status == 412) ++refused[static_cast<std::size_t>(r)];
        else ++other;
        start.arrive_and_wait();
        if (t == 0) ++version;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(other.load(), 0);
  for (int r = 0; r < kRounds; ++r) {
    EXPECT_EQ(wins[static_cast<std::size_t>(r)].load(), 1) << "round " << r;
    EXPECT_EQ(refused[static_cast<std::size_t>(r)].load(), kClients - 1) << "round " << r;
  }
  EXPECT_EQ(header(client().get("/tenants/acme"), "ETag"), "\"" + std::to_string(1 + kRounds) + "\"");
  // Exactly one tenant_updated per round reached the log.
  int updates = 0;
  for (const auto& m : test::read_topic(n_.bus(), "tenancy.tenants"))
    if (m.key == "acme" && m.value.find("tenancy.tenant_updated") != std::string::npos) ++updates;
  EXPECT_EQ(updates, kRounds);
}

TEST_F(OptimisticConcurrency, AMalformedIfMatchIsRefusedNamingTheHeader) {
  auto c = client();
  for (const char* bad : {"W/\"1\"", "\"1\", \"2\"", "1", "\"one\"", "\"\""}) {
    auto r = patch(c, R"({"plan":"pro"})", bad);
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["field"], "If-Match") << bad;
  }
  // Two If-Match headers are a list too: refused, not the first one taken.
  const std::string raw = "PATCH /tenants/acme HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(test::kAdminKey) +
                          "\r\nContent-Type: application/json\r\nIf-Match: \"1\"\r\nIf-Match: \"2\"\r\nContent-Length: 14\r\n\r\n{\"plan\":\"pro\"}";
  const auto answer = n_.respond(raw);
  EXPECT_EQ(answer.substr(9, 3), "400") << answer;
  EXPECT_EQ(json::parse(c.get("/tenants/acme").body)["plan"], "basic");
}

TEST_F(OptimisticConcurrency, ProducingWithAWrongExpectedVersionAppendsNothingOfTheBatch) {
  auto c = client();
  auto made = c.post("/topics", R"({"name":"accounts","partitions":2,"acceptUnknownTypes":true,"keyVersions":true})");
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(json::parse(made.body)["keyVersions"], true);
  auto ev = [](const std::string& key, const json& expected) {
    json e{{"type", "account.changed"}, {"key", key}, {"payload", json::object()}};
    if (!expected.is_null()) e["expectedVersion"] = expected;
    return e;
  };
  auto first = c.post("/topics/accounts/events", json{{"events", {ev("a", "no_stream"), ev("a", 1), ev("b", 0)}}}.dump());
  ASSERT_EQ(first.status, 201) << first.body;
  auto wrong = c.post("/topics/accounts/events", json{{"events", {ev("c", 0), ev("a", 1)}}}.dump());
  ASSERT_EQ(wrong.status, 409) << wrong.body;
  EXPECT_EQ(json::parse(wrong.body)["error"]["code"], "wrong_expected_version");
  EXPECT_EQ(test::read_topic(n_.bus(), "accounts").size(), 3u);
  auto right = c.post("/topics/accounts/events", json{{"events", {ev("c", 0), ev("a", 2), ev("b", "any")}}}.dump());
  EXPECT_EQ(right.status, 201) << right.body;
  EXPECT_EQ(test::read_topic(n_.bus(), "accounts").size(), 6u);

  // A topic without key versions, a missing key and a negative version: 400, naming the field.
  ASSERT_EQ(c.post("/topics", R"({"name":"plain","acceptUnknownTypes":true})").status, 201);
  auto untracked = c.post("/topics/plain/events", ev("a", 0).dump());
  EXPECT_EQ(untracked.status, 400) << untracked.body;
  auto keyless = c.post("/topics/accounts/events", json{{"type", "x.y"}, {"payload", json::object()}, {"expectedVersion", 0}}.dump());
  EXPECT_EQ(keyless.status, 400) << keyless.body;
  EXPECT_EQ(json::parse(keyless.body)["error"]["field"], "expectedVersion");
  auto negative = c.post("/topics/accounts/events", ev("a", -1).dump());
  EXPECT_EQ(negative.status, 400) << negative.body;
  EXPECT_TRUE(test::read_topic(n_.bus(), "plain").empty());
  EXPECT_EQ(test::read_topic(n_.bus(), "accounts").size(), 6u);
}

}  // namespace
