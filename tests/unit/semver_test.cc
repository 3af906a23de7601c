// SemVer 2.0.0 and npm's ranges: the spec's precedence example, strict parsing, node-semver's
// rewritings, the prerelease rule, and a comparison with npm's own semver package (run with node
// from tests/semver, installed by scripts/deps.sh) on 12,000 generated version/range pairs.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "actors/marketplace/semver.h"

namespace {

using namespace nf::marketplace;
using nlohmann::json;

version v(const std::string& s) { return parse_version(s).value(); }
bool sat(const std::string& ver, const std::string& rng) { return satisfies(v(ver), range::parse(rng).value()); }

TEST(Semver, PrecedenceIsTheSpecsExample) {
  const std::vector<std::string> order{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                                       "1.0.0-beta.11", "1.0.0-rc.1",  "1.0.0",          "1.0.1",      "1.1.0", "2.0.0"};
  for (std::size_t i = 0; i + 1 < order.size(); ++i) {
    EXPECT_LT(compare(v(order[i]), v(order[i + 1])), 0) << order[i] << " < " << order[i + 1];
    EXPECT_GT(compare(v(order[i + 1]), v(order[i])), 0);
  }
  EXPECT_EQ(compare(v("1.0.0+build.1"), v("1.0.0+build.2")), 0) << "build metadata has no precedence";
  EXPECT_EQ(v("1.2.3-rc.1+sha.5").to_string_with_build(), "1.2.3-rc.1+sha.5");
}

TEST(Semver, ParsingIsStrictAndSaysWhy) {
  for (const auto* good : {"0.0.0", "1.2.3", "10.20.30", "1.0.0-0a", "1.0.0-x-y.7", "1.0.0+001", "9007199254740991.0.0"})
    EXPECT_TRUE(parse_version(good)) << good;
  for (const auto* bad : {"", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1.2.3-a..b", "v1.2.3", " 1.2.3",
                          "1.2.3 ", "9007199254740992.0.0", "1.2.3-é", "-1.2.3"}) {
    auto r = parse_version(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("is not a SemVer 2.0.0 version"), std::string::npos) << r.error().message;
    }
  }
  EXPECT_FALSE(parse_version(std::string(300, '1'))) << "longer than 256 characters";
}

TEST(Semver, RangesRewriteAsNodeSemverDoes) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"^1.2.3", ">=1.2.3 <2.0.0-0"},          {"^0.2.3", ">=0.2.3 <0.3.0-0"},
      {"^0.0.3", ">=0.0.3 <0.0.4-0"},          {"^1.2.3-beta.2", ">=1.2.3-beta.2 <2.0.0-0"},
      {"^0.0.x", ">=0.0.0 <0.1.0-0"},          {"^1.x", ">=1.0.0 <2.0.0-0"},
      {"~1.2.3", ">=1.2.3 <1.3.0-0"},          {"~1", ">=1.0.0 <2.0.0-0"},
      {"~> 1.2", ">=1.2.0 <1.3.0-0"},          {"1.2.3 - 2.3.4", ">=1.2.3 <=2.3.4"},
      {"1.2 - 2.3", ">=1.2.0 <2.4.0-0"},       {"1.x || >=2.5.0 || 5.0.0 - 7.2.3", ">=1.0.0 <2.0.0-0||>=2.5.0||>=5.0.0 <=7.2.3"},
      {">1.2", ">=1.3.0"},                     {"<=1.2", "<1.3.0-0"},
      {"<1", "<1.0.0-0"},                      {"> 1.2.3  <  2", ">1.2.3 <2.0.0-0"},
      {"*", "*"},                              {"", "*"},
      {">*", "<0.0.0-0"},                      {"=1.2.x", ">=1.2.0 <1.3.0-0"}};
  for (const auto& [in, out] : cases) {
    auto r = range::parse(in);
    ASSERT_TRUE(r) << in << ": " << r.error().message;
    EXPECT_EQ(r->to_string(), out) << in;
  }
  for (const auto* bad : {"^01.2.3", ">=", "1.2.3 - ", "- 1.2.3", "~1.2.3.4", "^a", ">==1.2.3", "1.2.3 -2", "x.y.z"}) EXPECT_FALSE(range::parse(bad)) << bad;
  // A prerelease in a range becomes a version of its own, held to the 256-character limit (the
  // semver fuzzer found "^1.2.3-<300 letters>" parsing while its canonical form did not).
  const std::string long_pre(300, 'a');
  for (const auto& bad : {"^1.2.3-" + long_pre, "~1.2.3-" + long_pre, "1.0.0 - 1.2.3-" + long_pre, ">=1.2.3-" + long_pre})
    EXPECT_FALSE(range::parse(bad)) << bad.substr(0, 20);
  auto fits = range::parse("^1.2.3-" + std::string(250, 'a'));
  ASSERT_TRUE(fits);
  EXPECT_TRUE(range::parse(fits->to_string()));
}

TEST(Semver, APrereleaseMatchesOnlyARangeWithAPrereleaseOnTheSameVersion) {
  EXPECT_TRUE(sat("1.2.3-beta.4", "^1.2.3-beta.2"));
  EXPECT_FALSE(sat("1.2.4-beta.4", "^1.2.3-beta.2")) << "a prerelease of another patch";
  EXPECT_FALSE(sat("1.3.0-beta", "^1.2.3"));
  EXPECT_FALSE(sat("2.0.0-0", "^1.2.3"));
  EXPECT_FALSE(sat("1.0.0-rc.1", "*"));
  EXPECT_TRUE(sat("1.2.3", "*"));
  EXPECT_TRUE(sat("3.0.0-alpha", ">=3.0.0-alpha <3.0.0"));
  const std::vector<version> vs{v("1.2.3"), v("1.4.0"), v("2.0.0-rc.1"), v("1.9.9+b"), v("2.0.0")};
  EXPECT_EQ(max_satisfying(vs, range::parse("^1.2.0").value())->to_string_with_build(), "1.9.9+b");
  EXPECT_EQ(max_satisfying(vs, range::parse(">=2.0.0-rc.0 <2.0.0").value())->to_string(), "2.0.0-rc.1");
  EXPECT_FALSE(max_satisfying(vs, range::parse("^3").value()));
}

// Generated versions and ranges (a fixed seed), answered by npm's semver and by ours.
std::string gen_version(std::mt19937_64& rng) {
  static const char* nums[] = {"0", "1", "2", "3", "10"};
  static const char* pres[] = {"alpha", "alpha.1", "beta.2", "beta.11", "rc.1", "0", "1", "x-y", "alpha.beta"};
  auto pick = [&](auto& arr) { return std::string(arr[rng() % (sizeof(arr) / sizeof(arr[0]))]); };
  if (rng() % 40 == 0) return rng() % 2 ? "01.2.3" : "1.2";
  std::string s = pick(nums) + "." + pick(nums) + "." + pick(nums);
  if (rng() % 3 == 0) s += "-" + pick(pres);
  if (rng() % 10 == 0) s += "+b.7";
  return s;
}

std::string gen_partial(std::mt19937_64& rng) {
  static const char* nums[] = {"0", "1", "2", "3", "10"};
  static const char* xs[] = {"x", "X", "*"};
  static const char* pres[] = {"alpha", "beta.2", "rc.1", "0"};
  const int parts = 1 + static_cast<int>(rng() % 3);
  std::string s;
  bool any_x = false;
  for (int i = 0; i < parts; ++i) {
    if (i) s += ".";
    if (rng() % 6 == 0) {
      s += xs[rng() % 3];
      any_x = true;
    } else {
      s += nums[rng() % 5];
    }
  }
  if (parts == 3 && !any_x && rng() % 4 == 0) s += std::string("-") + pres[rng() % 4];
  return s;
}

std::string gen_range(std::mt19937_64& rng) {
  static const char* ops[] = {"", "=", "<", "<=", ">", ">=", "~", "^", "~>", "> "};
  std::string out;
  const int sets = 1 + static_cast<int>(rng() % 3);
  for (int i = 0; i < sets; ++i) {
    if (i) out += rng() % 2 ? " || " : "||";
    if (rng() % 8 == 0) {
      out += gen_partial(rng) + " - " + gen_partial(rng);
      continue;
    }
    if (rng() % 25 == 0) {
      out += rng() % 2 ? "*" : "x";
      continue;
    }
    const int comps = 1 + static_cast<int>(rng() % 2);
    for (int c = 0; c < comps; ++c) {
      if (c) out += " ";
      out += std::string(ops[rng() % 10]) + gen_partial(rng);
    }
  }
  if (rng() % 50 == 0) out += " ^01.2";  // an invalid one now and then
  return out;
}

TEST(Semver, AgreesWithNpmsSemverOn12000GeneratedPairs) {
  std::mt19937_64 rng(20261203);
  const auto dir = std::filesystem::temp_directory_path() / ("nf-semver-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  struct cleanup {
    std::filesystem::path d;
    ~cleanup() { std::filesystem::remove_all(d); }
  } clean{dir};
  std::vector<std::pair<std::string, std::vector<std::string>>> cases;
  {
    std::ofstream in(dir / "in.jsonl");
    for (int i = 0; i < 1000; ++i) {
      std::vector<std::string> vs;
      for (int k = 0; k < 12; ++k) vs.push_back(gen_version(rng));
      cases.emplace_back(gen_range(rng), vs);
      in << json{{"r", cases.back().first}, {"vs", vs}}.dump() << "\n";
    }
  }
  const std::string cmd = "node " + std::string(NF_SOURCE_DIR) + "/tests/semver/check.mjs < " + (dir / "in.jsonl").string() + " > " +
                          (dir / "out.jsonl").string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "npm's semver (tests/semver, scripts/deps.sh installs it) must answer: " << cmd;
  std::ifstream out(dir / "out.jsonl");
  std::string line;
  std::size_t n = 0, pairs = 0, valid_ranges = 0;
  for (; std::getline(out, line); ++n) {
    ASSERT_LT(n, cases.size());
    const auto& [r, vs] = cases[n];
    const auto npm = json::parse(line);
    auto ours = range::parse(r);
    ASSERT_EQ(bool(ours), npm["range"].get<bool>()) << "range validity of '" << r << "'" << (ours ? "" : ": " + ours.error().message);
    std::vector<version> valid;
    for (std::size_t k = 0; k < vs.size(); ++k) {
      auto ver = parse_version(vs[k]);
      ASSERT_EQ(bool(ver), npm["valid"][k].get<bool>()) << "validity of '" << vs[k] << "'";
      if (!ver) continue;
      valid.push_back(*ver);
      ++pairs;
      if (ours) {
        ASSERT_EQ(satisfies(*ver, *ours), npm["sat"][k].get<bool>()) << "'" << vs[k] << "' in '" << r << "' (ours: " << ours->to_string() << ")";
      }
    }
    if (!ours) continue;
    ++valid_ranges;
    auto best = max_satisfying(valid, *ours);
    if (npm["max"].is_null()) {
      EXPECT_FALSE(best) << r;
    } else {
      EXPECT_EQ(best ? best->to_string_with_build() : "", npm["max"].get<std::string>()) << r;
    }
  }
  EXPECT_EQ(n, cases.size());
  EXPECT_GE(pairs, 11'000u);
  EXPECT_GE(valid_ranges, 900u);
}

}  // namespace
