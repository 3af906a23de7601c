// Topic patterns and names.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/bus/bus.h"

using nf::bus::topic_matches;

TEST(TopicPatterns, StarMatchesAnyRun) {
  EXPECT_TRUE(topic_matches("mission.*", "mission.prompts"));
  EXPECT_TRUE(topic_matches("mission.*", "mission."));
  EXPECT_FALSE(topic_matches("mission.*", "missions.x"));
  EXPECT_FALSE(topic_matches("mission.*", "marketplace.agents"));
  EXPECT_TRUE(topic_matches("*.agents", "marketplace.agents"));
  EXPECT_TRUE(topic_matches("a*b*c", "axxbyyc"));
  EXPECT_FALSE(topic_matches("a*b*c", "axxbyy"));
  EXPECT_TRUE(topic_matches("exact", "exact"));
}

TEST(TopicPatterns, AnExclamationMarkLeavesAPatternOut) {
  const std::vector<std::string> subs{"*", "!tenancy.*", "!platform.deadletter"};
  EXPECT_TRUE(nf::bus::subscribed_by(subs, "orders"));
  EXPECT_TRUE(nf::bus::subscribed_by(subs, "platform.instances"));
  EXPECT_FALSE(nf::bus::subscribed_by(subs, "tenancy.audit"));
  EXPECT_FALSE(nf::bus::subscribed_by(subs, "platform.deadletter"));
  EXPECT_FALSE(nf::bus::subscribed_by({"!orders"}, "orders"));
  EXPECT_FALSE(nf::bus::subscribed_by({"!orders"}, "other"));  // nothing included
}

TEST(TopicPatterns, RegexFormEscapesDots) {
  EXPECT_EQ(nf::bus::pattern_to_regex("mission.*"), "^mission\\..*$");
}

TEST(TopicNames, FollowKafkaRules) {
  EXPECT_TRUE(nf::bus::validate_topic_name("mission.prompts"));
  EXPECT_TRUE(nf::bus::validate_topic_name("a_b-c.9"));
  EXPECT_FALSE(nf::bus::validate_topic_name(""));
  EXPECT_FALSE(nf::bus::validate_topic_name("has space"));
  EXPECT_FALSE(nf::bus::validate_topic_name("slash/no"));
  EXPECT_FALSE(nf::bus::validate_topic_name(std::string(250, 'a')));
}
