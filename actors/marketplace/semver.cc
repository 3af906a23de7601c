// SemVer 2.0.0 and node-semver's ranges. The range rewriting follows node-semver 7's order
// (hyphen ranges, operator trimming, then per comparator: caret, tilde, x-range), so that every
// range means here what it means to npm; a test compares both on generated pairs.
#include "actors/marketplace/semver.h"

#include <algorithm>

#include "core/base/text.h"

namespace nf::marketplace {
namespace {

constexpr std::uint64_t kMaxSafe = 9007199254740991ull;  // 2^53 - 1, node-semver's limit
constexpr std::size_t kMaxLength = 256;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'; }
bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

// `0|[1-9]\d*`, at most 2^53-1.
std::optional<std::uint64_t> numeric(std::string_view s) {
  if (!all_digits(s) || (s.size() > 1 && s[0] == '0') || s.size() > 16) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  if (v > kMaxSafe) return std::nullopt;
  return v;
}

// Dot-separated prerelease identifiers: numeric without leading zeros, or alphanumeric with a
// non-digit.
bool valid_prerelease(std::string_view s) {
  for (auto id : split(s, '.')) {
    if (id.empty() || !std::all_of(id.begin(), id.end(), is_ident_char)) return false;
    if (all_digits(id) && id.size() > 1 && id[0] == '0') return false;
  }
  return true;
}
bool valid_build(std::string_view s) {
  for (auto id : split(s, '.'))
    if (id.empty() || !std::all_of(id.begin(), id.end(), is_ident_char)) return false;
  return true;
}

std::vector<std::string> ids(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  for (auto id : split(s, '.')) out.emplace_back(id);
  return out;
}

int compare_ids(const std::string& a, const std::string& b) {
  const bool an = all_digits(a), bn = all_digits(b);
  if (an && bn) {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a == b ? 0 : (a < b ? -1 : 1);
  }
  if (an) return -1;
  if (bn) return 1;
  return a == b ? 0 : (a < b ? -1 : 1);
}

// Splits "M.m.p[-pre][+build]" into its parts (each part's text), without validating them.
struct pieces {
  std::string_view main, pre, build;
  bool has_pre = false, has_build = false;
};
pieces cut(std::string_view s) {
  pieces p;
  const auto plus = s.find('+');
  if (plus != std::string_view::npos) {
    p.build = s.substr(plus + 1);
    p.has_build = true;
    s = s.substr(0, plus);
  }
  const auto dash = s.find('-');
  if (dash != std::string_view::npos) {
    p.pre = s.substr(dash + 1);
    p.has_pre = true;
    s = s.substr(0, dash);
  }
  p.main = s;
  return p;
}

// An x-range version as node-semver's XRANGEPLAIN reads it: up to three parts, each a number or
// x/X/*, a prerelease and build only after the third. `text` has no operator and no prefix.
struct xr {
  std::string M, m, p;  // empty: absent
  std::string pre;      // prerelease text; empty: none
};
bool is_x(const std::string& id) { return id.empty() || id == "x" || id == "X" || id == "*"; }

std::optional<xr> parse_xr(std::string_view text) {
  const auto pc = cut(text);
  const auto parts = split(pc.main, '.');
  if (parts.empty() || parts.size() > 3) return std::nullopt;
  xr out;
  std::string* slot[] = {&out.M, &out.m, &out.p};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto part = parts[i];
    if (part != "x" && part != "X" && part != "*" && !numeric(part)) return std::nullopt;
    *slot[i] = std::string(part);
  }
  if ((pc.has_pre || pc.has_build) && parts.size() != 3) return std::nullopt;
  if (pc.has_pre && (pc.pre.empty() || !valid_prerelease(pc.pre))) return std::nullopt;
  if (pc.has_build && (pc.build.empty() || !valid_build(pc.build))) return std::nullopt;
  // node-semver makes "M.m.p-pre" a version of its own (`^1.2.3-pre` is `>=1.2.3-pre …`), which
  // its 256-character limit then refuses.
  if (pc.has_pre && pc.main.size() + 1 + pc.pre.size() > kMaxLength) return std::nullopt;
  out.pre = std::string(pc.pre);
  return out;
}

// node-semver's `[v=\s]*` before an x-range version.
std::string_view skip_prefix(std::string_view s) {
  while (!s.empty() && (s[0] == 'v' || s[0] == '=' || s[0] == ' ')) s.remove_prefix(1);
  return s;
}

result<std::uint64_t> plus_one(const std::string& n) {
  const auto v = *numeric(n) + 1;
  if (v > kMaxSafe) return error{errc::invalid_argument, "'" + n + "' + 1 is beyond 2^53-1"};
  return v;
}

using op = range::op;
using comparator = range::comparator;

version make(std::uint64_t M, std::uint64_t m, std::uint64_t p, std::string_view pre = {}) {
  version v;
  v.major = M;
  v.minor = m;
  v.patch = p;
  v.prerelease = ids(pre);
  return v;
}
std::uint64_t num(const std::string& s) { return *numeric(s); }

// Appends what one comparator token means, or says why it is none.
result<void> parse_comparator(std::string_view tok, std::vector<comparator>& out, bool& any) {
  const auto bad = [&] { return error{errc::invalid_argument, "'" + std::string(tok) + "' is not a comparator"}; };
  // Caret and tilde: `^` / `~` / `~>` then an x-range version.
  if (tok[0] == '^' || tok[0] == '~') {
    const bool caret = tok[0] == '^';
    auto rest = tok.substr(1);
    if (!caret && !rest.empty() && rest[0] == '>') rest.remove_prefix(1);
    auto x = parse_xr(skip_prefix(rest));
    if (!x) return bad();
    const auto& [M, m, p, pre] = *x;
    if (is_x(M)) {
      any = true;
      return ok();
    }
    if (is_x(m)) {
      NF_TRY_ASSIGN(auto up, plus_one(M));
      out.push_back({op::ge, make(num(M), 0, 0)});
      out.push_back({op::lt, make(up, 0, 0, "0")});
      return ok();
    }
    if (is_x(p)) {
      out.push_back({op::ge, make(num(M), num(m), 0)});
      if (!caret || M == "0") {
        NF_TRY_ASSIGN(auto up, plus_one(m));
        out.push_back({op::lt, make(num(M), up, 0, "0")});
      } else {
        NF_TRY_ASSIGN(auto up, plus_one(M));
        out.push_back({op::lt, make(up, 0, 0, "0")});
      }
      return ok();
    }
    out.push_back({op::ge, make(num(M), num(m), num(p), pre)});
    if (!caret || (M == "0" && m != "0")) {
      NF_TRY_ASSIGN(auto up, plus_one(m));
      out.push_back({op::lt, make(num(M), up, 0, "0")});
    } else if (M == "0") {
      NF_TRY_ASSIGN(auto up, plus_one(p));
      out.push_back({op::lt, make(0, 0, up, "0")});
    } else {
      NF_TRY_ASSIGN(auto up, plus_one(M));
      out.push_back({op::lt, make(up, 0, 0, "0")});
    }
    return ok();
  }
  // An operator, then an x-range version.
  std::string gtlt;
  std::size_t at = 0;
  if (at < tok.size() && (tok[at] == '<' || tok[at] == '>')) gtlt += tok[at++];
  if (at < tok.size() && tok[at] == '=') gtlt += tok[at++];
  const auto after_op = tok.substr(at);
  const auto body = skip_prefix(after_op);
  auto x = parse_xr(body);
  if (!x) return bad();
  auto [M, m, p, pre] = *x;
  const bool xM = is_x(M), xm = xM || is_x(m), xp = xm || is_x(p);
  if (!xp) {
    // No x: read as it is, a strict version after the operator (node-semver's COMPARATOR).
    const auto prefix = after_op.substr(0, after_op.size() - body.size());
    if (!prefix.empty() && prefix != "v") return bad();
    NF_TRY_ASSIGN(auto v, parse_version(body));
    const op o = gtlt == "<" ? op::lt : gtlt == "<=" ? op::le : gtlt == ">" ? op::gt : gtlt == ">=" ? op::ge : op::eq;
    out.push_back({o, std::move(v)});
    return ok();
  }
  if (gtlt == "=") gtlt.clear();
  if (xM) {
    if (gtlt == ">" || gtlt == "<") out.push_back({op::lt, make(0, 0, 0, "0")});  // nothing
    else any = true;
    return ok();
  }
  if (!gtlt.empty()) {
    std::uint64_t vM = num(M), vm = xm ? 0 : num(m), vp = 0;
    op o = gtlt == "<" ? op::lt : gtlt == "<=" ? op::le : gtlt == ">" ? op::gt : op::ge;
    if (o == op::gt) {
      o = op::ge;
      if (xm) {
        NF_TRY_ASSIGN(vM, plus_one(M));
        vm = 0;
      } else {
        NF_TRY_ASSIGN(vm, plus_one(m));
      }
      vp = 0;
    } else if (o == op::le) {
      o = op::lt;
      if (xm) {
        NF_TRY_ASSIGN(vM, plus_one(M));
      } else {
        NF_TRY_ASSIGN(vm, plus_one(m));
      }
    }
    out.push_back({o, make(vM, vm, vp, o == op::lt ? "0" : "")});
    return ok();
  }
  if (xm) {
    NF_TRY_ASSIGN(auto up, plus_one(M));
    out.push_back({op::ge, make(num(M), 0, 0)});
    out.push_back({op::lt, make(up, 0, 0, "0")});
    return ok();
  }
  NF_TRY_ASSIGN(auto up, plus_one(m));
  out.push_back({op::ge, make(num(M), num(m), 0)});
  out.push_back({op::lt, make(num(M), up, 0, "0")});
  return ok();
}

// node-semver's hyphen range `A - B`.
result<std::optional<std::vector<comparator>>> parse_hyphen(std::string_view set) {
  const auto sep = set.find(" - ");
  if (sep == std::string_view::npos) return std::optional<std::vector<comparator>>{};
  const auto left = set.substr(0, sep), right = set.substr(sep + 3);
  auto from = parse_xr(skip_prefix(left)), to = parse_xr(skip_prefix(right));
  if (!from || !to) return std::optional<std::vector<comparator>>{};
  std::vector<comparator> out;
  if (!is_x(from->M)) {
    if (is_x(from->m)) out.push_back({op::ge, make(num(from->M), 0, 0)});
    else if (is_x(from->p)) out.push_back({op::ge, make(num(from->M), num(from->m), 0)});
    else {
      // `>=` and the text as written: a prefix other than one "v" is not a version.
      const auto body = skip_prefix(left);
      const auto prefix = left.substr(0, left.size() - body.size());
      if (!prefix.empty() && prefix != "v") return error{errc::invalid_argument, "'" + std::string(left) + "' is not a version"};
      NF_TRY_ASSIGN(auto v, parse_version(body));
      out.push_back({op::ge, std::move(v)});
    }
  }
  if (!is_x(to->M)) {
    if (is_x(to->m)) {
      NF_TRY_ASSIGN(auto up, plus_one(to->M));
      out.push_back({op::lt, make(up, 0, 0, "0")});
    } else if (is_x(to->p)) {
      NF_TRY_ASSIGN(auto up, plus_one(to->m));
      out.push_back({op::lt, make(num(to->M), up, 0, "0")});
    } else if (!to->pre.empty()) {
      out.push_back({op::le, make(num(to->M), num(to->m), num(to->p), to->pre)});
    } else {
      const auto body = skip_prefix(right);
      const auto prefix = right.substr(0, right.size() - body.size());
      if (!prefix.empty() && prefix != "v") return error{errc::invalid_argument, "'" + std::string(right) + "' is not a version"};
      NF_TRY_ASSIGN(auto v, parse_version(body));
      out.push_back({op::le, std::move(v)});
    }
  }
  return std::optional<std::vector<comparator>>{std::move(out)};
}

bool test(const comparator& c, const version& v) {
  const int r = compare(v, c.v);
  switch (c.o) {
    case op::lt: return r < 0;
    case op::le: return r <= 0;
    case op::gt: return r > 0;
    case op::ge: return r >= 0;
    case op::eq: return r == 0;
  }
  return false;
}

bool test_set(const std::vector<comparator>& set, const version& v) {
  for (const auto& c : set)
    if (!test(c, v)) return false;
  if (v.prerelease.empty()) return true;
  for (const auto& c : set)
    if (!c.v.prerelease.empty() && c.v.major == v.major && c.v.minor == v.minor && c.v.patch == v.patch) return true;
  return false;
}

std::string join(const std::vector<std::string>& ids_) {
  std::string s;
  for (std::size_t i = 0; i < ids_.size(); ++i) s += (i ? "." : "") + ids_[i];
  return s;
}

}  // namespace

std::string version::to_string() const {
  auto s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  if (!prerelease.empty()) s += "-" + join(prerelease);
  return s;
}

std::string version::to_string_with_build() const {
  auto s = to_string();
  if (!build.empty()) s += "+" + join(build);
  return s;
}

int compare(const version& a, const version& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  for (std::size_t i = 0; i < std::min(a.prerelease.size(), b.prerelease.size()); ++i)
    if (int r = compare_ids(a.prerelease[i], b.prerelease[i])) return r;
  if (a.prerelease.size() != b.prerelease.size()) return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
  return 0;
}

result<version> parse_version(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return error{errc::invalid_argument, "'" + std::string(text.substr(0, 64)) + (text.size() > 64 ? "…" : "") + "' is not a SemVer 2.0.0 version: " + why};
  };
  if (text.size() > kMaxLength) return bad("longer than 256 characters");
  const auto pc = cut(text);
  const auto parts = split(pc.main, '.');
  if (parts.size() != 3) return bad("it needs MAJOR.MINOR.PATCH");
  version v;
  std::uint64_t* slot[] = {&v.major, &v.minor, &v.patch};
  for (std::size_t i = 0; i < 3; ++i) {
    auto n = numeric(parts[i]);
    if (!n) return bad("'" + std::string(parts[i]) + "' is not a number without leading zeros up to 2^53-1");
    *slot[i] = *n;
  }
  if (pc.has_pre && (pc.pre.empty() || !valid_prerelease(pc.pre)))
    return bad("the prerelease needs dot-separated identifiers of [0-9A-Za-z-], numbers without leading zeros");
  if (pc.has_build && (pc.build.empty() || !valid_build(pc.build))) return bad("the build metadata needs dot-separated identifiers of [0-9A-Za-z-]");
  v.prerelease = ids(pc.pre);
  v.build = ids(pc.build);
  return v;
}

result<range> range::parse(std::string_view text) {
  if (text.size() > 4096) return error{errc::invalid_argument, "a range of more than 4096 characters"};
  // Whitespace runs become one space, as node-semver's constructor does.
  std::string raw;
  for (char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (space) {
      if (!raw.empty() && raw.back() != ' ') raw += ' ';
    } else {
      raw += c;
    }
  }
  while (!raw.empty() && raw.back() == ' ') raw.pop_back();
  range r;
  std::size_t at = 0;
  for (;;) {
    const auto bar = raw.find("||", at);
    std::string_view part = std::string_view(raw).substr(at, bar == std::string::npos ? std::string::npos : bar - at);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    std::vector<comparator> set;
    NF_TRY_ASSIGN(auto hyphen, parse_hyphen(part));
    if (hyphen) {
      set = std::move(*hyphen);
    } else {
      // Operators stand with their version: "> 1.2.3" is ">1.2.3".
      std::vector<std::string> toks;
      for (auto t : split(part, ' ')) {
        if (t.empty()) continue;
        if (!toks.empty() && (toks.back() == "<" || toks.back() == ">" || toks.back() == "<=" || toks.back() == ">=" || toks.back() == "=" ||
                              toks.back() == "~" || toks.back() == "~>" || toks.back() == "^")) {
          toks.back() += std::string(t);
          continue;
        }
        toks.emplace_back(t);
      }
      for (const auto& t : toks) {
        bool any = false;
        NF_TRY(parse_comparator(t, set, any));
      }
    }
    r.sets_.push_back(std::move(set));
    if (bar == std::string::npos) break;
    at = bar + 2;
  }
  return r;
}

bool range::satisfied_by(const version& v) const {
  for (const auto& set : sets_)
    if (test_set(set, v)) return true;
  return false;
}

std::string range::to_string() const {
  std::string s;
  for (std::size_t i = 0; i < sets_.size(); ++i) {
    if (i) s += "||";
    if (sets_[i].empty()) s += "*";
    for (std::size_t j = 0; j < sets_[i].size(); ++j) {
      const auto& c = sets_[i][j];
      static const char* names[] = {"<", "<=", ">", ">=", ""};
      s += (j ? " " : "") + std::string(names[static_cast<int>(c.o)]) + c.v.to_string();
    }
  }
  return s;
}

bool satisfies(const version& v, const range& r) { return r.satisfied_by(v); }

std::optional<version> max_satisfying(std::span<const version> versions, const range& r) {
  std::optional<version> best;
  for (const auto& v : versions)
    if (r.satisfied_by(v) && (!best || compare(*best, v) < 0)) best = v;
  return best;
}

}  // namespace nf::marketplace
