// Hex encoding round trip and rejection of bad digits.
#include <gtest/gtest.h>

#include "core/base/hex.h"

TEST(Hex, RoundTripsBytesAndRejectsBadInput) {
  const std::string bytes("\x00\x7f\xff c/", 6);
  EXPECT_EQ(nf::to_hex(bytes), "007fff20632f");
  EXPECT_EQ(nf::from_hex("007FFF20632f"), bytes);
  EXPECT_FALSE(nf::from_hex("abc"));
  EXPECT_FALSE(nf::from_hex("zz"));
}
