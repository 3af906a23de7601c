// The marketplace's search index: in memory, built from the marketplace read model at start and
// kept in step with it. One document per agent: its newest approved, non-yanked version (name,
// description, capabilities, category, protocols), its rating and its installs.
//
// Ranking: score = 0.4 relevance + 0.3 rating + 0.3 usage, each in [0, 1]:
// - relevance: BM25F (k1 = 1.2, b = 0.75) over the tokens of the name (weight 3), the
//   capabilities (2) and the description (1), divided by the best relevance among the matches
//   (0 without a query);
// - rating: the average rating / 5 (0 without ratings);
// - usage: log(1 + installs) / log(1 + the most installs of any agent).
// Ties break by name. A document matches a query when it holds every query token (AND).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/marketplace/catalog.h"

namespace nf::marketplace {

struct search_query {
  std::string q;
  std::optional<std::string> category, protocol, capability;
  double min_rating = 0;
  std::size_t page = 1, per_page = 20;
  bool explain = false;
  bool facets = false;  // count categories, protocols and capabilities over every match
  viewer who;
};

struct search_hit {
  std::string name, version, description, category;
  std::vector<std::string> capabilities, protocols;
  double rating = 0;
  std::int64_t rating_count = 0, installs = 0;
  double score = 0, relevance = 0, rating_part = 0, usage_part = 0;  // the parts, each in [0, 1]
};

// A facet's values over every match, most frequent first (ties by value).
using facet_counts = std::vector<std::pair<std::string, std::size_t>>;

struct search_page {
  std::vector<search_hit> items;
  std::size_t total = 0;  // matches over every page
  // With search_query::facets: over every match (the filters applied), capabilities cut to the
  // 50 most frequent.
  facet_counts categories, protocols, capabilities;
};

// Lowercased runs of ASCII letters and digits, at most 64 characters each.
std::vector<std::string> tokenize(std::string_view text);

class search_index {
 public:
  search_index();
  ~search_index();
  // The agent's document (the read model's `a/<name>`): indexes its newest approved, non-yanked
  // version, or drops the agent when it has none.
  void upsert(const nlohmann::json& agent_doc);
  void clear();
  search_page search(const search_query& q) const;
  std::size_t size() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nf::marketplace
