// The manual clock fires timers in time order only when advanced.
#include <vector>

#include <gtest/gtest.h>

#include "core/base/clock.h"

TEST(ManualClock, FiresDueTimersInOrderOnAdvance) {
  nf::manual_clock c(1000);
  std::vector<int> fired;
  c.schedule_after(std::chrono::milliseconds(50), [&] { fired.push_back(2); });
  c.schedule_after(std::chrono::milliseconds(10), [&] { fired.push_back(1); });
  c.schedule_after(std::chrono::milliseconds(500), [&] { fired.push_back(3); });
  c.advance(std::chrono::milliseconds(9));
  EXPECT_TRUE(fired.empty());
  c.advance(std::chrono::milliseconds(100));
  EXPECT_EQ(fired, (std::vector<int>{1, 2}));
  EXPECT_EQ(c.now_ms(), 1109);
  EXPECT_EQ(c.pending(), 1u);
}
