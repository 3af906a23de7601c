// Property of every route of the real server: whatever the request holds (invalid UTF-8 in the
// path, the query or a header, JSON nested beyond the limit, a wrong JSON type in any field,
// oversized values), the answer is never a 5xx, the server stays up, and its memory stays
// bounded. 500 is for our own faults, never for input.
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;

struct route {
  std::string method, target;  // a concrete target for the route
  json body;                   // a valid body (null: none)
  std::vector<std::string> query;  // query parameters it reads
};

long rss_kb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// Values of every JSON type, and oversized ones.
std::vector<json> wrong_values() {
  return {nullptr, true, 0, -1, 1.5, 1e308, -9223372036854775807LL, 18446744073709551615ULL, "", "x", std::string(200'000, 'a'),
          "\xc3\xa9t\xc3\xa9", json::array(), json::array({1, "a", nullptr}), json::object(), json{{"a", {{"b", 1}}}}};
}

class HttpProperty : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto config = (dir_.path() / "nf.json").string();
    std::ofstream(config) << json{{"data_dir", (dir_.path() / "data").string()}, {"ledger", {{"head_every_ms", 50}}}}.dump();
    srv_ = std::make_unique<t::server>(config);
    http_ = std::make_unique<t::http_client>("127.0.0.1", srv_->port());
    call("POST", "/tenants", json{{"id", "acme"}, {"name", "Acme"}, {"plan", "basic"}}.dump());
    auto k = json::parse(call("POST", "/tenants/acme/keys", json{{"role", "owner"}}.dump()).body);
    owner_ = k.value("key", "");
    key_id_ = k.value("keyId", "");
    call("POST", "/missions", json{{"id", t::uuid(1)}, {"objective", "o"}, {"priority", "P1"}, {"originatingSpec", "https://s"}}.dump());
  }
  t::http_reply call(const std::string& method, const std::string& target, const std::string& body = "", t::header_map h = {},
                     const std::string& key = t::kAdminKey) {
    if (!h.count("Authorization")) h["Authorization"] = "Bearer " + key;
    ++sent_;
    return http_->request(method, target, body, "application/json", true, h);
  }
  void no_5xx(const t::http_reply& r, const std::string& what) {
    EXPECT_LT(r.status, 500) << what << " -> " << r.status << " " << r.body.substr(0, 300);
    EXPECT_GT(r.status, 0) << what << ": no answer";
  }

  t::temp_dir dir_;
  std::unique_ptr<t::server> srv_;
  std::unique_ptr<t::http_client> http_;
  std::string owner_, key_id_;
  int sent_ = 0;
};

TEST_F(HttpProperty, NoRouteAnswers5xxForMalformedInputAndTheServerStaysUpWithBoundedMemory) {
  const std::string id = t::uuid(1);
  const std::string sha(64, 'a');
  const std::vector<route> routes{
      {"POST", "/missions", {{"id", t::uuid(2)}, {"objective", "o"}, {"priority", "P1"}, {"originatingSpec", "https://s"}, {"createdAt", "2026-01-01T00:00:00Z"}}, {}},
      {"GET", "/missions", nullptr, {"status", "priority", "limit", "cursor"}},
      {"GET", "/missions/" + id, nullptr, {}},
      {"POST", "/missions/" + id + "/artifacts",
       {{"artifactId", "a1"}, {"type", "code"}, {"uri", "s3://b/a1"}, {"checksum", "sha256:" + sha}, {"reviewer", "r"}}, {}},
      {"POST", "/missions/" + id + "/validations", {{"artifactId", "a1"}, {"validator", "v"}, {"verdict", "pass"}, {"score", 0.5}}, {}},
      {"POST", "/agents/lifecycle", {{"agentId", "a"}, {"lifecycle", "registered"}}, {}},
      {"GET", "/agents", nullptr, {}},
      {"GET", "/topics", nullptr, {}},
      {"GET", "/topics/mission.prompts/events", nullptr, {"partition", "from", "limit"}},
      {"POST", "/topics/mission.lifecycle/events", {{"type", "mission.accepted"}, {"key", "k"}, {"payload", json::object()}, {"id", id}}, {}},
      {"POST", "/topics", {{"name", "prop.t"}, {"partitions", 2}, {"retentionMs", 1000}, {"acceptUnknownTypes", true}}, {}},
      {"GET", "/topics/mission.prompts", nullptr, {}},
      {"POST", "/ledger/record", {{"kind", "k"}, {"json", {{"a", 1}}}, {"missionId", id}, {"artifactId", "a1"}}, {}},
      {"GET", "/ledger/tree-head", nullptr, {}},
      {"GET", "/ledger/entries/0", nullptr, {}},
      {"GET", "/ledger/proof/inclusion", nullptr, {"leaf_hash", "index", "tree_size"}},
      {"GET", "/ledger/proof/consistency", nullptr, {"first", "second"}},
      {"GET", "/ledger/search", nullptr, {"missionId", "artifactId", "limit"}},
      {"GET", "/ledger/public-key", nullptr, {}},
      {"GET", "/evidence/blobs/" + sha, nullptr, {}},
      {"POST", "/tenants", {{"id", "t2"}, {"name", "n"}, {"plan", "basic"}, {"quotas", {{"eventsPerDay", 10}}}, {"domains", {"t2.example"}}}, {}},
      {"GET", "/tenants", nullptr, {}},
      {"GET", "/tenants/acme", nullptr, {}},
      {"PATCH", "/tenants/acme", {{"plan", "pro"}, {"quotas", {{"eventsPerDay", 1000}}}, {"domains", {"acme.example"}}, {"status", "active"}}, {}},
      {"POST", "/tenants/acme/keys", {{"role", "viewer"}, {"name", "k"}}, {}},
      {"POST", "/tenants/acme/roles", {{"name", "r"}, {"permissions", {"missions:read"}}}, {}},
      {"GET", "/tenants/acme/usage", nullptr, {"period", "format"}},
      {"GET", "/tenants/acme/audit", nullptr, {"from", "to", "limit"}},
      {"POST", "/tenants/acme/reservations", {{"kind", "concurrentRuns"}, {"amount", 1}}, {}},
      {"GET", "/tenants/acme/reservations", nullptr, {}},
      {"DELETE", "/tenants/acme/reservations/r-unknown", nullptr, {}},
      {"DELETE", "/tenants/acme/keys/k_unknown", nullptr, {}},
      {"GET", "/subscribe", nullptr, {"topics", "from", "type", "tenant"}},
      {"GET", "/healthz", nullptr, {}},
      {"GET", "/readyz", nullptr, {}},
      {"GET", "/metrics", nullptr, {}},
  };
  const long rss_before = rss_kb(srv_->proc().pid());
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  for (const auto& r : routes) {
    const bool sub = r.target == "/subscribe";
    // A valid subscription streams until closed: only invalid ones are sent to it here.
    const std::string sub_topics = sub ? "?topics=a%20b" : "";
    const std::string sub_last = sub ? "&topics=a%20b" : "";  // the last value of a parameter wins
    // Invalid UTF-8 in the path, each query parameter and a header.
    no_5xx(call(r.method, r.target + "/%ff%fe" + sub_topics), r.target + " bad path");
    no_5xx(call(r.method, r.target + "%c0%af" + sub_topics), r.target + " overlong path");
    for (const auto& q : r.query) {
      no_5xx(call(r.method, r.target + "?" + q + "=%ff%fe"), r.target + " bad " + q);
      no_5xx(call(r.method, r.target + "?" + q + "=" + std::string(100'000, '9') + sub_last), r.target + " oversized " + q);
      for (const char* v : {"-1", "18446744073709551616", "0x10", "1e3", "", "%00", "null", "[]"})
        no_5xx(call(r.method, r.target + "?" + q + "=" + v + sub_last), r.target + " " + q + "=" + v);
    }
    no_5xx(call(r.method, r.target + sub_topics, "", {{"X-Note", "\xff\xfe\xfd"}}), r.target + " bad header");
    no_5xx(call(r.method, r.target + sub_topics, "", {{"Authorization", "Bearer \xff\xfe"}}), r.target + " bad authorization");
    no_5xx(call(r.method, r.target + sub_topics, "", {{"Host", "\xff.example"}}), r.target + " bad host");
    no_5xx(call(r.method, r.target + sub_topics, "", {{"X-Big", std::string(20'000, 'h')}}), r.target + " oversized header");
    if (sub) continue;
    // Bodies: deep, not JSON, not an object, and each field with every wrong type.
    no_5xx(call(r.method, r.target, deep), r.target + " deep body");
    no_5xx(call(r.method, r.target, "{\"a\":\"\xff\"}"), r.target + " body with invalid UTF-8");
    no_5xx(call(r.method, r.target, "{"), r.target + " truncated body");
    no_5xx(call(r.method, r.target, "[1,2]"), r.target + " array body");
    no_5xx(call(r.method, r.target, std::string(2 << 20, ' ')), r.target + " oversized body");
    if (r.body.is_object()) {
      for (const auto& [field, good] : r.body.items()) {
        for (const auto& v : wrong_values()) {
          json b = r.body;
          b[field] = v;
          no_5xx(call(r.method, r.target, b.dump()), r.target + " " + field + "=" + v.dump().substr(0, 40));
        }
        json nested = r.body;
        nested[field] = json::parse(std::string(63, '[') + std::string(63, ']'));
        no_5xx(call(r.method, r.target, nested.dump()), r.target + " " + field + " nested 63 deep");
      }
      // As a tenant owner too: other checks (quotas, ownership) run on that path.
      for (const auto& v : wrong_values()) {
        json b = r.body;
        b[r.body.begin().key()] = v;
        no_5xx(call(r.method, r.target, b.dump(), {}, owner_), r.target + " as tenant");
      }
    }
  }
  // Random bytes in the target and the body, from a fixed seed.
  std::mt19937 rng(20261201);
  for (int i = 0; i < 300; ++i) {
    const auto& r = routes[rng() % routes.size()];
    if (r.target == "/subscribe") continue;
    std::string junk(rng() % 64, '\0');
    for (auto& c : junk) c = static_cast<char>(rng() % 256);
    std::string enc;
    for (unsigned char c : junk) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02x", c);
      enc += buf;
    }
    no_5xx(call(r.method, r.target + "?" + enc + "=" + enc), r.target + " random query");
    no_5xx(call(r.method, r.target, junk), r.target + " random body");
  }
  EXPECT_EQ(t::http_client("127.0.0.1", srv_->port()).get("/healthz").status, 200) << "alive after " << sent_ << " requests";
  const long rss_after = rss_kb(srv_->proc().pid());
  ASSERT_GT(rss_before, 0);
  // Under AddressSanitizer freed memory waits in a quarantine (256 MB by default) before reuse.
  const long allowed_kb = (std::getenv("ASAN_OPTIONS") ? 600 : 300) * 1024;
  EXPECT_LT(rss_after - rss_before, allowed_kb) << "RSS grew from " << rss_before << " kB to " << rss_after << " kB over " << sent_ << " requests";
  std::cout << sent_ << " requests; RSS " << rss_before << " -> " << rss_after << " kB\n";
  EXPECT_EQ(srv_->stop(), 0);
}

}  // namespace
