// The search index: every query word must match; BM25F ranks name over capabilities over
// description; the score's parts are each in [0, 1] and weigh 0.4/0.3/0.3; filters, pages,
// visibility and the deterministic tie-break; updates move numbers or reindex a new version.
#include <cmath>

#include <gtest/gtest.h>

#include "actors/marketplace/search.h"

namespace {

using namespace nf::marketplace;
using nlohmann::json;

json agent(const std::string& name, const std::string& description, const std::vector<std::string>& caps, double rating = 0,
           std::int64_t installs = 0, const std::string& visibility = "public", const std::string& tenant = "t1",
           const std::string& category = "tools") {
  const json listing{{"description", description}, {"category", category}, {"capabilities", caps}, {"protocols", {"nexus"}}, {"visibility", visibility}};
  json a{{"name", name}, {"tenantId", tenant}, {"ratingAverage", rating}, {"ratingCount", rating > 0 ? 1 : 0}, {"installs", installs}};
  a["versions"]["1.0.0"] = {{"status", "approved"}, {"yanked", false}};
  a["listings"]["1.0.0"] = listing;
  return a;
}

std::vector<std::string> names(const search_page& p) {
  std::vector<std::string> out;
  for (const auto& h : p.items) out.push_back(h.name);
  return out;
}

search_query query(const std::string& q) {
  search_query s;
  s.q = q;
  return s;
}

TEST(Search, TokenizesToLowercaseAlphanumericRuns) {
  EXPECT_EQ(tokenize("Code-Reviewer: PRs & diffs v2!"), (std::vector<std::string>{"code", "reviewer", "prs", "diffs", "v2"}));
  EXPECT_TRUE(tokenize("--- !!").empty());
}

TEST(Search, EveryWordMustMatchAndTheNameWeighsMost) {
  search_index ix;
  ix.upsert(agent("pdf-summarizer", "Summarizes documents", {"summarize"}));
  ix.upsert(agent("doc-tool", "A tool that can summarize a pdf", {"convert"}));
  ix.upsert(agent("translator", "Translates text", {"translate"}));
  auto p = ix.search(query("pdf"));
  EXPECT_EQ(names(p), (std::vector<std::string>{"pdf-summarizer", "doc-tool"}));
  EXPECT_EQ(p.total, 2u);
  EXPECT_DOUBLE_EQ(p.items[0].relevance, 1.0);
  EXPECT_LT(p.items[1].relevance, 1.0);
  EXPECT_EQ(names(ix.search(query("pdf summarize"))), (std::vector<std::string>{"pdf-summarizer", "doc-tool"}));
  EXPECT_EQ(names(ix.search(query("pdf translate"))), std::vector<std::string>{});
  EXPECT_EQ(ix.search(query("nothing-like-it")).total, 0u);
}

TEST(Search, TheScoreIsRelevanceRatingAndUsageWeighed) {
  search_index ix;
  ix.upsert(agent("alpha", "agent for reports", {"report"}, 5.0, 1));
  ix.upsert(agent("beta", "agent for reports", {"report"}, 1.0, 100));
  auto q = query("reports");
  q.explain = true;
  const auto p = ix.search(q);
  ASSERT_EQ(p.items.size(), 2u);
  for (const auto& h : p.items) {
    EXPECT_DOUBLE_EQ(h.score, 0.4 * h.relevance + 0.3 * h.rating_part + 0.3 * h.usage_part);
    EXPECT_DOUBLE_EQ(h.relevance, 1.0);  // the same text
  }
  // beta: usage 1, rating 0.2 -> 0.4 + 0.06 + 0.3; alpha: rating 1, usage log(2)/log(101).
  EXPECT_EQ(p.items[0].name, "beta");
  EXPECT_DOUBLE_EQ(p.items[0].usage_part, 1.0);
  EXPECT_NEAR(p.items[1].usage_part, std::log(2.0) / std::log(101.0), 1e-12);
  EXPECT_DOUBLE_EQ(p.items[1].rating_part, 1.0);
}

TEST(Search, TiesBreakByNameAndPagesAreStable) {
  search_index ix;
  for (const char* n : {"delta", "alpha", "charlie", "bravo", "echo"}) ix.upsert(agent(n, "same words", {"x"}));
  auto q = query("same");
  q.per_page = 2;
  EXPECT_EQ(names(ix.search(q)), (std::vector<std::string>{"alpha", "bravo"}));
  q.page = 2;
  EXPECT_EQ(names(ix.search(q)), (std::vector<std::string>{"charlie", "delta"}));
  q.page = 3;
  EXPECT_EQ(names(ix.search(q)), (std::vector<std::string>{"echo"}));
  q.page = 4;
  EXPECT_TRUE(ix.search(q).items.empty());
  EXPECT_EQ(ix.search(q).total, 5u);
}

TEST(Search, FiltersAndVisibility) {
  search_index ix;
  ix.upsert(agent("public-one", "helper", {"web"}, 4.5, 0, "public", "t1", "web"));
  ix.upsert(agent("private-one", "helper", {"web"}, 4.5, 0, "tenant", "t1", "web"));
  ix.upsert(agent("low-rated", "helper", {"mail"}, 2.0, 0, "public", "t2", "mail"));
  auto q = query("helper");
  q.who = viewer{"t2", false};
  EXPECT_EQ(names(ix.search(q)), (std::vector<std::string>{"public-one", "low-rated"}));
  q.who = viewer{"t1", false};
  EXPECT_EQ(ix.search(q).total, 3u);
  q.who = viewer{"", true};
  EXPECT_EQ(ix.search(q).total, 3u);
  q.min_rating = 4;
  EXPECT_EQ(ix.search(q).total, 2u);
  q.min_rating = 0;
  q.capability = "mail";
  EXPECT_EQ(names(ix.search(q)), std::vector<std::string>{"low-rated"});
  q.capability.reset();
  q.category = "web";
  q.protocol = "nexus";
  EXPECT_EQ(ix.search(q).total, 2u);
  q.protocol = "autogen";
  EXPECT_EQ(ix.search(q).total, 0u);
}

TEST(Search, FacetsCountEveryMatchNotOnlyThePage) {
  search_index ix;
  for (int i = 0; i < 30; ++i) ix.upsert(agent("web-" + std::to_string(i), "helper", {"browse", "fetch"}, 0, 0, "public", "t1", "web"));
  for (int i = 0; i < 5; ++i) ix.upsert(agent("mail-" + std::to_string(i), "helper", {"send"}, 0, 0, "public", "t1", "mail"));
  ix.upsert(agent("private", "helper", {"secret"}, 0, 0, "tenant", "t9", "hidden"));
  auto q = query("helper");
  q.per_page = 3;
  EXPECT_TRUE(ix.search(q).categories.empty()) << "counted only when asked";
  q.facets = true;
  q.who = viewer{"t1", false};
  const auto page = ix.search(q);
  EXPECT_EQ(page.items.size(), 3u);
  EXPECT_EQ(page.categories, (facet_counts{{"web", 30}, {"mail", 5}})) << "another tenant's agent is not counted";
  EXPECT_EQ(page.protocols, (facet_counts{{"nexus", 35}}));
  EXPECT_EQ(page.capabilities, (facet_counts{{"browse", 30}, {"fetch", 30}, {"send", 5}}));
  q.category = "mail";
  EXPECT_EQ(ix.search(q).categories, (facet_counts{{"mail", 5}})) << "over the matches the filters leave";
}

TEST(Search, UpdatesMoveNumbersOrReindexAndAYankedOnlyVersionLeaves) {
  search_index ix;
  ix.upsert(agent("mover", "old words", {"a"}));
  EXPECT_EQ(ix.search(query("old")).total, 1u);
  auto v2 = agent("mover", "new words", {"a"}, 3.0, 7);
  v2["versions"]["2.0.0"] = {{"status", "approved"}, {"yanked", false}};
  v2["listings"]["2.0.0"] = {{"description", "fresh text"}, {"category", "tools"}, {"capabilities", {"a"}}, {"protocols", {"nexus"}}, {"visibility", "public"}};
  ix.upsert(v2);
  EXPECT_EQ(ix.search(query("old")).total, 0u);
  const auto p = ix.search(query("fresh"));
  ASSERT_EQ(p.items.size(), 1u);
  EXPECT_EQ(p.items[0].version, "2.0.0");
  EXPECT_EQ(p.items[0].installs, 7);
  v2["ratingAverage"] = 5.0;
  ix.upsert(v2);
  EXPECT_DOUBLE_EQ(ix.search(query("fresh")).items[0].rating, 5.0);
  for (auto& [v, st] : v2["versions"].items()) st["yanked"] = true;
  ix.upsert(v2);
  EXPECT_EQ(ix.size(), 0u);
  EXPECT_EQ(ix.search(query("")).total, 0u);
}

}  // namespace
