// Independent clients read what our Kafka bus wrote: kcat and Debian's python3-kafka against
// librdkafka's mock cluster on loopback.
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/bus/kafka.h"
#include "core/event/codec.h"
#include "tests/support/support.h"

namespace {

using namespace nf;

class KafkaInterop : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mc = bus::kafka_mock_cluster::start(3);
    ASSERT_TRUE(mc);
    cluster_ = std::move(*mc);
    bus::kafka_options o;
    o.bootstrap_servers = cluster_->bootstrap_servers();
    o.mock = cluster_.get();
    auto b = bus::open_kafka(o);
    ASSERT_TRUE(b) << b.error().message;
    bus_ = std::move(*b);
    ASSERT_TRUE(bus_->create_topic(topic_name{"mission.prompts"}, {3, -1, -1}));
    for (int i = 0; i < kEvents; ++i) {
      event::new_event e;
      e.type = "mission.prompted";
      e.key = "mission-" + std::to_string(i % 7);
      e.tenant = "tenant-" + std::to_string(i % 2);
      e.payload_json = R"({"objective":"obj )" + std::to_string(i) + R"(","priority":"P1","originatingSpec":"https://spec"})";
      e.region = "eu";
      e.occurred_at = 1'700'000'000'000 + i;
      auto env = event::build(e);
      ASSERT_TRUE(env);
      records_.push_back(event::to_record(*env));
      ids_.insert(event::event_id::from_raw(env->id())->to_string());
    }
    auto res = bus_->append(topic_name{"mission.prompts"}, records_);
    ASSERT_TRUE(res) << res.error().message;
  }

  static constexpr int kEvents = 60;
  std::unique_ptr<bus::kafka_mock_cluster> cluster_;
  std::unique_ptr<bus::event_bus> bus_;
  std::vector<bus::record> records_;
  std::set<std::string> ids_;
};

TEST_F(KafkaInterop, KcatListsTheTopicWithItsPartitions) {
  auto r = test::run({"/usr/bin/kcat", "-L", "-b", cluster_->bootstrap_servers(), "-t", "mission.prompts"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("topic \"mission.prompts\" with 3 partitions"), std::string::npos) << r.out;
}

TEST_F(KafkaInterop, KcatReadsEveryEventWithKeysAndNfHeaders) {
  auto r = test::run({"/usr/bin/kcat", "-C", "-b", cluster_->bootstrap_servers(), "-t", "mission.prompts", "-e", "-q",
                      "-f", "%k|%p|%h\n"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  int count = 0;
  std::set<std::string> ids;
  std::map<std::string, int> per_key;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++count;
    const auto a = line.find('|'), b = line.find('|', a + 1);
    const std::string key = line.substr(0, a);
    const int partition = std::stoi(line.substr(a + 1, b - a - 1));
    const std::string headers = line.substr(b + 1);
    EXPECT_EQ(partition, bus::partition_for_key(key, 3).get()) << key;
    EXPECT_NE(headers.find("nf-type=mission.prompted"), std::string::npos) << headers;
    EXPECT_NE(headers.find("nf-tenant=tenant-"), std::string::npos) << headers;
    const auto idpos = headers.find("nf-id=");
    ASSERT_NE(idpos, std::string::npos) << headers;
    ids.insert(headers.substr(idpos + 6, 36));
    ++per_key[key];
  }
  EXPECT_EQ(count, kEvents);
  EXPECT_EQ(ids, ids_);
  EXPECT_EQ(per_key.size(), 7u);
  EXPECT_EQ(per_key["mission-0"], 9);  // i % 7 == 0 for i in [0, 60): 0,7,...,56
}

TEST_F(KafkaInterop, PythonKafkaReadsTheSameEvents) {
  const std::string script = R"(
import json, sys
from kafka import KafkaConsumer
c = KafkaConsumer('mission.prompts', bootstrap_servers=sys.argv[1].split(','), api_version=(2, 0, 0),
                  auto_offset_reset='earliest', consumer_timeout_ms=5000, enable_auto_commit=False)
out = []
for m in c:
    out.append({'key': m.key.decode(), 'partition': m.partition, 'headers': {k: v.decode() for k, v in m.headers}})
print(json.dumps(out))
)";
  auto r = test::run({"/usr/bin/python3", "-c", script, cluster_->bootstrap_servers()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), static_cast<std::size_t>(kEvents));
  std::set<std::string> ids;
  for (const auto& m : j) {
    EXPECT_EQ(m["headers"]["nf-type"], "mission.prompted");
    EXPECT_EQ(m["partition"].get<int>(), bus::partition_for_key(m["key"].get<std::string>(), 3).get());
    ids.insert(m["headers"]["nf-id"].get<std::string>());
  }
  EXPECT_EQ(ids, ids_);
}

}  // namespace
