#include "actors/marketplace/search.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

namespace nf::marketplace {

using json = nlohmann::json;

namespace {

constexpr double kK1 = 1.2, kB = 0.75;
constexpr double kWeight[3] = {3.0, 2.0, 1.0};  // name, capabilities, description
constexpr std::size_t kMaxToken = 64;

struct document {
  bool live = false;
  std::string name, version, description, category, tenant, visibility;
  std::vector<std::string> capabilities, protocols;
  double rating = 0;
  std::int64_t rating_count = 0, installs = 0;
  std::uint32_t len[3] = {0, 0, 0};
  std::vector<std::string> terms;  // distinct, for removal
};

struct posting {
  std::uint32_t doc;
  std::uint16_t tf[3];
};

std::vector<std::string> strings(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

}  // namespace

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur.substr(0, kMaxToken));
    cur.clear();
  };
  for (char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) cur.push_back(c);
    else if (c >= 'A' && c <= 'Z') cur.push_back(static_cast<char>(c - 'A' + 'a'));
    else flush();
  }
  flush();
  return out;
}

struct search_index::impl {
  mutable std::shared_mutex mu;
  std::vector<document> docs;
  std::vector<std::uint32_t> free_ids;
  std::unordered_map<std::string, std::uint32_t> ids;
  std::unordered_map<std::string, std::vector<posting>> postings;
  std::uint64_t total_len[3] = {0, 0, 0};
  std::size_t live = 0;
  std::map<std::int64_t, std::size_t> installs;  // installs -> how many agents have that many
  // Per document, packed for the scoring loop (the documents themselves are cold).
  struct hot {
    std::uint32_t len[3] = {0, 0, 0};
    double rating = 0;
    std::int64_t installs = 0;
    double log_installs = 0;  // log(1 + installs), for the usage part
    bool live = false, is_public = false;
  };
  std::vector<hot> hots;
  void sync_hot(std::uint32_t id) {
    if (hots.size() < docs.size()) hots.resize(docs.size());
    const auto& d = docs[id];
    auto& h = hots[id];
    for (int f = 0; f < 3; ++f) h.len[f] = d.len[f];
    h.rating = d.rating;
    h.installs = d.installs;
    h.log_installs = std::log1p(static_cast<double>(d.installs));
    h.live = d.live;
    h.is_public = d.visibility == "public";
  }

  void remove(std::uint32_t id) {
    auto& d = docs[id];
    if (!d.live) return;
    for (const auto& t : d.terms) {
      auto it = postings.find(t);
      if (it == postings.end()) continue;
      std::erase_if(it->second, [id](const posting& p) { return p.doc == id; });
      if (it->second.empty()) postings.erase(it);
    }
    for (int f = 0; f < 3; ++f) total_len[f] -= d.len[f];
    if (auto it = installs.find(d.installs); it != installs.end() && --it->second == 0) installs.erase(it);
    ids.erase(d.name);
    d = document{};
    sync_hot(id);
    free_ids.push_back(id);
    --live;
  }

  void add(document d) {
    std::map<std::string, posting> tf;
    auto count = [&](const std::vector<std::string>& tokens, int field) {
      d.len[field] += static_cast<std::uint32_t>(tokens.size());
      for (const auto& t : tokens) {
        auto& p = tf.try_emplace(t, posting{0, {0, 0, 0}}).first->second;
        if (p.tf[field] < UINT16_MAX) ++p.tf[field];
      }
    };
    count(tokenize(d.name), 0);
    std::vector<std::string> caps;
    for (const auto& c : d.capabilities)
      for (auto& t : tokenize(c)) caps.push_back(std::move(t));
    count(caps, 1);
    count(tokenize(d.description), 2);
    std::uint32_t id;
    if (!free_ids.empty()) {
      id = free_ids.back();
      free_ids.pop_back();
    } else {
      id = static_cast<std::uint32_t>(docs.size());
      docs.emplace_back();
    }
    for (auto& [term, p] : tf) {
      p.doc = id;
      postings[term].push_back(p);
      d.terms.push_back(term);
    }
    for (int f = 0; f < 3; ++f) total_len[f] += d.len[f];
    ++installs[d.installs];
    d.live = true;
    ids[d.name] = id;
    docs[id] = std::move(d);
    sync_hot(id);
    ++live;
  }
};

search_index::search_index() : impl_(std::make_unique<impl>()) {}
search_index::~search_index() = default;

void search_index::upsert(const json& agent) {
  const std::string name = agent.value("name", "");
  if (name.empty()) return;
  const viewer owner{agent.value("tenantId", ""), false};
  const auto latest = latest_version(agent, owner);
  std::unique_lock lk(impl_->mu);
  auto it = impl_->ids.find(name);
  if (!latest) {
    if (it != impl_->ids.end()) impl_->remove(it->second);
    return;
  }
  const auto listing = agent.contains("listings") ? agent["listings"].value(*latest, json::object()) : json::object();
  const std::int64_t installs = agent.value("installs", std::int64_t{0});
  if (it != impl_->ids.end() && impl_->docs[it->second].version == *latest) {
    // The same version: only the numbers moved.
    auto& d = impl_->docs[it->second];
    if (d.installs != installs) {
      if (auto h = impl_->installs.find(d.installs); h != impl_->installs.end() && --h->second == 0) impl_->installs.erase(h);
      ++impl_->installs[installs];
      d.installs = installs;
    }
    d.rating = agent.value("ratingAverage", 0.0);
    d.rating_count = agent.value("ratingCount", std::int64_t{0});
    impl_->sync_hot(it->second);
    return;
  }
  if (it != impl_->ids.end()) impl_->remove(it->second);
  document d;
  d.name = name;
  d.version = *latest;
  d.description = listing.value("description", "");
  d.category = listing.value("category", "");
  d.capabilities = strings(listing.value("capabilities", json::array()));
  d.protocols = strings(listing.value("protocols", json::array()));
  d.visibility = listing.value("visibility", "public");
  d.tenant = owner.tenant;
  d.rating = agent.value("ratingAverage", 0.0);
  d.rating_count = agent.value("ratingCount", std::int64_t{0});
  d.installs = installs;
  impl_->add(std::move(d));
}

void search_index::clear() {
  std::unique_lock lk(impl_->mu);
  auto& ix = *impl_;
  ix.docs.clear();
  ix.free_ids.clear();
  ix.ids.clear();
  ix.postings.clear();
  for (auto& t : ix.total_len) t = 0;
  ix.live = 0;
  ix.installs.clear();
}

std::size_t search_index::size() const {
  std::shared_lock lk(impl_->mu);
  return impl_->live;
}

search_page search_index::search(const search_query& q) const {
  std::shared_lock lk(impl_->mu);
  const auto& ix = *impl_;
  search_page out;
  std::vector<std::string> tokens = tokenize(q.q);
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());

  const bool filtered = q.category || q.protocol || q.capability;
  auto allowed = [&](std::uint32_t id) {
    const auto& h = ix.hots[id];
    if (!h.live || h.rating < q.min_rating) return false;
    if (h.is_public && !filtered) return true;
    const auto& d = ix.docs[id];
    if (!h.is_public && !q.who.admin && d.tenant != q.who.tenant) return false;
    if (q.category && d.category != *q.category) return false;
    if (q.protocol && std::find(d.protocols.begin(), d.protocols.end(), *q.protocol) == d.protocols.end()) return false;
    if (q.capability && std::find(d.capabilities.begin(), d.capabilities.end(), *q.capability) == d.capabilities.end()) return false;
    return true;
  };

  // Relevance per matching document (every token present).
  std::vector<std::pair<std::uint32_t, double>> matched;
  if (tokens.empty()) {
    for (std::uint32_t id = 0; id < ix.docs.size(); ++id)
      if (allowed(id)) matched.emplace_back(id, 0.0);
  } else {
    std::vector<const std::vector<posting>*> lists;
    for (const auto& t : tokens) {
      auto it = ix.postings.find(t);
      if (it == ix.postings.end()) return out;  // a token nobody has: no match
      lists.push_back(&it->second);
    }
    std::sort(lists.begin(), lists.end(), [](auto* a, auto* b) { return a->size() < b->size(); });
    const double n = static_cast<double>(std::max<std::size_t>(ix.live, 1));
    double avg[3];
    for (int f = 0; f < 3; ++f) avg[f] = std::max(1.0, static_cast<double>(ix.total_len[f]) / n);
    // Per-document accumulators, reused across queries on this thread: an entry counts only when
    // its stamp is this query's, so nothing is cleared between queries.
    struct slot {
      std::uint64_t stamp = 0;
      double acc = 0;
      std::size_t hits = 0;
    };
    thread_local std::vector<slot> slots;
    thread_local std::uint64_t stamp = 0;
    if (slots.size() < ix.docs.size()) slots.resize(ix.docs.size());
    ++stamp;
    for (std::size_t k = 0; k < lists.size(); ++k) {
      const double df = static_cast<double>(lists[k]->size());
      const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
      for (const auto& p : *lists[k]) {
        auto& sl = slots[p.doc];
        if (k == 0) {
          sl = slot{stamp, 0.0, 0};
        } else if (sl.stamp != stamp || sl.hits != k) {
          continue;  // missed an earlier (rarer) token
        }
        const auto& h = ix.hots[p.doc];
        double tf = 0;
        for (int f = 0; f < 3; ++f)
          if (p.tf[f]) tf += kWeight[f] * p.tf[f] / (1.0 - kB + kB * h.len[f] / avg[f]);
        sl.acc += idf * tf / (kK1 + tf);
        sl.hits = k + 1;
      }
    }
    for (const auto& p : *lists[0]) {
      const auto& sl = slots[p.doc];
      if (sl.stamp == stamp && sl.hits == lists.size() && allowed(p.doc)) matched.emplace_back(p.doc, sl.acc);
    }
  }
  out.total = matched.size();
  if (matched.empty()) return out;
  if (q.facets) {
    std::map<std::string, std::size_t> cat, proto, cap;
    for (const auto& [id, r] : matched) {
      const auto& d = ix.docs[id];
      ++cat[d.category];
      for (const auto& p : d.protocols) ++proto[p];
      for (const auto& c : d.capabilities) ++cap[c];
    }
    auto ranked = [](const std::map<std::string, std::size_t>& m, std::size_t limit) {
      facet_counts v(m.begin(), m.end());
      std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      if (v.size() > limit) v.resize(limit);
      return v;
    };
    out.categories = ranked(cat, std::size_t(-1));
    out.protocols = ranked(proto, std::size_t(-1));
    out.capabilities = ranked(cap, 50);
  }

  double best = 0;
  for (const auto& [id, r] : matched) best = std::max(best, r);
  const double max_installs = ix.installs.empty() ? 0.0 : static_cast<double>(ix.installs.rbegin()->first);
  struct scored {
    std::uint32_t id;
    double score, relevance, rating, usage;
  };
  std::vector<scored> all;
  all.reserve(matched.size());
  const double log_max = max_installs > 0 ? std::log1p(max_installs) : 0.0;
  for (const auto& [id, r] : matched) {
    const auto& h = ix.hots[id];
    const double rel = best > 0 ? r / best : 0.0;
    const double rat = std::clamp(h.rating / 5.0, 0.0, 1.0);
    const double use = log_max > 0 ? h.log_installs / log_max : 0.0;
    all.push_back({id, 0.4 * rel + 0.3 * rat + 0.3 * use, rel, rat, use});
  }
  const std::size_t per = std::clamp<std::size_t>(q.per_page, 1, 100);
  const std::size_t first = (std::max<std::size_t>(q.page, 1) - 1) * per;
  if (first >= all.size()) return out;
  const std::size_t last = std::min(all.size(), first + per);
  auto better = [&](const scored& a, const scored& b) {
    if (a.score != b.score) return a.score > b.score;
    return ix.docs[a.id].name < ix.docs[b.id].name;
  };
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(last), all.end(), better);
  for (std::size_t i = first; i < last; ++i) {
    const auto& s = all[i];
    const auto& d = ix.docs[s.id];
    out.items.push_back(search_hit{d.name, d.version, d.description, d.category, d.capabilities, d.protocols, d.rating, d.rating_count,
                                   d.installs, s.score, s.relevance, s.rating, s.usage});
  }
  return out;
}

}  // namespace nf::marketplace
