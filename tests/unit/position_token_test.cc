// Read-your-writes tokens: round trip, and every damaged or foreign token refused by name.
#include <gtest/gtest.h>

#include "core/base/base64.h"
#include "core/bus/position_token.h"

namespace {

using namespace nf;
using bus::position;

position at(const char* topic, std::int32_t p, std::int64_t off) { return {{topic_name{topic}, partition_id{p}}, offset{off}}; }

TEST(PositionToken, RoundTripsEveryPosition) {
  const std::vector<position> ps{at("mission.prompts", 2, 41), at("tenancy.tenants", 0, 0), at("t", 9999, 1LL << 40)};
  const auto token = bus::encode_position_token("cluster-a", ps);
  EXPECT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos)
      << "a token is header-safe text";
  auto back = bus::decode_position_token(token, "cluster-a");
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, ps);
  auto none = bus::decode_position_token(bus::encode_position_token("cluster-a", {}), "cluster-a");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(PositionToken, AnotherClustersTokenIsRefusedNamingBothClusters) {
  const auto token = bus::encode_position_token("cluster-a", {at("x", 0, 1)});
  auto r = bus::decode_position_token(token, "cluster-b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_NE(r.error().message.find("another cluster"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("cluster-a"), std::string::npos) << r.error().message;
}

TEST(PositionToken, EveryChangedByteAndEveryCutIsRefused) {
  const auto token = bus::encode_position_token("cluster-a", {at("mission.prompts", 1, 7), at("evidence.records", 0, 3)});
  const auto raw = *from_base64url(token);
  for (std::size_t i = 0; i < raw.size(); ++i)
    for (int bit = 0; bit < 8; ++bit) {
      auto damaged = raw;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      auto r = bus::decode_position_token(to_base64url(damaged), "cluster-a");
      EXPECT_FALSE(r) << "byte " << i << " bit " << bit;
    }
  for (std::size_t n = 0; n < raw.size(); ++n) EXPECT_FALSE(bus::decode_position_token(to_base64url(raw.substr(0, n)), "cluster-a")) << n;
  for (const char* junk : {"", "!!!", "not a token", "AAAA", "////"}) {
    auto r = bus::decode_position_token(junk, "cluster-a");
    ASSERT_FALSE(r) << junk;
    EXPECT_NE(r.error().message.find("not a position token"), std::string::npos) << r.error().message;
  }
}

TEST(PositionToken, MergeKeepsTheHighestOffsetPerPartition) {
  auto m = bus::merge_positions({at("a", 0, 5), at("a", 1, 2)}, {at("a", 0, 3), at("b", 0, 9), at("a", 1, 4)});
  EXPECT_EQ(m, (std::vector<position>{at("a", 0, 5), at("a", 1, 4), at("b", 0, 9)}));
}

}  // namespace
