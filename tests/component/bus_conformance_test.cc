// One conformance suite, run unchanged against the embedded bus and the Kafka bus (librdkafka's
// mock cluster with 3 brokers on loopback, started by the fixture).
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "core/bus/embedded.h"
#include "core/bus/kafka.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using namespace std::chrono_literals;

struct embedded_env {
  test::temp_dir dir;
  std::unique_ptr<bus::event_bus> bus;
  embedded_env() {
    bus::embedded_options o;
    o.path = dir.str();
    o.max_event_bytes = 64 * 1024;
    o.retention_check_ms = 0;
    auto b = bus::open_embedded(o);
    if (!b) throw std::runtime_error(b.error().message);
    bus = std::move(*b);
  }
};

struct kafka_env {
  std::unique_ptr<bus::kafka_mock_cluster> cluster;
  std::unique_ptr<bus::event_bus> bus;
  kafka_env() {
    auto mc = bus::kafka_mock_cluster::start(3);
    if (!mc) throw std::runtime_error(mc.error().message);
    cluster = std::move(*mc);
    bus::kafka_options o;
    o.bootstrap_servers = cluster->bootstrap_servers();
    o.mock = cluster.get();
    o.max_event_bytes = 64 * 1024;
    o.session_timeout_ms = 6000;
    o.metadata_refresh_ms = 200;
    auto b = bus::open_kafka(o);
    if (!b) throw std::runtime_error(b.error().message);
    bus = std::move(*b);
  }
};

template <class Env>
class BusConformance : public ::testing::Test {
 protected:
  Env env;
  bus::event_bus& b() { return *env.bus; }

  void create(const std::string& name, int partitions) {
    auto r = b().create_topic(topic_name{name}, {partitions, -1, -1});
    ASSERT_TRUE(r) << r.error().message;
  }

  std::vector<bus::message> read(const topic_partition& tp, std::int64_t from, std::size_t count) {
    auto c = b().make_consumer({});
    EXPECT_TRUE(c);
    EXPECT_TRUE((*c)->assign({{tp, offset{from}}}));
    std::vector<bus::message> out;
    test::wait_until([&] {
      auto got = (*c)->poll(200ms, count - out.size());
      EXPECT_TRUE(got);
      if (got) for (auto& m : *got) out.push_back(std::move(m));
      return out.size() >= count;
    }, 20s);
    return out;
  }
};

using Envs = ::testing::Types<embedded_env, kafka_env>;
struct env_names {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, embedded_env> ? "Embedded" : "Kafka";
  }
};
TYPED_TEST_SUITE(BusConformance, Envs, env_names);

TYPED_TEST(BusConformance, TheClusterHasOneStableId) {
  auto a = this->b().cluster_id();
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_FALSE(a->empty());
  EXPECT_EQ(*this->b().cluster_id(), *a);
}

TYPED_TEST(BusConformance, OffsetsAreMonotonicAndOrderIsKeptPerPartition) {
  this->create("orders", 3);
  std::map<std::int32_t, std::vector<std::string>> expected;
  std::map<std::int32_t, std::int64_t> next;
  for (int batch = 0; batch < 10; ++batch) {
    std::vector<bus::record> recs;
    for (int i = 0; i < 30; ++i) {
      const int n = batch * 30 + i;
      recs.push_back({"key-" + std::to_string(n % 10), "v" + std::to_string(n), 0, {}, std::nullopt});
    }
    auto res = this->b().append(topic_name{"orders"}, recs);
    ASSERT_TRUE(res) << res.error().message;
    ASSERT_EQ(res->size(), recs.size());
    for (std::size_t i = 0; i < recs.size(); ++i) {
      const auto p = (*res)[i].partition.get();
      EXPECT_EQ((*res)[i].off.get(), next[p]++) << "offsets must be dense and increasing per partition";
      expected[p].push_back(recs[i].value);
    }
  }
  for (const auto& [p, values] : expected) {
    auto msgs = this->read({topic_name{"orders"}, partition_id{p}}, 0, values.size());
    ASSERT_EQ(msgs.size(), values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(msgs[i].value, values[i]);
      EXPECT_EQ(msgs[i].off.get(), static_cast<std::int64_t>(i));
    }
    EXPECT_EQ(this->b().end_offset({topic_name{"orders"}, partition_id{p}})->get(), static_cast<std::int64_t>(values.size()));
  }
}

TYPED_TEST(BusConformance, KeyLandsOnKafkasMurmur2Partition) {
  this->create("keyed", 5);
  for (const std::string key : {"21", "foobar", "a-little-bit-long-string", "mission-42", "tenant/acme"}) {
    for (int i = 0; i < 3; ++i) {
      bus::record r{key, "x", 0, {}, std::nullopt};
      auto res = this->b().append(topic_name{"keyed"}, std::span<const bus::record>(&r, 1));
      ASSERT_TRUE(res);
      EXPECT_EQ((*res)[0].partition, bus::partition_for_key(key, 5)) << key;
    }
  }
}

TYPED_TEST(BusConformance, ReadsFromAnOffset) {
  this->create("from-offset", 1);
  std::vector<bus::record> recs;
  for (int i = 0; i < 20; ++i) recs.push_back({"", "v" + std::to_string(i), 0, {{"n", std::to_string(i)}}, std::nullopt});
  ASSERT_TRUE(this->b().append(topic_name{"from-offset"}, recs));
  auto msgs = this->read({topic_name{"from-offset"}, partition_id{0}}, 12, 8);
  ASSERT_EQ(msgs.size(), 8u);
  EXPECT_EQ(msgs.front().off.get(), 12);
  EXPECT_EQ(msgs.front().value, "v12");
  ASSERT_NE(msgs.front().find_header("n"), nullptr);
  EXPECT_EQ(*msgs.front().find_header("n"), "12");
  EXPECT_EQ(msgs.back().off.get(), 19);
}

TYPED_TEST(BusConformance, ReadsFromATimestamp) {
  this->create("from-time", 1);
  const std::int64_t base = 1'700'000'000'000;
  std::vector<bus::record> recs;
  for (int i = 0; i < 10; ++i) recs.push_back({"", "v" + std::to_string(i), base + i * 1000, {}, std::nullopt});
  ASSERT_TRUE(this->b().append(topic_name{"from-time"}, recs));
  topic_partition tp{topic_name{"from-time"}, partition_id{0}};
  EXPECT_EQ(this->b().offset_for_time(tp, base + 3500)->get(), 4);
  EXPECT_EQ(this->b().offset_for_time(tp, base + 3000)->get(), 3);
  EXPECT_EQ(this->b().offset_for_time(tp, base - 1)->get(), 0);
  EXPECT_EQ(this->b().offset_for_time(tp, base + 60'000)->get(), 10);
  auto msgs = this->read(tp, this->b().offset_for_time(tp, base + 7000)->get(), 3);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs.front().value, "v7");
  EXPECT_EQ(msgs.front().timestamp_ms, base + 7000);
}

TYPED_TEST(BusConformance, GroupResumesFromCommittedOffsetAfterConsumerIsRecreated) {
  this->create("resume", 1);
  std::vector<bus::record> recs;
  for (int i = 0; i < 30; ++i) recs.push_back({"k", "v" + std::to_string(i), 0, {}, std::nullopt});
  ASSERT_TRUE(this->b().append(topic_name{"resume"}, recs));
  bus::consumer_options o;
  o.group = "resumers";
  o.subscriptions = {"resume"};
  std::vector<bus::message> first;
  // Joining a group on librdkafka's mock cluster can take a session timeout or more when the
  // machine is loaded (the whole suite runs in parallel), hence the generous waits.
  {
    auto c = this->b().make_consumer(o);
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE(test::wait_until([&] {
      auto got = (*c)->poll(200ms, 10 - first.size());
      if (got) for (auto& m : *got) first.push_back(std::move(m));
      return first.size() >= 10;
    }, 90s));
    ASSERT_EQ(first.back().off.get(), 9);
    auto r = (*c)->commit();
    ASSERT_TRUE(r) << r.error().message;
  }
  auto committed = this->b().committed("resumers", {topic_name{"resume"}, partition_id{0}});
  ASSERT_TRUE(committed) << committed.error().message;
  ASSERT_TRUE(committed->has_value());
  EXPECT_EQ((*committed)->get(), 10);
  auto c = this->b().make_consumer(o);
  ASSERT_TRUE(c);
  std::vector<bus::message> second;
  ASSERT_TRUE(test::wait_until([&] {
    auto got = (*c)->poll(200ms, 5);
    if (got) for (auto& m : *got) second.push_back(std::move(m));
    return !second.empty();
  }, 90s));
  EXPECT_EQ(second.front().off.get(), 10) << "resumed consumer must start at the committed offset";
  EXPECT_EQ(second.front().value, "v10");
}

TYPED_TEST(BusConformance, WildcardSubscriptionPicksUpTopicsCreatedLater) {
  this->create("wild.a", 1);
  this->create("other.x", 1);
  bus::consumer_options o;
  o.group = "wildcards";
  o.subscriptions = {"wild.*"};
  auto c = this->b().make_consumer(o);
  ASSERT_TRUE(c) << c.error().message;
  bus::record ra{"k", "from-a", 0, {}, std::nullopt};
  bus::record rx{"k", "from-other", 0, {}, std::nullopt};
  ASSERT_TRUE(this->b().append(topic_name{"wild.a"}, std::span<const bus::record>(&ra, 1)));
  ASSERT_TRUE(this->b().append(topic_name{"other.x"}, std::span<const bus::record>(&rx, 1)));
  std::set<std::string> seen;
  auto drain = [&] {
    auto got = (*c)->poll(200ms, 100);
    if (got) for (auto& m : *got) seen.insert(m.topic.get() + ":" + m.value);
  };
  ASSERT_TRUE(test::wait_until([&] { drain(); return seen.count("wild.a:from-a") > 0; }, 30s));
  this->create("wild.b", 2);
  bus::record rb{"k", "from-b", 0, {}, std::nullopt};
  ASSERT_TRUE(this->b().append(topic_name{"wild.b"}, std::span<const bus::record>(&rb, 1)));
  ASSERT_TRUE(test::wait_until([&] { drain(); return seen.count("wild.b:from-b") > 0; }, 30s));
  EXPECT_EQ(seen.count("other.x:from-other"), 0u);
}

TYPED_TEST(BusConformance, GroupMembersSplitPartitionsWithoutOverlap) {
  this->create("shared", 4);
  bus::consumer_options o;
  o.group = "splitters";
  o.subscriptions = {"shared"};
  auto a = this->b().make_consumer(o);
  auto b = this->b().make_consumer(o);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  std::vector<topic_partition> pa, pb;
  ASSERT_TRUE(test::wait_until([&] {
    (void)(*a)->poll(50ms, 10);
    (void)(*b)->poll(50ms, 10);
    pa = (*a)->assignment();
    pb = (*b)->assignment();
    std::set<topic_partition> all(pa.begin(), pa.end());
    all.insert(pb.begin(), pb.end());
    return !pa.empty() && !pb.empty() && all.size() == 4 && pa.size() + pb.size() == 4;
  }, 60s)) << pa.size() << " + " << pb.size();
}

TYPED_TEST(BusConformance, OversizedEventIsRejectedWithAClearError) {
  this->create("big", 1);
  bus::record r{"k", std::string(65 * 1024, 'x'), 0, {}, std::nullopt};
  auto res = this->b().append(topic_name{"big"}, std::span<const bus::record>(&r, 1));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::too_large);
  EXPECT_NE(res.error().message.find("exceeds the maximum of 65536 bytes"), std::string::npos) << res.error().message;
  EXPECT_EQ(this->b().end_offset({topic_name{"big"}, partition_id{0}})->get(), 0);
}

TYPED_TEST(BusConformance, UnknownTopicIsNotFound) {
  bus::record r{"k", "v", 0, {}, std::nullopt};
  auto res = this->b().append(topic_name{"missing.topic"}, std::span<const bus::record>(&r, 1));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, errc::not_found);
}

TYPED_TEST(BusConformance, ListsCreatedTopicsWithPartitionCounts) {
  this->create("listed.one", 2);
  this->create("listed.two", 4);
  auto topics = this->b().list_topics();
  ASSERT_TRUE(topics);
  std::map<std::string, int> got;
  for (const auto& t : *topics) got[t.name.get()] = t.config.partitions;
  EXPECT_EQ(got["listed.one"], 2);
  EXPECT_EQ(got["listed.two"], 4);
  EXPECT_EQ(this->b().create_topic(topic_name{"listed.one"}, {2, -1, -1}).error().code, errc::already_exists);
}

// Kafka's cleanup.policy=compact on both buses: a keyless record is refused, offsets never change,
// and a reader from the start folds every key to its latest value (the embedded cleaner has run;
// the mock broker keeps everything, which reads the same).
TYPED_TEST(BusConformance, ACompactedTopicGivesEveryKeysLatestValueFromTheStartAtUnchangedOffsets) {
  bus::topic_config cfg{.partitions = 1, .compact = true};
  ASSERT_TRUE(this->b().create_topic(topic_name{"directory"}, cfg));
  const std::vector<std::pair<std::string, std::string>> writes{{"a", "1"}, {"b", "1"}, {"a", "2"}, {"c", "1"},
                                                                {"b", ""},  {"a", "3"}, {"d", "1"}};
  std::vector<bus::record> recs;
  for (const auto& [k, v] : writes) recs.push_back({.key = k, .value = v});
  auto placed = this->b().append(topic_name{"directory"}, recs);
  ASSERT_TRUE(placed) << placed.error().message;
  std::vector<bus::record> keyless{{.value = "no key"}};
  auto refused = this->b().append(topic_name{"directory"}, keyless);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  EXPECT_NE(refused.error().message.find("needs a key"), std::string::npos) << refused.error().message;

  if (auto* embedded = dynamic_cast<bus::embedded_bus*>(&this->b())) {
    auto removed = embedded->compact();
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_EQ(*removed, 3u) << "a@0, b@1 and a@2 are superseded; the tombstone stays for its delete retention";
  }
  const topic_partition tp{topic_name{"directory"}, partition_id{0}};
  EXPECT_EQ(this->b().end_offset(tp)->get(), 7);
  auto c = this->b().make_consumer({});
  ASSERT_TRUE(c);
  ASSERT_TRUE((*c)->assign({{tp, offset{0}}}));
  std::map<std::string, std::string> folded;
  std::int64_t last = -1;
  ASSERT_TRUE(test::wait_until([&] {
    auto got = (*c)->poll(200ms, 100);
    if (!got) return false;
    for (const auto& m : *got) {
      EXPECT_GT(m.off.get(), last);
      last = m.off.get();
      EXPECT_EQ(m.key, writes[static_cast<std::size_t>(m.off.get())].first) << "offset " << m.off.get() << " moved";
      EXPECT_EQ(m.value, writes[static_cast<std::size_t>(m.off.get())].second) << "offset " << m.off.get() << " moved";
      if (m.value.empty()) folded.erase(m.key);
      else folded[m.key] = m.value;
    }
    return last == 6;
  }, 20s));
  EXPECT_EQ(folded, (std::map<std::string, std::string>{{"a", "3"}, {"c", "1"}, {"d", "1"}}));

  bus::topic_config both{.partitions = 1, .retention_ms = 60'000, .compact = true};
  auto mixed = this->b().create_topic(topic_name{"compact-and-retention"}, both);
  ASSERT_FALSE(mixed);
  EXPECT_EQ(mixed.error().code, errc::invalid_argument);
}

}  // namespace
