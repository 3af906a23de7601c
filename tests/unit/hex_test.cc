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

#include "core/base/base64.h"

TEST(Base64, EncodesPaddedAndUrlSafeAndRoundTrips) {
  EXPECT_EQ(nf::to_base64("foob"), "Zm9vYg==");
  const std::string bytes("\xfb\xff\x00 tokens", 10);
  EXPECT_EQ(nf::to_base64url(bytes).find_first_of("+/="), std::string::npos);
  EXPECT_EQ(nf::from_base64url(nf::to_base64url(bytes)), bytes);
  EXPECT_FALSE(nf::from_base64url("not base64!"));
  EXPECT_FALSE(nf::from_base64url("a"));
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", std::string("\x00\xff\x10", 3)}) EXPECT_EQ(nf::from_base64(nf::to_base64(s)), s);
  EXPECT_FALSE(nf::from_base64("Zm9vYg="));
  EXPECT_FALSE(nf::from_base64("Zm9v Yg=="));
  EXPECT_FALSE(nf::from_base64("Zm=vYg=="));
  EXPECT_FALSE(nf::from_base64("Zm9vYg-_"));
}
