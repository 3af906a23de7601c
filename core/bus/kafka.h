// The Kafka bus: librdkafka with an idempotent producer (acks=all), consumer groups with
// cooperative rebalancing and regex subscriptions for topic patterns.
//
// Partitions are chosen by this library with Kafka's murmur2 partitioner (librdkafka's default
// differs), so keys land where the embedded bus and Java clients put them. Each message carries
// the headers it was given; the event layer adds nf-type, nf-id and nf-tenant.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "core/bus/bus.h"

namespace nf::bus {

class kafka_mock_cluster;

struct kafka_options {
  std::string bootstrap_servers;
  std::map<std::string, std::string> properties;   // passed to every librdkafka client unchanged
  std::size_t max_event_bytes = 1 << 20;
  std::int32_t session_timeout_ms = 10'000;
  std::int32_t metadata_refresh_ms = 5'000;        // how soon patterns see topics created later
  std::int32_t fetch_wait_ms = 100;                // fetch.wait.max.ms (a property of that name wins)
  std::chrono::milliseconds request_timeout{10'000};
  // Set when the cluster is librdkafka's in-process mock, which does not implement the
  // CreateTopics API: topics are then created through the mock's own call.
  kafka_mock_cluster* mock = nullptr;
};

result<std::unique_ptr<event_bus>> open_kafka(const kafka_options& opts);

// librdkafka's mock cluster: real Kafka protocol on loopback, for tests and for trying Kafka mode
// without a broker. Data lives in memory and ends with the object.
class kafka_mock_cluster {
 public:
  static result<std::unique_ptr<kafka_mock_cluster>> start(int brokers = 3);
  ~kafka_mock_cluster();
  kafka_mock_cluster(const kafka_mock_cluster&) = delete;
  kafka_mock_cluster& operator=(const kafka_mock_cluster&) = delete;

  const std::string& bootstrap_servers() const { return bootstrap_; }
  result<void> create_topic(const std::string& name, std::int32_t partitions);

 private:
  kafka_mock_cluster() = default;
  struct handles;
  std::unique_ptr<handles> h_;
  std::string bootstrap_;
};

}  // namespace nf::bus
