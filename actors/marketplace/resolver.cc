// PubGrub over finite version sets. The partial solution is a trail of assignments (decisions and
// derivations) with a decision level each; incompatibilities are sets of terms that must not all
// hold. Unit propagation derives what the incompatibilities force; a satisfied incompatibility is
// a conflict, resolved against the causes of its satisfiers into a new incompatibility, after
// which the solver backjumps to the level where that one becomes a derivation. A terminal
// incompatibility (nothing, or the request alone) proves there is no solution; its derivation
// tree is the explanation.
#include "actors/marketplace/resolver.h"

#include "actors/marketplace/manifest.h"

#include <algorithm>
#include <bit>
#include <map>
#include <set>
#include <unordered_map>

namespace nf::marketplace {
namespace {

// Bits 0..n-1: a package's versions (ascending); bit n: "not selected".
class vset {
 public:
  vset() = default;
  explicit vset(std::size_t n) : n_(n), w_((n + 1 + 63) / 64, 0) {}
  static vset full(std::size_t n) {
    vset s(n);
    for (auto& w : s.w_) w = ~std::uint64_t{0};
    s.trim();
    return s;
  }
  void set(std::size_t i) { w_[i / 64] |= std::uint64_t{1} << (i % 64); }
  bool test(std::size_t i) const { return (w_[i / 64] >> (i % 64)) & 1u; }
  bool none_bit() const { return test(n_); }
  vset operator&(const vset& o) const {
    vset r = *this;
    for (std::size_t i = 0; i < w_.size(); ++i) r.w_[i] &= o.w_[i];
    return r;
  }
  vset operator|(const vset& o) const {
    vset r = *this;
    for (std::size_t i = 0; i < w_.size(); ++i) r.w_[i] |= o.w_[i];
    return r;
  }
  vset operator~() const {
    vset r = *this;
    for (auto& w : r.w_) w = ~w;
    r.trim();
    return r;
  }
  bool operator==(const vset& o) const { return w_ == o.w_; }
  bool subset_of(const vset& o) const {
    for (std::size_t i = 0; i < w_.size(); ++i)
      if (w_[i] & ~o.w_[i]) return false;
    return true;
  }
  bool disjoint(const vset& o) const {
    for (std::size_t i = 0; i < w_.size(); ++i)
      if (w_[i] & o.w_[i]) return false;
    return true;
  }
  bool is_full() const { return *this == full(n_); }
  std::size_t versions() const {  // how many version bits are set
    std::size_t c = 0;
    for (auto w : w_) c += static_cast<std::size_t>(std::popcount(w));
    return c - (none_bit() ? 1 : 0);
  }
  int highest() const {
    for (std::size_t i = n_; i-- > 0;)
      if (test(i)) return static_cast<int>(i);
    return -1;
  }
  std::size_t size() const { return n_; }

 private:
  void trim() {
    const std::size_t bits = n_ + 1;
    if (bits % 64) w_.back() &= (std::uint64_t{1} << (bits % 64)) - 1;
  }
  std::size_t n_ = 0;
  std::vector<std::uint64_t> w_;
};

struct term {
  int pkg;
  vset set;  // the term holds when the package's outcome is in `set`
};

enum class cause_kind { root, dependency, no_versions, derived };

struct incompat {
  std::vector<term> terms;
  cause_kind kind = cause_kind::derived;
  int c1 = -1, c2 = -1;              // derived: the two it was resolved from
  int from = -1, from_version = -1;  // dependency: who needs it
  int dep = -1;                      // dependency: what it needs
  std::string range;                 // dependency: as written
  bool dep_empty = false;            // the range admits no published version
};

struct assignment {
  int pkg;
  vset set;
  int level;
  int cause;  // -1: a decision
};

struct package {
  std::string name;
  bool known = true;
  std::vector<candidate> versions;  // ascending
  std::vector<bool> deps_added;
  std::map<std::string, std::string> labels;  // set bits -> a range that names them, for messages
};

struct bad_input {
  std::string message;
};

std::string bits_key(const vset& s) {
  std::string k;
  for (std::size_t i = 0; i <= s.size(); ++i) k.push_back(s.test(i) ? '1' : '0');
  return k;
}

class solver {
 public:
  solver(const package_source& source, const resolve_options& opts) : source_(source), opts_(opts) {}

  std::variant<resolution, resolve_failure> run(std::string_view name, std::string_view requested) {
    package root;
    root.name = "";
    root.versions.push_back(candidate{version{}, {dependency{std::string(name), std::string(requested)}}, ""});
    root.deps_added.assign(1, false);
    add_package(std::move(root));
    incompat start;
    start.kind = cause_kind::root;
    vset not_root(1);
    not_root.set(1);
    start.terms.push_back({0, not_root});
    index_incompat(add_incompat(std::move(start)));

    int next = 0;
    for (;;) {
      if (++steps_ > opts_.max_steps) return too_complex();
      if (!propagate(next)) return explain();
      const int chosen = choose();
      if (chosen < 0) return solution();
      next = chosen;
    }
  }

  resolve_failure invalid(std::string message) const {
    resolve_failure f;
    f.what = resolve_failure::kind::invalid;
    f.message = std::move(message);
    return f;
  }

 private:
  // ---- packages --------------------------------------------------------------------------
  int add_package(package p) {
    const int id = static_cast<int>(packages_.size());
    ids_.emplace(p.name, id);
    acc_.push_back(vset::full(p.versions.size()));
    decided_.push_back(-1);
    pkg_trail_.emplace_back();
    pkg_incompats_.emplace_back();
    packages_.push_back(std::move(p));
    return id;
  }

  int intern(const std::string& name) {
    if (auto it = ids_.find(name); it != ids_.end()) return it->second;
    package p;
    p.name = name;
    auto found = source_(name);
    if (!found) {
      p.known = false;
    } else {
      p.versions = std::move(*found);
      std::stable_sort(p.versions.begin(), p.versions.end(),
                       [](const candidate& a, const candidate& b) { return compare(a.ver, b.ver) < 0; });
      // Versions that differ only in build metadata are one version: keep the first.
      p.versions.erase(std::unique(p.versions.begin(), p.versions.end(),
                                   [](const candidate& a, const candidate& b) { return compare(a.ver, b.ver) == 0; }),
                       p.versions.end());
    }
    p.deps_added.assign(p.versions.size(), false);
    return add_package(std::move(p));
  }

  vset admitted(int pkg, const std::string& text, const std::string& who) {
    auto r = range::parse(text);
    if (!r) throw bad_input{who + " needs " + packages_[static_cast<std::size_t>(pkg)].name + " '" + text + "': " + r.error().message};
    auto& p = packages_[static_cast<std::size_t>(pkg)];
    vset s(p.versions.size());
    for (std::size_t i = 0; i < p.versions.size(); ++i)
      if (r->satisfied_by(p.versions[i].ver)) s.set(i);
    p.labels.emplace(bits_key(s), text);
    return s;
  }

  std::string at(int pkg, int vi) const {
    const auto& p = packages_[static_cast<std::size_t>(pkg)];
    return p.name + "@" + p.versions[static_cast<std::size_t>(vi)].ver.to_string();
  }

  // ---- incompatibilities and the partial solution -----------------------------------------
  int add_incompat(incompat ic) {
    const int id = static_cast<int>(incompats_.size());
    incompats_.push_back(std::move(ic));
    return id;
  }
  void index_incompat(int id) {
    for (const auto& t : incompats_[static_cast<std::size_t>(id)].terms) pkg_incompats_[static_cast<std::size_t>(t.pkg)].push_back(id);
  }

  enum class rel { satisfied, almost, contradicted, inconclusive };
  rel relation(int id, int& unsatisfied) const {
    unsatisfied = -1;
    const auto& ic = incompats_[static_cast<std::size_t>(id)];
    for (std::size_t k = 0; k < ic.terms.size(); ++k) {
      const auto& t = ic.terms[k];
      const vset& s = acc_[static_cast<std::size_t>(t.pkg)];
      if (s.subset_of(t.set)) continue;
      if (s.disjoint(t.set)) return rel::contradicted;
      if (unsatisfied >= 0) return rel::inconclusive;
      unsatisfied = static_cast<int>(k);
    }
    return unsatisfied < 0 ? rel::satisfied : rel::almost;
  }

  void derive(int pkg, vset set, int cause) {
    acc_[static_cast<std::size_t>(pkg)] = acc_[static_cast<std::size_t>(pkg)] & set;
    pkg_trail_[static_cast<std::size_t>(pkg)].push_back(static_cast<int>(trail_.size()));
    trail_.push_back({pkg, std::move(set), level_, cause});
  }
  void decide(int pkg, int vi) {
    ++level_;
    vset s(packages_[static_cast<std::size_t>(pkg)].versions.size());
    s.set(static_cast<std::size_t>(vi));
    decided_[static_cast<std::size_t>(pkg)] = vi;
    acc_[static_cast<std::size_t>(pkg)] = acc_[static_cast<std::size_t>(pkg)] & s;
    pkg_trail_[static_cast<std::size_t>(pkg)].push_back(static_cast<int>(trail_.size()));
    trail_.push_back({pkg, std::move(s), level_, -1});
  }
  void backtrack(int level) {
    std::set<int> touched;
    while (!trail_.empty() && trail_.back().level > level) {
      const auto& a = trail_.back();
      touched.insert(a.pkg);
      pkg_trail_[static_cast<std::size_t>(a.pkg)].pop_back();
      if (a.cause < 0) decided_[static_cast<std::size_t>(a.pkg)] = -1;
      trail_.pop_back();
    }
    for (int p : touched) {
      vset s = vset::full(packages_[static_cast<std::size_t>(p)].versions.size());
      for (int i : pkg_trail_[static_cast<std::size_t>(p)]) s = s & trail_[static_cast<std::size_t>(i)].set;
      acc_[static_cast<std::size_t>(p)] = std::move(s);
    }
    level_ = level;
  }

  // Unit propagation from `start`; false when a conflict proved there is no solution.
  bool propagate(int start) {
    std::vector<int> changed{start};
    while (!changed.empty()) {
      const int p = changed.back();
      changed.pop_back();
      // Newest first: learned incompatibilities are the likeliest to apply.
      for (std::size_t k = pkg_incompats_[static_cast<std::size_t>(p)].size(); k-- > 0;) {
        const int id = pkg_incompats_[static_cast<std::size_t>(p)][k];
        int u = -1;
        const rel r = relation(id, u);
        if (r == rel::satisfied) {
          const int learned = resolve_conflict(id);
          if (learned < 0) return false;
          int v = -1;
          if (relation(learned, v) != rel::almost) return false;  // cannot happen after a backjump
          const auto& t = incompats_[static_cast<std::size_t>(learned)].terms[static_cast<std::size_t>(v)];
          derive(t.pkg, ~t.set, learned);
          changed.assign(1, t.pkg);
          break;
        }
        if (r == rel::almost) {
          const auto& t = incompats_[static_cast<std::size_t>(id)].terms[static_cast<std::size_t>(u)];
          const int q = t.pkg;
          derive(q, ~t.set, id);
          if (std::find(changed.begin(), changed.end(), q) == changed.end()) changed.push_back(q);
        }
      }
    }
    return true;
  }

  bool terminal(const incompat& ic) const {
    return ic.terms.empty() || (ic.terms.size() == 1 && ic.terms[0].pkg == 0 && !ic.terms[0].set.none_bit());
  }

  // Resolves a satisfied incompatibility into one that, after backjumping, is almost satisfied.
  // -1 with failed_ set when the learned one is terminal.
  int resolve_conflict(int id) {
    bool learned_new = false;
    for (;;) {
      if (++steps_ > opts_.max_steps) throw too_many{};
      const auto& ic = incompats_[static_cast<std::size_t>(id)];
      if (terminal(ic)) {
        failed_ = id;
        return -1;
      }
      // The earliest trail index at which each term is satisfied.
      int sat = -1, pivot_term = -1, previous = -1;
      std::vector<int> when(ic.terms.size(), -1);
      for (std::size_t k = 0; k < ic.terms.size(); ++k) {
        const auto& t = ic.terms[k];
        vset s = vset::full(packages_[static_cast<std::size_t>(t.pkg)].versions.size());
        for (int i : pkg_trail_[static_cast<std::size_t>(t.pkg)]) {
          s = s & trail_[static_cast<std::size_t>(i)].set;
          if (s.subset_of(t.set)) {
            when[k] = i;
            break;
          }
        }
        if (when[k] > sat) {
          sat = when[k];
          pivot_term = static_cast<int>(k);
        }
      }
      for (std::size_t k = 0; k < ic.terms.size(); ++k)
        if (static_cast<int>(k) != pivot_term) previous = std::max(previous, when[k]);
      const auto& pt = ic.terms[static_cast<std::size_t>(pivot_term)];
      const auto& satisfier = trail_[static_cast<std::size_t>(sat)];
      {
        vset s = satisfier.set;
        for (int i : pkg_trail_[static_cast<std::size_t>(pt.pkg)]) {
          if (i >= sat) break;
          s = s & trail_[static_cast<std::size_t>(i)].set;
          if (s.subset_of(pt.set)) {
            previous = std::max(previous, i);
            break;
          }
        }
      }
      const int previous_level = previous >= 0 ? std::max(trail_[static_cast<std::size_t>(previous)].level, 1) : 1;
      if (satisfier.cause < 0 || previous_level != satisfier.level) {
        if (learned_new) index_incompat(id);
        backtrack(previous_level);
        return id;
      }
      // Resolution: this incompatibility with the satisfier's cause, on the pivot's package.
      incompat next;
      next.kind = cause_kind::derived;
      next.c1 = id;
      next.c2 = satisfier.cause;
      auto merge = [&next](const term& t) {
        for (auto& m : next.terms)
          if (m.pkg == t.pkg) {
            m.set = m.set & t.set;
            return;
          }
        next.terms.push_back(t);
      };
      const int pivot = pt.pkg;
      for (const auto& t : ic.terms)
        if (t.pkg != pivot) merge(t);
      for (const auto& t : incompats_[static_cast<std::size_t>(satisfier.cause)].terms)
        if (t.pkg != pivot) merge(t);
      if (!satisfier.set.subset_of(pt.set)) merge(term{pivot, ~(satisfier.set & ~pt.set)});
      std::erase_if(next.terms, [](const term& t) { return t.set.is_full(); });
      // The request is always made: a positive term for it says nothing next to others.
      if (next.terms.size() > 1)
        std::erase_if(next.terms, [](const term& t) { return t.pkg == 0 && !t.set.none_bit(); });
      id = add_incompat(std::move(next));
      learned_new = true;
    }
  }

  // The next decision: of the packages that must be selected and are not yet decided, the one
  // with the fewest versions left (the likeliest to conflict), then by name. -1: all decided.
  int choose() {
    int best = -1;
    std::size_t best_count = 0;
    for (std::size_t p = 0; p < packages_.size(); ++p) {
      if (decided_[p] >= 0 || acc_[p].none_bit()) continue;
      const std::size_t c = acc_[p].versions();
      if (best < 0 || c < best_count ||
          (c == best_count && packages_[p].name < packages_[static_cast<std::size_t>(best)].name)) {
        best = static_cast<int>(p);
        best_count = c;
      }
    }
    if (best < 0) return -1;
    auto& bp = packages_[static_cast<std::size_t>(best)];
    if (best_count == 0) {
      incompat none;
      none.kind = cause_kind::no_versions;
      none.terms.push_back({best, vset(bp.versions.size())});
      index_incompat(add_incompat(std::move(none)));
      return best;
    }
    const int vi = acc_[static_cast<std::size_t>(best)].highest();
    bool conflict = false;
    for (int id : dependency_incompats(best, vi)) {
      bool others = true;
      for (const auto& t : incompats_[static_cast<std::size_t>(id)].terms)
        if (t.pkg != best && !acc_[static_cast<std::size_t>(t.pkg)].subset_of(t.set)) others = false;
      conflict = conflict || others;
    }
    if (!conflict) decide(best, vi);
    return best;
  }

  // {pkg@version, not dep in range} for each of the version's dependencies, added once.
  std::vector<int> dependency_incompats(int pkg, int vi) {
    std::vector<int> out;
    if (packages_[static_cast<std::size_t>(pkg)].deps_added[static_cast<std::size_t>(vi)]) return out;
    packages_[static_cast<std::size_t>(pkg)].deps_added[static_cast<std::size_t>(vi)] = true;
    const std::vector<dependency> deps = packages_[static_cast<std::size_t>(pkg)].versions[static_cast<std::size_t>(vi)].dependencies;
    for (const auto& d : deps) {
      const int q = intern(d.name);
      const std::string who = pkg == 0 ? std::string("the request") : at(pkg, vi);
      const vset allowed = admitted(q, d.range, who);
      incompat ic;
      ic.kind = cause_kind::dependency;
      ic.from = pkg;
      ic.from_version = vi;
      ic.dep = q;
      ic.range = d.range;
      ic.dep_empty = allowed.versions() == 0;
      vset self(packages_[static_cast<std::size_t>(pkg)].versions.size());
      self.set(static_cast<std::size_t>(vi));
      const vset not_dep = ~allowed;
      if (q == pkg) {
        // A package that needs itself: one term. Met by its own version, it says nothing.
        const vset only = self & not_dep;
        if (only.versions() == 0) continue;
        ic.terms.push_back({pkg, only});
      } else {
        ic.terms.push_back({pkg, self});
        if (!not_dep.is_full()) ic.terms.push_back({q, not_dep});
      }
      const int id = add_incompat(std::move(ic));
      index_incompat(id);
      out.push_back(id);
    }
    return out;
  }

  // ---- answers ----------------------------------------------------------------------------
  std::variant<resolution, resolve_failure> solution() const {
    std::map<std::string, int> chosen;  // name -> package
    for (std::size_t p = 1; p < packages_.size(); ++p)
      if (decided_[p] >= 0) chosen.emplace(packages_[p].name, static_cast<int>(p));
    resolution out;
    std::map<std::string, std::vector<std::string>> deps;
    std::map<std::string, int> waiting;  // unmet dependencies per package
    std::map<std::string, std::vector<std::string>> dependents;
    for (const auto& [name, p] : chosen) {
      const auto& c = packages_[static_cast<std::size_t>(p)].versions[static_cast<std::size_t>(decided_[static_cast<std::size_t>(p)])];
      resolved_package r{name, c.ver, c.digest, {}};
      for (const auto& d : c.dependencies)
        if (std::find(r.dependencies.begin(), r.dependencies.end(), d.name) == r.dependencies.end()) r.dependencies.push_back(d.name);
      std::sort(r.dependencies.begin(), r.dependencies.end());
      waiting[name] = static_cast<int>(r.dependencies.size());
      for (const auto& d : r.dependencies) dependents[d].push_back(name);
      deps[name] = r.dependencies;
      out.packages.push_back(std::move(r));
    }
    auto label = [&](const std::string& name) {
      const int p = chosen.at(name);
      return at(p, decided_[static_cast<std::size_t>(p)]);
    };
    std::set<std::string> ready;
    for (const auto& [name, n] : waiting)
      if (n == 0) ready.insert(name);
    while (!ready.empty()) {
      const std::string name = *ready.begin();
      ready.erase(ready.begin());
      out.order.push_back(label(name));
      for (const auto& d : dependents[name])
        if (--waiting[d] == 0) ready.insert(d);
    }
    if (out.order.size() == out.packages.size()) return out;
    // A loop: walk unmet dependencies from the first package left until one repeats.
    std::string atn;
    for (const auto& [name, n] : waiting)
      if (n > 0) {
        atn = name;
        break;
      }
    std::vector<std::string> path;
    std::map<std::string, std::size_t> seen;
    while (!seen.count(atn)) {
      seen[atn] = path.size();
      path.push_back(atn);
      for (const auto& d : deps[atn])
        if (waiting[d] > 0) {
          atn = d;
          break;
        }
    }
    resolve_failure f;
    f.what = resolve_failure::kind::cycle;
    for (std::size_t i = seen[atn]; i < path.size(); ++i) f.cycle.push_back(label(path[i]));
    f.cycle.push_back(label(atn));
    std::string text;
    for (const auto& c : f.cycle) text += (text.empty() ? "" : " -> ") + c;
    f.message = "dependency cycle: " + text;
    return f;
  }

  std::string set_text(int pkg, const vset& s) const {
    const auto& p = packages_[static_cast<std::size_t>(pkg)];
    const std::size_t n = p.versions.size();
    std::vector<std::size_t> on;
    for (std::size_t i = 0; i < n; ++i)
      if (s.test(i)) on.push_back(i);
    if (on.size() == 1) return "@" + p.versions[on[0]].ver.to_string();
    if (on.size() == n) return "";
    if (on.empty()) return " (no version)";
    vset key(n);
    for (auto i : on) key.set(i);
    if (auto it = p.labels.find(bits_key(key)); it != p.labels.end()) return " " + it->second;
    std::string out;
    for (std::size_t k = 0; k < on.size();) {
      std::size_t e = k;
      while (e + 1 < on.size() && on[e + 1] == on[e] + 1) ++e;
      if (!out.empty()) out += " || ";
      out += p.versions[on[k]].ver.to_string();
      if (e > k) out += " - " + p.versions[on[e]].ver.to_string();
      k = e + 1;
    }
    return " " + out;
  }
  // A term as the positive statement it makes about its package ("b ^1.0.0", "a@1.0.0").
  std::string positive_text(const term& t) const {
    if (t.pkg == 0) return "the request";
    return packages_[static_cast<std::size_t>(t.pkg)].name + set_text(t.pkg, t.set);
  }

  std::string describe(int id) const {
    const auto& ic = incompats_[static_cast<std::size_t>(id)];
    switch (ic.kind) {
      case cause_kind::root:
        return "the request must be met";
      case cause_kind::dependency: {
        const std::string who = ic.from == 0 ? std::string("the request") : at(ic.from, ic.from_version);
        std::string s = who + " needs " + packages_[static_cast<std::size_t>(ic.dep)].name + " " + ic.range;
        if (!packages_[static_cast<std::size_t>(ic.dep)].known) s += ", which is not in the marketplace";
        else if (ic.dep_empty) s += ", which no published version satisfies";
        return s;
      }
      case cause_kind::no_versions:
        return "no version of " + packages_[static_cast<std::size_t>(ic.terms[0].pkg)].name + " satisfies every requirement on it";
      case cause_kind::derived:
        break;
    }
    std::vector<std::string> pos, neg;
    bool every = false;  // the one positive term admits every version
    for (const auto& t : ic.terms) {
      if (t.set.none_bit()) {
        neg.push_back(positive_text(term{t.pkg, ~t.set}));
      } else {
        pos.push_back(positive_text(t));
        every = t.pkg != 0 && t.set.versions() == packages_[static_cast<std::size_t>(t.pkg)].versions.size();
      }
    }
    auto join = [](const std::vector<std::string>& v, const char* sep) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
      return s;
    };
    if (ic.terms.empty()) return "no set of versions works";
    if (pos.size() == 1 && neg.empty()) return pos[0] == "the request" ? "the request cannot be met" : pos[0] + " cannot be installed";
    if (pos.empty() && neg.size() == 1) return neg[0] + " is required";
    if (pos.size() == 1) return (every ? "every version of " : "") + pos[0] + " needs " + join(neg, " and ");
    if (neg.empty()) return join(pos, " and ") + " cannot be installed together";
    return join(pos, " and ") + " need one of " + join(neg, ", ");
  }

  resolve_failure explain() const {
    resolve_failure f;
    f.what = resolve_failure::kind::unsatisfiable;
    nlohmann::json facts = nlohmann::json::array(), derivation = nlohmann::json::array();
    std::map<int, int> line_of;  // derived incompatibility -> its line (1-based)
    std::set<int> fact_seen;
    std::vector<std::string> fact_text;
    // Post-order over the derivation tree, iteratively (it can be deep).
    std::vector<std::pair<int, bool>> stack{{failed_, false}};
    while (!stack.empty()) {
      auto [id, expanded] = stack.back();
      stack.pop_back();
      const auto& ic = incompats_[static_cast<std::size_t>(id)];
      if (ic.kind != cause_kind::derived) {
        if (fact_seen.insert(id).second) {
          nlohmann::json j{{"kind", ic.kind == cause_kind::dependency ? "dependency"
                                    : ic.kind == cause_kind::no_versions ? "no_versions" : "request"},
                           {"text", describe(id)}};
          if (ic.kind == cause_kind::dependency) {
            j["package"] = ic.from == 0 ? nlohmann::json(nullptr) : nlohmann::json(packages_[static_cast<std::size_t>(ic.from)].name);
            j["version"] = ic.from == 0 ? nlohmann::json(nullptr)
                                        : nlohmann::json(packages_[static_cast<std::size_t>(ic.from)].versions[static_cast<std::size_t>(ic.from_version)].ver.to_string());
            j["dependency"] = packages_[static_cast<std::size_t>(ic.dep)].name;
            j["range"] = ic.range;
          } else if (ic.kind == cause_kind::no_versions) {
            j["package"] = packages_[static_cast<std::size_t>(ic.terms[0].pkg)].name;
          }
          // The request's own requirement leads; the rest follow the derivation.
          const bool first = ic.kind == cause_kind::dependency && ic.from == 0;
          if (ic.kind != cause_kind::root) {
            facts.insert(first ? facts.begin() : facts.end(), std::move(j));
            fact_text.insert(first ? fact_text.begin() : fact_text.end(), describe(id));
          }
        }
        continue;
      }
      if (line_of.count(id)) continue;
      if (!expanded) {
        stack.push_back({id, true});
        stack.push_back({ic.c2, false});
        stack.push_back({ic.c1, false});
        continue;
      }
      auto ref = [&](int c) {
        std::string s = describe(c);
        if (auto it = line_of.find(c); it != line_of.end()) s += " (" + std::to_string(it->second) + ")";
        return s;
      };
      const int line = static_cast<int>(derivation.size()) + 1;
      line_of[id] = line;
      derivation.push_back({{"line", line},
                            {"because", {ref(ic.c1), ref(ic.c2)}},
                            {"so", describe(id)},
                            {"text", "Because " + ref(ic.c1) + " and " + ref(ic.c2) + ", " + describe(id) + "."}});
    }
    f.explanation = {{"facts", std::move(facts)}, {"derivation", std::move(derivation)}};
    for (const auto& t : fact_text) f.message += (f.message.empty() ? "" : "; ") + t;
    f.message += fact_text.empty() ? "no set of versions satisfies the request" : "; no set of versions satisfies all of these";
    return f;
  }

  resolve_failure too_complex() const {
    resolve_failure f;
    f.what = resolve_failure::kind::too_complex;
    f.message = "resolution took more than " + std::to_string(opts_.max_steps) + " steps";
    return f;
  }

 public:
  struct too_many {};
  resolve_failure too_complex_failure() const { return too_complex(); }

 private:
  const package_source& source_;
  resolve_options opts_;
  std::uint64_t steps_ = 0;
  std::vector<package> packages_;
  std::unordered_map<std::string, int> ids_;
  std::vector<vset> acc_;           // per package: the intersection of its assignments
  std::vector<int> decided_;        // per package: the decided version, or -1
  std::vector<std::vector<int>> pkg_trail_;
  std::vector<std::vector<int>> pkg_incompats_;
  std::vector<incompat> incompats_;
  std::vector<assignment> trail_;
  int level_ = 0;
  int failed_ = -1;
};

}  // namespace

std::variant<resolution, resolve_failure> resolve(std::string_view name, std::string_view requested,
                                                  const package_source& source, const resolve_options& opts) {
  if (!valid_package_name(name)) {
    resolve_failure f;
    f.what = resolve_failure::kind::invalid;
    f.message = "'" + std::string(name) + "' is not a package name";
    return f;
  }
  if (auto r = range::parse(requested); !r) {
    resolve_failure f;
    f.what = resolve_failure::kind::invalid;
    f.message = "range '" + std::string(requested) + "': " + r.error().message;
    return f;
  }
  solver s(source, opts);
  try {
    return s.run(name, requested);
  } catch (const bad_input& e) {
    return s.invalid(e.message);
  } catch (const solver::too_many&) {
    return s.too_complex_failure();
  }
}

const char* to_string(resolve_failure::kind k) {
  switch (k) {
    case resolve_failure::kind::unsatisfiable: return "unsatisfiable";
    case resolve_failure::kind::cycle: return "dependency_cycle";
    case resolve_failure::kind::invalid: return "invalid_range";
    case resolve_failure::kind::too_complex: return "too_complex";
  }
  return "unsatisfiable";
}

}  // namespace nf::marketplace
