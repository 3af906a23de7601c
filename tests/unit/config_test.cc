// Configuration: defaults, strict keys, environment overrides, messages that name the key.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/config/section.h"

namespace {

nf::config::env_lookup env_of(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Config, DefaultsAreEmbeddedSyncOnLoopback) {
  auto c = nf::config::parse("", "x", env_of({}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->bus.kind, nf::config::bus_kind::embedded);
  EXPECT_EQ(c->bus.embedded.mode, nf::config::durability::sync);
  EXPECT_EQ(c->http.listen, "127.0.0.1:7070");
  EXPECT_EQ(c->bus.max_event_bytes, 1 << 20);
  EXPECT_EQ(c->actor("anything").max_failures, 5u);
}

TEST(Config, GroupCommitWaitIsMicrosecondsWithinBounds) {
  auto d = nf::config::parse("", "x", env_of({}));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->bus.embedded.group_commit_wait_us, 400);
  auto off = nf::config::parse(R"({"bus":{"embedded":{"group_commit_wait_us":0}}})", "f.json", env_of({}));
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(off->bus.embedded.group_commit_wait_us, 0);
  for (const char* bad : {R"({"bus":{"embedded":{"group_commit_wait_us":-1}}})", R"({"bus":{"embedded":{"group_commit_wait_us":100001}}})"}) {
    auto r = nf::config::parse(bad, "f.json", env_of({}));
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("bus.embedded.group_commit_wait_us"), std::string::npos) << r.error().message;
  }
}

TEST(Config, ParsesEverySection) {
  auto c = nf::config::parse(R"({"data_dir":"/d","region":"eu","bus":{"kind":"kafka","kafka":{"bootstrap_servers":"h:1",
      "properties":{"linger.ms":"5"}},"embedded":{"durability":"async"}},"topics":{"a.b":{"partitions":6,"retention_ms":1000}},
      "actors":{"qa":{"mailbox_capacity":8,"max_failures":2}}})", "f.json", env_of({}));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->bus.kind, nf::config::bus_kind::kafka);
  EXPECT_EQ(c->bus.kafka.properties.at("linger.ms"), "5");
  EXPECT_EQ(c->bus.embedded.mode, nf::config::durability::async);
  EXPECT_EQ(c->topics.at("a.b").partitions, 6);
  EXPECT_EQ(c->topics.at("a.b").retention_ms, 1000);
  EXPECT_EQ(c->actor("qa").mailbox_capacity, 8u);
  EXPECT_EQ(c->actor("qa").max_failures, 2u);
}

TEST(Config, ErrorsNameTheKey) {
  auto unknown = nf::config::parse(R"({"bus":{"kindd":"x"}})", "f.json", env_of({}));
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("bus.kindd"), std::string::npos) << unknown.error().message;
  auto kind = nf::config::parse(R"({"bus":{"kind":"zookeeper"}})", "f.json", env_of({}));
  ASSERT_FALSE(kind);
  EXPECT_NE(kind.error().message.find("bus.kind"), std::string::npos);
  auto type = nf::config::parse(R"({"topics":{"t":{"partitions":"three"}}})", "f.json", env_of({}));
  ASSERT_FALSE(type);
  EXPECT_NE(type.error().message.find("topics.t.partitions"), std::string::npos);
  auto zero = nf::config::parse(R"({"bus":{"max_event_bytes":0}})", "f.json", env_of({}));
  ASSERT_FALSE(zero);
  EXPECT_NE(zero.error().message.find("bus.max_event_bytes"), std::string::npos);
  auto kafka = nf::config::parse(R"({"bus":{"kind":"kafka"}})", "f.json", env_of({}));
  ASSERT_FALSE(kafka);
  EXPECT_NE(kafka.error().message.find("bus.kafka.bootstrap_servers"), std::string::npos);
  auto malformed = nf::config::parse(R"({"bus":)", "f.json", env_of({}));
  ASSERT_FALSE(malformed);
  EXPECT_NE(malformed.error().message.find("malformed JSON"), std::string::npos);
}

TEST(Config, EnvironmentOverridesFile) {
  auto c = nf::config::parse(R"({"data_dir":"/file"})", "f.json",
                             env_of({{"NF_DATA_DIR", "/env"}, {"NF_BUS_KIND", "kafka"}, {"NF_KAFKA_BOOTSTRAP", "127.0.0.1:9"}}));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->data_dir, "/env");
  EXPECT_EQ(c->bus.kind, nf::config::bus_kind::kafka);
  EXPECT_EQ(c->bus.kafka.bootstrap_servers, "127.0.0.1:9");
  auto bad = nf::config::parse("", "f.json", env_of({{"NF_BUS_KIND", "nope"}}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("NF_BUS_KIND"), std::string::npos);
}

TEST(Config, MissingFileIsNotFound) {
  auto c = nf::config::load("/nonexistent/nexus.json", env_of({}));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, nf::errc::not_found);
}

}  // namespace

// A feature's section: a known key only once registered, checked at load (errors name the key),
// kept as JSON for the feature to read with the same strict rules.
TEST(Config, FeatureSectionsAreRegisteredCheckedAndKeptForTheirFeature) {
  auto no_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  auto unknown = nf::config::parse(R"({"demo_feature":{"size":3}})", "t.json", no_env);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("'demo_feature': unknown key"), std::string::npos) << unknown.error().message;
  nf::config::register_section("demo_feature", [](const std::string& text) -> nf::result<void> {
    NF_TRY_ASSIGN(auto r, nf::config::section_reader::parse("demo_feature", text, {"size"}));
    std::int64_t size = 1;
    NF_TRY(r.get("size", size));
    if (size <= 0) return r.bad("size", "must be greater than 0");
    return nf::ok();
  });
  auto good = nf::config::parse(R"({"demo_feature":{"size":3}})", "t.json", no_env);
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(nlohmann::json::parse(good->sections.at("demo_feature")), nlohmann::json({{"size", 3}}));
  auto bad = nf::config::parse(R"({"demo_feature":{"size":0}})", "t.json", no_env);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("config key 'demo_feature.size': must be greater than 0"), std::string::npos) << bad.error().message;
  auto extra = nf::config::parse(R"({"demo_feature":{"colour":"red"}})", "t.json", no_env);
  ASSERT_FALSE(extra);
  EXPECT_NE(extra.error().message.find("'demo_feature.colour': unknown key"), std::string::npos) << extra.error().message;
}
