// Dependency resolution: the highest versions of a closure in install order; a solution found
// where a greedy pick fails; conflicts explained as the chain of requirements; cycles named by
// their path; and, on thousands of generated registries, a solution exactly when an exhaustive
// search finds one, every solution meeting every range.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "actors/marketplace/resolver.h"

namespace {

using namespace nf::marketplace;

// name -> version -> dependencies
using registry = std::map<std::string, std::map<std::string, std::vector<dependency>>>;

package_source source_of(const registry& reg) {
  return [&reg](std::string_view name) -> std::optional<std::vector<candidate>> {
    auto it = reg.find(std::string(name));
    if (it == reg.end()) return std::nullopt;
    std::vector<candidate> out;
    for (const auto& [v, deps] : it->second) out.push_back(candidate{*parse_version(v), deps, "sha-" + std::string(name) + "-" + v});
    return out;
  };
}

resolution solved(const std::variant<resolution, resolve_failure>& r) {
  if (auto* f = std::get_if<resolve_failure>(&r)) {
    ADD_FAILURE() << to_string(f->what) << ": " << f->message;
    return {};
  }
  return std::get<resolution>(r);
}

std::map<std::string, std::string> versions_of(const resolution& r) {
  std::map<std::string, std::string> out;
  for (const auto& p : r.packages) out[p.name] = p.ver.to_string();
  return out;
}

TEST(Resolver, PicksTheHighestVersionsOfTheClosureInInstallOrder) {
  registry reg{{"app", {{"1.0.0", {{"http", "^2.0.0"}, {"log", "~1.2.0"}}}, {"1.1.0", {{"http", "^2.1.0"}, {"log", "~1.2.0"}}}}},
               {"http", {{"2.0.0", {{"log", ">=1.0.0"}}}, {"2.3.1", {{"log", ">=1.0.0"}}}, {"3.0.0", {}}}},
               {"log", {{"1.2.0", {}}, {"1.2.9", {}}, {"1.3.0", {}}, {"1.3.0-rc.1", {}}}},
               {"unused", {{"1.0.0", {}}}}};
  const auto r = solved(resolve("app", "^1.0.0", source_of(reg)));
  EXPECT_EQ(versions_of(r), (std::map<std::string, std::string>{{"app", "1.1.0"}, {"http", "2.3.1"}, {"log", "1.2.9"}}));
  EXPECT_EQ(r.order, (std::vector<std::string>{"log@1.2.9", "http@2.3.1", "app@1.1.0"}));
  ASSERT_EQ(r.packages.size(), 3u);
  EXPECT_EQ(r.packages[0].name, "app");
  EXPECT_EQ(r.packages[0].digest, "sha-app-1.1.0");
  EXPECT_EQ(r.packages[0].dependencies, (std::vector<std::string>{"http", "log"}));
}

TEST(Resolver, AGreedyFirstPickThatFailsIsUndone) {
  // The newest app needs shared ^2, which tool cannot live with: the answer is the older app.
  registry reg{{"root-app", {{"1.0.0", {{"app", "^1.0.0"}, {"tool", "^1.0.0"}}}}},
               {"app", {{"1.0.0", {{"shared", "^1.0.0"}}}, {"1.1.0", {{"shared", "^2.0.0"}}}}},
               {"tool", {{"1.0.0", {{"shared", "^1.0.0"}}}}},
               {"shared", {{"1.0.0", {}}, {"2.0.0", {}}}}};
  const auto r = solved(resolve("root-app", "*", source_of(reg)));
  EXPECT_EQ(versions_of(r), (std::map<std::string, std::string>{{"root-app", "1.0.0"}, {"app", "1.0.0"}, {"tool", "1.0.0"}, {"shared", "1.0.0"}}));
}

TEST(Resolver, AConflictIsExplainedAsTheChainOfRequirements) {
  registry reg{{"app", {{"1.0.0", {{"b", "^2.0.0"}, {"c", "^1.0.0"}}}}},
               {"b", {{"1.0.0", {}}, {"1.5.0", {}}, {"2.0.0", {}}}},
               {"c", {{"1.3.0", {{"b", "^1.0.0"}}}}}};
  auto r = resolve("app", "^1.0.0", source_of(reg));
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  const auto& f = std::get<resolve_failure>(r);
  EXPECT_EQ(f.what, resolve_failure::kind::unsatisfiable);
  EXPECT_NE(f.message.find("app@1.0.0 needs b ^2.0.0"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("c@1.3.0 needs b ^1.0.0"), std::string::npos) << f.message;
  EXPECT_NE(f.message.find("app@1.0.0 needs c ^1.0.0"), std::string::npos) << f.message;
  // For tools: every fact with its parts, and the derivation a person can follow line by line.
  bool found = false;
  for (const auto& fact : f.explanation["facts"])
    if (fact["kind"] == "dependency" && fact["package"] == "c" && fact["version"] == "1.3.0" && fact["dependency"] == "b" &&
        fact["range"] == "^1.0.0")
      found = true;
  EXPECT_TRUE(found) << f.explanation.dump();
  ASSERT_FALSE(f.explanation["derivation"].empty());
  EXPECT_EQ(f.explanation["derivation"].back()["so"], "the request cannot be met") << f.explanation.dump(2);
}

TEST(Resolver, RangesThatMatchNothingAndUnknownPackagesAreNamed) {
  registry reg{{"app", {{"1.0.0", {{"ghost", "^1.0.0"}}}, {"2.0.0", {{"b", "^9.0.0"}}}}}, {"b", {{"1.0.0", {}}}}};
  auto r = resolve("app", ">=2.0.0", source_of(reg));
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  EXPECT_NE(std::get<resolve_failure>(r).message.find("app@2.0.0 needs b ^9.0.0, which no published version satisfies"), std::string::npos)
      << std::get<resolve_failure>(r).message;
  r = resolve("app", "1.0.0", source_of(reg));
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  EXPECT_NE(std::get<resolve_failure>(r).message.find("app@1.0.0 needs ghost ^1.0.0, which is not in the marketplace"), std::string::npos)
      << std::get<resolve_failure>(r).message;
  r = resolve("nobody", "*", source_of(reg));
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  EXPECT_NE(std::get<resolve_failure>(r).message.find("the request needs nobody *, which is not in the marketplace"), std::string::npos);
  r = resolve("app", "^^1", source_of(reg));
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  EXPECT_EQ(std::get<resolve_failure>(r).what, resolve_failure::kind::invalid);
}

TEST(Resolver, ACycleIsNamedByItsPath) {
  registry reg{{"app", {{"1.0.0", {{"a", "^1.0.0"}}}}},
               {"a", {{"1.0.0", {{"b", "^1.0.0"}}}}},
               {"b", {{"1.0.0", {{"c", "^1.0.0"}}}}},
               {"c", {{"1.0.0", {{"a", "^1.0.0"}}}}}};
  auto r = resolve("app", "*", source_of(reg));
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  const auto& f = std::get<resolve_failure>(r);
  EXPECT_EQ(f.what, resolve_failure::kind::cycle);
  EXPECT_EQ(f.cycle, (std::vector<std::string>{"a@1.0.0", "b@1.0.0", "c@1.0.0", "a@1.0.0"}));
  EXPECT_EQ(f.message, "dependency cycle: a@1.0.0 -> b@1.0.0 -> c@1.0.0 -> a@1.0.0");
}

TEST(Resolver, APackageThatNeedsItselfIsACycleOrCannotBeInstalled) {
  // Found by fuzz/resolver_fuzz.cc: a self-dependency once gave an incompatibility with two terms
  // on one package, which the conflict resolution could not backjump from.
  registry reg{{"app", {{"1.0.0", {{"self", "^1.0.0"}}}}},
               {"self", {{"1.0.0", {{"self", "^2.0.0"}}}, {"2.0.0", {{"self", "^2.0.0"}}}}}};
  auto r = resolve("app", "*", source_of(reg));
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  EXPECT_EQ(std::get<resolve_failure>(r).what, resolve_failure::kind::unsatisfiable);
  EXPECT_NE(std::get<resolve_failure>(r).message.find("self@1.0.0 needs self ^2.0.0"), std::string::npos) << std::get<resolve_failure>(r).message;
  r = resolve("self", "2.0.0", source_of(reg));
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  EXPECT_EQ(std::get<resolve_failure>(r).what, resolve_failure::kind::cycle);
  EXPECT_EQ(std::get<resolve_failure>(r).cycle, (std::vector<std::string>{"self@2.0.0", "self@2.0.0"}));
}

TEST(Resolver, PrereleasesFollowNpmsRule) {
  registry reg{{"app", {{"1.0.0", {}}, {"1.1.0-beta.1", {}}, {"2.0.0-rc.1", {}}}}};
  EXPECT_EQ(versions_of(solved(resolve("app", "^1.0.0", source_of(reg)))).at("app"), "1.0.0");
  EXPECT_EQ(versions_of(solved(resolve("app", "^1.1.0-beta.0", source_of(reg)))).at("app"), "1.1.0-beta.1");
  EXPECT_TRUE(std::holds_alternative<resolve_failure>(resolve("app", ">=2.0.0", source_of(reg))));
}

TEST(Resolver, TheStepLimitStopsARunawaySearch) {
  registry reg{{"app", {{"1.0.0", {{"b", "^1.0.0"}}}}}, {"b", {{"1.0.0", {}}}}};
  auto r = resolve("app", "*", source_of(reg), resolve_options{.max_steps = 2});
  ASSERT_TRUE(std::holds_alternative<resolve_failure>(r));
  EXPECT_EQ(std::get<resolve_failure>(r).what, resolve_failure::kind::too_complex);
}

// Generated registries (dependencies only on later packages, so no cycles) against an exhaustive
// search over every choice of versions: a solution exactly when one exists, and every solution
// valid.
TEST(Resolver, FindsASolutionExactlyWhenOneExists) {
  const std::vector<std::string> versions{"1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0"};
  const std::vector<std::string> ranges{"^1.0.0", "^2.0.0", "~1.1.0", ">=1.1.0", "*", "1.0.0", "<1.1.0 || >=2.0.0", "^1.2.0-rc.0"};
  std::mt19937 rng(20261203);
  int solvable = 0, unsolvable = 0;
  for (int round = 0; round < 3000; ++round) {
    const int n = 3 + static_cast<int>(rng() % 4);
    registry reg;
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i) names.push_back("p" + std::to_string(i));
    for (int i = 0; i < n; ++i)
      for (const auto& v : versions) {
        if (rng() % 3 == 0) continue;
        std::vector<dependency> deps;
        for (int j = i + 1; j < n; ++j)
          if (rng() % 2) deps.push_back({names[static_cast<std::size_t>(j)], ranges[rng() % ranges.size()]});
        reg[names[static_cast<std::size_t>(i)]][v] = deps;
      }
    const std::string want = ranges[rng() % ranges.size()];

    // Exhaustive: each package is absent or one of its versions.
    std::vector<std::vector<std::string>> choices;
    for (const auto& name : names) {
      std::vector<std::string> c{""};
      for (const auto& [v, d] : reg[name]) c.push_back(v);
      choices.push_back(c);
    }
    auto valid = [&](const std::map<std::string, std::string>& pick) {
      auto it = pick.find("p0");
      if (it == pick.end() || !satisfies(*parse_version(it->second), *range::parse(want))) return false;
      for (const auto& [name, v] : pick)
        for (const auto& d : reg[name][v]) {
          auto dep = pick.find(d.name);
          if (dep == pick.end() || !satisfies(*parse_version(dep->second), *range::parse(d.range))) return false;
        }
      return true;
    };
    bool exists = false;
    std::vector<std::size_t> at(names.size(), 0);
    for (;;) {
      std::map<std::string, std::string> pick;
      for (std::size_t i = 0; i < names.size(); ++i)
        if (!choices[i][at[i]].empty()) pick[names[i]] = choices[i][at[i]];
      if (valid(pick)) {
        exists = true;
        break;
      }
      std::size_t k = 0;
      while (k < at.size() && ++at[k] == choices[k].size()) at[k++] = 0;
      if (k == at.size()) break;
    }

    auto r = resolve("p0", want, source_of(reg));
    if (reg.count("p0") == 0) {
      ASSERT_FALSE(exists);
    }
    ASSERT_EQ(std::holds_alternative<resolution>(r), exists)
        << "round " << round << ": " << (exists ? std::get<resolve_failure>(r).message : std::string("found a solution that cannot exist"));
    if (exists) {
      ++solvable;
      EXPECT_TRUE(valid(versions_of(std::get<resolution>(r)))) << "round " << round;
      // Install order: every package after its dependencies.
      std::map<std::string, std::size_t> pos;
      for (std::size_t i = 0; i < std::get<resolution>(r).order.size(); ++i)
        pos[std::get<resolution>(r).order[i].substr(0, std::get<resolution>(r).order[i].find('@'))] = i;
      for (const auto& p : std::get<resolution>(r).packages)
        for (const auto& d : p.dependencies) EXPECT_LT(pos.at(d), pos.at(p.name)) << "round " << round;
    } else {
      ++unsolvable;
      EXPECT_EQ(std::get<resolve_failure>(r).what, resolve_failure::kind::unsatisfiable);
      EXPECT_FALSE(std::get<resolve_failure>(r).message.empty());
    }
  }
  // Both outcomes are exercised in quantity.
  EXPECT_GT(solvable, 500);
  EXPECT_GT(unsolvable, 500);
}

}  // namespace
