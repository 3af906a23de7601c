// Kafka's default partitioner: values checked against Apache Kafka's own unit tests.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/bus/bus.h"
#include "tests/support/support.h"

namespace {

nlohmann::json vectors() {
  std::ifstream in(nf::test::vectors_dir() + "/murmur2.json");
  return nlohmann::json::parse(in);
}

TEST(Murmur2, MatchesKafkaReferenceVectors) {
  auto v = vectors();
  ASSERT_GE(v["vectors"].size(), 5u);
  for (const auto& x : v["vectors"]) {
    EXPECT_EQ(nf::bus::murmur2(x["key"].get<std::string>()), x["murmur2"].get<std::int32_t>()) << x["key"];
  }
}

TEST(Murmur2, PartitionIsPositiveHashModuloCount) {
  const auto v = vectors();  // the range below must not refer into a temporary
  for (const auto& x : v["vectors"]) {
    const auto key = x["key"].get<std::string>();
    const auto h = static_cast<std::uint32_t>(x["murmur2"].get<std::int32_t>()) & 0x7fffffffu;
    for (std::int32_t parts : {1, 3, 7, 12}) {
      EXPECT_EQ(nf::bus::partition_for_key(key, parts).get(), static_cast<std::int32_t>(h % static_cast<std::uint32_t>(parts)));
    }
  }
}

}  // namespace
