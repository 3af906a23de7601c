// Region routing decisions: nearest healthy region, a latency matrix over distance, down and
// overloaded regions passed over, lag penalties, and the client's own forms.
#include <gtest/gtest.h>

#include "actors/regions/routing.h"

namespace {

using namespace nf::regions;

// The product's five regions.
std::vector<region_state> five() {
  return {{"us-east", location{39.0, -77.5}, true, 0.2, 0},  {"us-west", location{45.6, -121.2}, true, 0.2, 0},
          {"eu-west", location{53.3, -6.3}, true, 0.2, 0},   {"ap-south", location{1.35, 103.8}, true, 0.2, 0},
          {"sa-east", location{-23.5, -46.6}, true, 0.2, 0}};
}

region_state& named(std::vector<region_state>& v, const std::string& n) {
  for (auto& r : v)
    if (r.name == n) return r;
  throw std::runtime_error("no " + n);
}

TEST(RegionRouting, GreatCircleDistanceMatchesKnownFigures) {
  // New York to London: about 5,570 km.
  EXPECT_NEAR(distance_km({40.7128, -74.0060}, {51.5074, -0.1278}), 5570, 15);
  EXPECT_NEAR(distance_km({0, 0}, {0, 180}), 20015, 5);  // half the equator
  EXPECT_DOUBLE_EQ(distance_km({10, 10}, {10, 10}), 0);
}

TEST(RegionRouting, TheNearestHealthyRegionWins) {
  auto r = route(*parse_client("50.1,8.7"), five(), {});  // Frankfurt
  ASSERT_TRUE(r);
  EXPECT_EQ(r->region, "eu-west");
  EXPECT_EQ(r->ranked.front().why, "chosen");
  EXPECT_EQ(r->ranked.size(), 5u);
  EXPECT_EQ(route(*parse_client("-33.9,18.4"), five(), {})->region, "sa-east");  // Cape Town: São Paulo (6,200 km) before Dublin (9,700)
  EXPECT_EQ(route(*parse_client("-34.6,-58.4"), five(), {})->region, "sa-east");  // Buenos Aires
  EXPECT_EQ(route(*parse_client("35.7,139.7"), five(), {})->region, "ap-south");  // Tokyo
  EXPECT_EQ(route(*parse_client("us-west"), five(), {})->region, "us-west");       // a region's client stays home
}

TEST(RegionRouting, AMeasuredLatencyBeatsTheDistanceEstimate) {
  routing_policy p;
  p.latency_ms["us-east"] = {{"us-east", 300}, {"us-west", 60}, {"eu-west", 75}};
  auto r = route(*parse_client("us-east"), five(), p);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->region, "us-west");
  EXPECT_DOUBLE_EQ(r->ranked.front().base_ms, 60);
}

TEST(RegionRouting, DownRegionsAreNeverChosenAndOverloadedOnlyWhenAllAre) {
  auto regions = five();
  named(regions, "eu-west").up = false;
  auto r = route(*parse_client("50.1,8.7"), regions, {});
  EXPECT_EQ(r->region, "us-east");
  EXPECT_EQ(r->ranked.back().region, "eu-west");
  EXPECT_EQ(r->ranked.back().why, "down");

  named(regions, "us-east").load = 0.95;
  r = route(*parse_client("50.1,8.7"), regions, {});
  EXPECT_NE(r->region, "us-east");
  EXPECT_NE(r->region, "eu-west");
  for (const auto& c : r->ranked) {
    if (c.region == "us-east") {
      EXPECT_EQ(c.why, "overloaded");
    }
  }

  for (auto& x : regions) x.load = 0.99;
  r = route(*parse_client("50.1,8.7"), regions, {});
  EXPECT_EQ(r->region, "us-east");  // every healthy one is overloaded: the nearest of them
  EXPECT_EQ(r->ranked.front().why, "chosen (every healthy region is overloaded)");

  for (auto& x : regions) x.up = false;
  r = route(*parse_client("50.1,8.7"), regions, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->region, "");
}

TEST(RegionRouting, ReplicationLagAndLoadAddToTheCost) {
  auto regions = five();
  // From Boston, us-east is far nearer than eu-west; a minute of lag makes it the worse choice.
  EXPECT_EQ(route(*parse_client("42.4,-71.1"), regions, {})->region, "us-east");
  named(regions, "us-east").lag_ms = 60'000;
  auto r = route(*parse_client("42.4,-71.1"), regions, {});
  EXPECT_NE(r->region, "us-east");
  routing_policy p;
  p.lag_penalty = 0;
  EXPECT_EQ(route(*parse_client("42.4,-71.1"), regions, p)->region, "us-east");
}

TEST(RegionRouting, ClientsAreRegionsOrPositions) {
  EXPECT_TRUE(parse_client("eu-west")->region);
  auto at = parse_client("40.7, -74.0");
  ASSERT_TRUE(at);
  EXPECT_DOUBLE_EQ(at->where->lat, 40.7);
  for (const char* bad : {"", "91,0", "0,181", "a,b", "1,", "x y", "nan,0", "1e999,0"}) EXPECT_FALSE(parse_client(bad)) << bad;
  EXPECT_EQ(route(*parse_client("mars"), five(), {}).error().code, nf::errc::not_found);
}

}  // namespace
