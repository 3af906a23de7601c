// Event ids: UUIDv7 layout and deterministic derived ids.
#include <set>

#include <gtest/gtest.h>

#include "core/event/ids.h"

using nf::event::event_id;

TEST(EventIds, Uuidv7CarriesTimestampVersionAndVariant) {
  const std::int64_t ms = 0x0123456789AB;
  auto id = nf::event::new_uuidv7(ms);
  std::int64_t got = 0;
  for (int i = 0; i < 6; ++i) got = (got << 8) | id.bytes[static_cast<std::size_t>(i)];
  EXPECT_EQ(got, ms);
  EXPECT_EQ(id.bytes[6] >> 4, 7);
  EXPECT_EQ(id.bytes[8] >> 6, 2);
  EXPECT_EQ(id.to_string().size(), 36u);
  EXPECT_EQ(id.to_string()[14], '7');
}

TEST(EventIds, Uuidv7AreUniqueAndSortByTime) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(nf::event::new_uuidv7(1000).to_string());
  EXPECT_EQ(seen.size(), 10000u);
  EXPECT_LT(nf::event::new_uuidv7(1000).to_string().substr(0, 13), nf::event::new_uuidv7(2000).to_string().substr(0, 13));
}

TEST(EventIds, DerivedIdsAreDeterministicAndDistinct) {
  auto cause = nf::event::new_uuidv7(42);
  auto a = nf::event::derive_id(cause, "mission_control", 0);
  EXPECT_EQ(a, nf::event::derive_id(cause, "mission_control", 0));
  EXPECT_NE(a, nf::event::derive_id(cause, "mission_control", 1));
  EXPECT_NE(a, nf::event::derive_id(cause, "qa", 0));
  EXPECT_NE(a, nf::event::derive_id(nf::event::new_uuidv7(42), "mission_control", 0));
  EXPECT_EQ(a.bytes[6] >> 4, 8);
}

TEST(EventIds, ParseRoundTripsAndRejectsGarbage) {
  auto id = nf::event::new_uuidv7(5);
  auto back = event_id::parse(id.to_string());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, id);
  EXPECT_FALSE(event_id::parse("not-a-uuid"));
  EXPECT_FALSE(event_id::parse("0123456789abcdef0123456789abcdef0123"));
  EXPECT_FALSE(event_id::parse("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"));
  EXPECT_FALSE(event_id::from_raw("short"));
}
