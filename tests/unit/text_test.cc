// UTF-8 validation and sanitising, and the JSON nesting-depth scan, against RFC 3629's table and
// the documents that broke the server.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/base/text.h"

namespace {

using nf::json_depth;
using nf::sanitize_utf8;
using nf::valid_utf8;

TEST(Utf8, AcceptsWellFormedSequencesOfEveryLength) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(valid_utf8("\xc3\xa9"));              // é
  EXPECT_TRUE(valid_utf8("\xe2\x82\xac"));          // €
  EXPECT_TRUE(valid_utf8("\xf0\x9f\x98\x80"));      // U+1F600
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF, the last code point
  EXPECT_TRUE(valid_utf8("\xed\x9f\xbf"));          // U+D7FF, just below the surrogates
  EXPECT_TRUE(valid_utf8(std::string_view("a\0b", 3)));
}

TEST(Utf8, RefusesWhatRfc3629Forbids) {
  for (const char* bad : {"\xff", "\xfe", "\x80", "\xbf", "\xc0\xaf", "\xc1\xbf",  // stray, overlong two-byte
                          "\xe0\x80\xaf", "\xe0\x9f\xbf",                         // overlong three-byte
                          "\xed\xa0\x80", "\xed\xbf\xbf",                         // UTF-16 surrogates
                          "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",  // overlong, > U+10FFFF
                          "\xc3", "\xe2\x82", "\xf0\x9f\x98",                      // truncated
                          "\xc3\x28", "\xe2\x28\xa1"})                             // bad continuation
    EXPECT_FALSE(valid_utf8(bad)) << nlohmann::json(sanitize_utf8(bad)).dump();
  // Found after eight ASCII bytes, and in the last bytes of a long string.
  EXPECT_FALSE(valid_utf8("abcdefgh\xff"));
  EXPECT_FALSE(valid_utf8(std::string(1000, 'a') + "\xc3"));
}

TEST(Utf8, SanitisingReplacesEachBadByteAndKeepsTheRest) {
  EXPECT_EQ(sanitize_utf8("/agents/\xff"), "/agents/\xef\xbf\xbd");
  EXPECT_EQ(sanitize_utf8("\xc3\xa9\xc0\xaf!"), "\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd!");
  EXPECT_TRUE(valid_utf8(sanitize_utf8("\xed\xa0\x80\xf4\x90\x80\x80 ok")));
  // What the audit writer does with it: nlohmann dumps it without throwing.
  const nlohmann::json record = {{"target", sanitize_utf8("/agents/\xff")}};
  EXPECT_NO_THROW((void)record.dump());
}

TEST(JsonDepth, CountsArraysAndObjectsOutsideStrings) {
  EXPECT_EQ(json_depth("1", 64), 0u);
  EXPECT_EQ(json_depth("{}", 64), 1u);
  EXPECT_EQ(json_depth(R"({"a":[{"b":[1]}]})", 64), 4u);
  EXPECT_EQ(json_depth(R"({"a":"[[[[{{{{"})", 64), 1u);
  EXPECT_EQ(json_depth(R"({"a":"\"[[[[\\"})", 64), 1u) << "escaped quotes do not end the string";
  EXPECT_EQ(json_depth("[[]] [[[ ]]]", 64), 3u);
}

TEST(JsonDepth, StopsCountingPastTheLimitOnADocumentThatWouldOverflowTheStack) {
  const std::string deep = R"({"kind":"k","json":)" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  EXPECT_EQ(json_depth(deep, nf::kMaxJsonDepth), nf::kMaxJsonDepth + 1);
  const std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_EQ(json_depth(ok, nf::kMaxJsonDepth), 64u);
  EXPECT_EQ(json_depth("[" + ok + "]", nf::kMaxJsonDepth), nf::kMaxJsonDepth + 1);
}

}  // namespace
