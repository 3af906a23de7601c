// A tokenizer, a Pratt parser into a flat node list, and a tree-walking evaluator with bounds.
#include "actors/workflows/expression.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/base/text.h"

namespace nf::workflows {

using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxText = 4096;
constexpr int kMaxDepth = 64;
constexpr std::uint64_t kMaxSteps = 100'000;
constexpr std::size_t kMaxValueBytes = 1 << 20;

enum class tok { end, number, string, ident, op };

struct token {
  tok kind = tok::end;
  std::string text;  // the operator, identifier or decoded string
  double number = 0;
  bool integral = false;
  std::size_t at = 0;  // 1-based position
};

error at_error(std::size_t at, const std::string& why) { return error{errc::invalid_argument, "at " + std::to_string(at) + ": " + why}; }

result<std::vector<token>> lex(std::string_view s) {
  std::vector<token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    token t;
    t.at = i + 1;
    if ((c >= '0' && c <= '9') || (c == '.' && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9')) {
      std::size_t j = i;
      bool dot = false, exp = false;
      while (j < s.size()) {
        const char d = s[j];
        if (d >= '0' && d <= '9') {
          ++j;
        } else if (d == '.' && !dot && !exp) {
          dot = true;
          ++j;
        } else if ((d == 'e' || d == 'E') && !exp) {
          exp = true;
          ++j;
          if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        } else {
          break;
        }
      }
      const std::string num(s.substr(i, j - i));
      char* end = nullptr;
      t.number = std::strtod(num.c_str(), &end);
      if (end != num.c_str() + num.size() || !std::isfinite(t.number)) return at_error(t.at, "'" + num + "' is not a number");
      t.integral = !dot && !exp && num.size() <= 15;
      t.kind = tok::number;
      i = j;
    } else if (c == '\'' || c == '"') {
      std::size_t j = i + 1;
      std::string v;
      for (;; ++j) {
        if (j >= s.size()) return at_error(t.at, "the string is not closed");
        if (s[j] == c) break;
        if (s[j] == '\\') {
          if (++j >= s.size()) return at_error(t.at, "the string is not closed");
          switch (s[j]) {
            case 'n': v += '\n'; break;
            case 't': v += '\t'; break;
            case '\\': case '\'': case '"': v += s[j]; break;
            default: return at_error(j, std::string("unknown escape \\") + s[j]);
          }
        } else {
          v += s[j];
        }
      }
      t.kind = tok::string;
      t.text = std::move(v);
      i = j + 1;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
      std::size_t j = i;
      while (j < s.size() && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') || (s[j] >= '0' && s[j] <= '9') || s[j] == '_')) ++j;
      t.kind = tok::ident;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else {
      static const char* const two[] = {"||", "&&", "==", "!=", "<=", ">="};
      t.kind = tok::op;
      for (const char* o : two)
        if (s.substr(i, 2) == o) t.text = o;
      if (t.text.empty()) {
        if (std::string_view("()[],.?:<>+-*/%!").find(c) == std::string_view::npos) return at_error(t.at, std::string("unexpected '") + c + "'");
        t.text = std::string(1, c);
      }
      i += t.text.size();
    }
    out.push_back(std::move(t));
  }
  token e;
  e.at = s.size() + 1;
  out.push_back(e);
  return out;
}

}  // namespace

struct expression::node {
  enum class kind { literal, root, member, index, unary, binary, ternary, call, array } k;
  std::size_t at = 0;
  json value;         // literal
  std::string name;   // root, member, operator, function
  std::vector<int> kids;
};

namespace {

using node = expression::node;

class parser {
 public:
  explicit parser(std::vector<token> t) : toks_(std::move(t)) {}
  std::vector<node> nodes;

  result<int> parse_all() {
    NF_TRY_ASSIGN(int root, expr(0, 0));
    if (peek().kind != tok::end) return at_error(peek().at, "unexpected '" + describe(peek()) + "'");
    return root;
  }

 private:
  const token& peek() const { return toks_[pos_]; }
  token take() { return toks_[pos_ < toks_.size() - 1 ? pos_++ : pos_]; }
  bool is_op(const char* o) const { return peek().kind == tok::op && peek().text == o; }
  static std::string describe(const token& t) { return t.kind == tok::end ? std::string("end of expression") : t.text.empty() ? std::to_string(t.number) : t.text; }
  result<void> expect(const char* o) {
    if (!is_op(o)) return at_error(peek().at, std::string("expected '") + o + "', found " + (peek().kind == tok::end ? "the end" : "'" + describe(peek()) + "'"));
    take();
    return ok();
  }
  int add(node n) {
    nodes.push_back(std::move(n));
    return static_cast<int>(nodes.size()) - 1;
  }
  static int precedence(const std::string& o) {
    if (o == "?") return 1;
    if (o == "||") return 2;
    if (o == "&&") return 3;
    if (o == "==" || o == "!=") return 4;
    if (o == "<" || o == "<=" || o == ">" || o == ">=") return 5;
    if (o == "+" || o == "-") return 6;
    if (o == "*" || o == "/" || o == "%") return 7;
    return 0;
  }

  result<int> expr(int min_prec, int depth) {
    if (depth > kMaxDepth) return at_error(peek().at, "nested more than " + std::to_string(kMaxDepth) + " deep");
    NF_TRY_ASSIGN(int left, unary(depth));
    for (;;) {
      const auto& t = peek();
      if (t.kind != tok::op) break;
      const int p = precedence(t.text);
      if (p == 0 || p < min_prec) break;
      const token op = take();
      if (op.text == "?") {
        NF_TRY_ASSIGN(int a, expr(0, depth + 1));
        NF_TRY(expect(":"));
        NF_TRY_ASSIGN(int b, expr(p, depth + 1));  // right-associative
        left = add(node{node::kind::ternary, op.at, {}, "?", {left, a, b}});
        continue;
      }
      NF_TRY_ASSIGN(int right, expr(p + 1, depth + 1));
      left = add(node{node::kind::binary, op.at, {}, op.text, {left, right}});
    }
    return left;
  }

  result<int> unary(int depth) {
    if (depth > kMaxDepth) return at_error(peek().at, "nested more than " + std::to_string(kMaxDepth) + " deep");
    if (is_op("-") || is_op("!")) {
      const token op = take();
      NF_TRY_ASSIGN(int a, unary(depth + 1));
      return add(node{node::kind::unary, op.at, {}, op.text, {a}});
    }
    return postfix(depth);
  }

  result<int> postfix(int depth) {
    NF_TRY_ASSIGN(int n, primary(depth));
    for (;;) {
      if (is_op(".")) {
        const token dot = take();
        if (peek().kind != tok::ident) return at_error(peek().at, "a field name must follow '.'");
        n = add(node{node::kind::member, dot.at, {}, take().text, {n}});
      } else if (is_op("[")) {
        const token open = take();
        NF_TRY_ASSIGN(int i, expr(0, depth + 1));
        NF_TRY(expect("]"));
        n = add(node{node::kind::index, open.at, {}, "", {n, i}});
      } else {
        return n;
      }
    }
  }

  result<int> primary(int depth) {
    const token t = take();
    switch (t.kind) {
      case tok::number:
        return add(node{node::kind::literal, t.at, t.integral ? json(static_cast<std::int64_t>(t.number)) : json(t.number), "", {}});
      case tok::string:
        return add(node{node::kind::literal, t.at, json(t.text), "", {}});
      case tok::ident: {
        if (t.text == "true" || t.text == "false") return add(node{node::kind::literal, t.at, json(t.text == "true"), "", {}});
        if (t.text == "null") return add(node{node::kind::literal, t.at, json(nullptr), "", {}});
        if (is_op("(")) {
          take();
          node call{node::kind::call, t.at, {}, t.text, {}};
          if (!is_op(")")) {
            for (;;) {
              NF_TRY_ASSIGN(int a, expr(0, depth + 1));
              call.kids.push_back(a);
              if (call.kids.size() > 32) return at_error(t.at, "a call takes at most 32 arguments");
              if (is_op(",")) {
                take();
                continue;
              }
              break;
            }
          }
          NF_TRY(expect(")"));
          return add(std::move(call));
        }
        return add(node{node::kind::root, t.at, {}, t.text, {}});
      }
      case tok::op:
        if (t.text == "(") {
          NF_TRY_ASSIGN(int inner, expr(0, depth + 1));
          NF_TRY(expect(")"));
          return inner;
        }
        if (t.text == "[") {
          node arr{node::kind::array, t.at, {}, "", {}};
          if (!is_op("]")) {
            for (;;) {
              NF_TRY_ASSIGN(int a, expr(0, depth + 1));
              arr.kids.push_back(a);
              if (is_op(",")) {
                take();
                continue;
              }
              break;
            }
          }
          NF_TRY(expect("]"));
          return add(std::move(arr));
        }
        return at_error(t.at, "unexpected '" + t.text + "'");
      case tok::end:
        break;
    }
    return at_error(t.at, "the expression ends too early");
  }

  std::vector<token> toks_;
  std::size_t pos_ = 0;
};

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "bool";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    case json::value_t::discarded: return "nothing";
    default: return "number";
  }
}

// A value as JSON text; bytes that are not UTF-8 (from the scope) become U+FFFD, never an exception.
std::string text(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// An integer JSON value when the double is one (within the exactly representable range).
json number(double d) {
  if (std::nearbyint(d) == d && std::fabs(d) < 9007199254740992.0) return json(static_cast<std::int64_t>(d));
  return json(d);
}

class evaluator {
 public:
  evaluator(const std::vector<node>& nodes, const json& scope) : nodes_(nodes), scope_(scope) {}

  result<json> eval(int i) {
    if (++steps_ > kMaxSteps) return at_error(nodes_[static_cast<std::size_t>(i)].at, "more than 100,000 evaluation steps");
    const auto& n = nodes_[static_cast<std::size_t>(i)];
    switch (n.k) {
      case node::kind::literal:
        return n.value;
      case node::kind::root:
        return scope_.is_object() && scope_.contains(n.name) ? scope_[n.name] : json(nullptr);
      case node::kind::member: {
        NF_TRY_ASSIGN(auto o, eval(n.kids[0]));
        if (o.is_null()) return json(nullptr);
        if (!o.is_object()) return at_error(n.at, "'." + n.name + "' reads a field of an object, not of " + type_name(o));
        return o.contains(n.name) ? o[n.name] : json(nullptr);
      }
      case node::kind::index: {
        NF_TRY_ASSIGN(auto o, eval(n.kids[0]));
        NF_TRY_ASSIGN(auto k, eval(n.kids[1]));
        if (o.is_null()) return json(nullptr);
        if (o.is_array()) {
          if (!k.is_number_integer()) return at_error(n.at, std::string("an array index is an integer, not ") + type_name(k));
          const auto idx = k.get<std::int64_t>();
          if (idx < 0 || static_cast<std::uint64_t>(idx) >= o.size()) return json(nullptr);
          return o[static_cast<std::size_t>(idx)];
        }
        if (o.is_object()) {
          if (!k.is_string()) return at_error(n.at, std::string("an object key is a string, not ") + type_name(k));
          return o.contains(k.get<std::string>()) ? o[k.get<std::string>()] : json(nullptr);
        }
        return at_error(n.at, std::string("'[...]' reads an array or an object, not ") + type_name(o));
      }
      case node::kind::array: {
        json out = json::array();
        for (int k : n.kids) {
          NF_TRY_ASSIGN(auto v, eval(k));
          out.push_back(std::move(v));
        }
        return bounded(n, std::move(out));
      }
      case node::kind::unary: {
        NF_TRY_ASSIGN(auto a, eval(n.kids[0]));
        if (n.name == "!") {
          if (!a.is_boolean()) return at_error(n.at, std::string("'!' takes a bool, not ") + type_name(a));
          return json(!a.get<bool>());
        }
        if (!a.is_number()) return at_error(n.at, std::string("'-' takes a number, not ") + type_name(a));
        return a.is_number_integer() ? json(-a.get<std::int64_t>()) : json(-a.get<double>());
      }
      case node::kind::ternary: {
        NF_TRY_ASSIGN(auto c, eval(n.kids[0]));
        if (!c.is_boolean()) return at_error(n.at, std::string("'?' needs a bool condition, not ") + type_name(c));
        return eval(c.get<bool>() ? n.kids[1] : n.kids[2]);
      }
      case node::kind::binary:
        return binary(n);
      case node::kind::call:
        return call(n);
    }
    return at_error(n.at, "cannot be evaluated");
  }

 private:
  result<json> bounded(const node& n, json v) {
    if (v.is_string() ? v.get_ref<const std::string&>().size() > kMaxValueBytes : (v.is_array() || v.is_object()) && text(v).size() > kMaxValueBytes)
      return at_error(n.at, "the value is larger than 1 MiB");
    return v;
  }

  result<json> binary(const node& n) {
    const std::string& op = n.name;
    NF_TRY_ASSIGN(auto a, eval(n.kids[0]));
    if (op == "&&" || op == "||") {
      if (!a.is_boolean()) return at_error(n.at, "'" + op + "' takes bools, not " + type_name(a));
      if (op == "&&" && !a.get<bool>()) return json(false);
      if (op == "||" && a.get<bool>()) return json(true);
      NF_TRY_ASSIGN(auto b, eval(n.kids[1]));
      if (!b.is_boolean()) return at_error(n.at, "'" + op + "' takes bools, not " + type_name(b));
      return b;
    }
    NF_TRY_ASSIGN(auto b, eval(n.kids[1]));
    if (op == "==") return json(a == b);
    if (op == "!=") return json(a != b);
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      int c = 0;
      if (a.is_number() && b.is_number()) {
        const double x = a.get<double>(), y = b.get<double>();
        c = x < y ? -1 : x > y ? 1 : 0;
      } else if (a.is_string() && b.is_string()) {
        c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
      } else {
        return at_error(n.at, "'" + op + "' compares two numbers or two strings, not " + type_name(a) + " and " + type_name(b));
      }
      return json(op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0);
    }
    if (op == "+" && a.is_string() && b.is_string()) return bounded(n, json(a.get<std::string>() + b.get<std::string>()));
    if (op == "+" && a.is_array() && b.is_array()) {
      json out = a;
      for (const auto& v : b) out.push_back(v);
      return bounded(n, std::move(out));
    }
    if (!a.is_number() || !b.is_number())
      return at_error(n.at, "'" + op + "' takes two numbers" + (op == "+" ? std::string(", two strings or two arrays") : std::string()) + ", not " +
                                type_name(a) + " and " + type_name(b));
    const bool ints = a.is_number_integer() && b.is_number_integer();
    if (op == "%") {
      if (!ints) return at_error(n.at, "'%' takes two integers");
      if (b.get<std::int64_t>() == 0) return at_error(n.at, "'%' by zero");
      if (a.get<std::int64_t>() == INT64_MIN && b.get<std::int64_t>() == -1) return json(0);
      return json(a.get<std::int64_t>() % b.get<std::int64_t>());
    }
    const double x = a.get<double>(), y = b.get<double>();
    double r = 0;
    if (op == "+") r = x + y;
    else if (op == "-") r = x - y;
    else if (op == "*") r = x * y;
    else {
      if (y == 0) return at_error(n.at, "'/' by zero");
      r = x / y;
    }
    if (!std::isfinite(r)) return at_error(n.at, "'" + op + "' overflows");
    return number(r);
  }

  result<json> call(const node& n) {
    std::vector<json> args;
    for (int k : n.kids) {
      NF_TRY_ASSIGN(auto v, eval(k));
      args.push_back(std::move(v));
    }
    const std::string& f = n.name;
    auto arity = [&](std::size_t lo, std::size_t hi) -> std::optional<error> {
      if (args.size() < lo || args.size() > hi)
        return at_error(n.at, f + "() takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                                  " argument(s), not " + std::to_string(args.size()));
      return std::nullopt;
    };
    auto want = [&](std::size_t i, bool ok, const char* what) -> std::optional<error> {
      if (ok) return std::nullopt;
      return at_error(n.at, f + "() argument " + std::to_string(i + 1) + " must be " + what + ", not " + type_name(args[i]));
    };
#define NF_CHECK(x) \
  if (auto e_ = (x)) return *e_
    if (f == "len") {
      NF_CHECK(arity(1, 1));
      if (args[0].is_string()) return json(args[0].get_ref<const std::string&>().size());
      NF_CHECK(want(0, args[0].is_array() || args[0].is_object(), "a string, an array or an object"));
      return json(args[0].size());
    }
    if (f == "upper" || f == "lower" || f == "trim") {
      NF_CHECK(arity(1, 1));
      NF_CHECK(want(0, args[0].is_string(), "a string"));
      std::string s = args[0].get<std::string>();
      if (f == "trim") {
        const auto b = s.find_first_not_of(" \t\n\r"), e = s.find_last_not_of(" \t\n\r");
        return json(b == std::string::npos ? std::string() : s.substr(b, e - b + 1));
      }
      for (auto& c : s) c = static_cast<char>(f == "upper" ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
      return json(s);
    }
    if (f == "contains") {
      NF_CHECK(arity(2, 2));
      if (args[0].is_string()) {
        NF_CHECK(want(1, args[1].is_string(), "a string"));
        return json(args[0].get_ref<const std::string&>().find(args[1].get_ref<const std::string&>()) != std::string::npos);
      }
      NF_CHECK(want(0, args[0].is_array(), "a string or an array"));
      return json(std::find(args[0].begin(), args[0].end(), args[1]) != args[0].end());
    }
    if (f == "starts_with" || f == "ends_with") {
      NF_CHECK(arity(2, 2));
      NF_CHECK(want(0, args[0].is_string(), "a string"));
      NF_CHECK(want(1, args[1].is_string(), "a string"));
      const auto &s = args[0].get_ref<const std::string&>(), &p = args[1].get_ref<const std::string&>();
      return json(f == "starts_with" ? s.starts_with(p) : s.ends_with(p));
    }
    if (f == "substr") {
      NF_CHECK(arity(2, 3));
      NF_CHECK(want(0, args[0].is_string(), "a string"));
      NF_CHECK(want(1, args[1].is_number_integer() && args[1].get<std::int64_t>() >= 0, "a non-negative integer"));
      if (args.size() == 3) NF_CHECK(want(2, args[2].is_number_integer() && args[2].get<std::int64_t>() >= 0, "a non-negative integer"));
      const auto& s = args[0].get_ref<const std::string&>();
      const auto from = static_cast<std::size_t>(args[1].get<std::int64_t>());
      if (from >= s.size()) return json("");
      return json(s.substr(from, args.size() == 3 ? static_cast<std::size_t>(args[2].get<std::int64_t>()) : std::string::npos));
    }
    if (f == "replace") {
      NF_CHECK(arity(3, 3));
      for (std::size_t i = 0; i < 3; ++i) NF_CHECK(want(i, args[i].is_string(), "a string"));
      std::string s = args[0].get<std::string>();
      const std::string from = args[1].get<std::string>(), to = args[2].get<std::string>();
      if (from.empty()) return json(s);
      std::string out;
      std::size_t at = 0;
      for (auto p = s.find(from); p != std::string::npos; p = s.find(from, at)) {
        out += s.substr(at, p - at) + to;
        at = p + from.size();
        if (out.size() > kMaxValueBytes) return at_error(n.at, "the value is larger than 1 MiB");
      }
      return bounded(n, json(out + s.substr(at)));
    }
    if (f == "split") {
      NF_CHECK(arity(2, 2));
      NF_CHECK(want(0, args[0].is_string(), "a string"));
      NF_CHECK(want(1, args[1].is_string() && !args[1].get_ref<const std::string&>().empty(), "a non-empty string"));
      json out = json::array();
      const auto &s = args[0].get_ref<const std::string&>(), &sep = args[1].get_ref<const std::string&>();
      std::size_t at = 0;
      for (auto p = s.find(sep); p != std::string::npos; p = s.find(sep, at)) {
        out.push_back(s.substr(at, p - at));
        at = p + sep.size();
      }
      out.push_back(s.substr(at));
      return bounded(n, std::move(out));
    }
    if (f == "join") {
      NF_CHECK(arity(2, 2));
      NF_CHECK(want(0, args[0].is_array(), "an array"));
      NF_CHECK(want(1, args[1].is_string(), "a string"));
      std::string out;
      bool first = true;
      for (const auto& v : args[0]) {
        if (!first) out += args[1].get_ref<const std::string&>();
        first = false;
        out += v.is_string() ? v.get<std::string>() : text(v);
        if (out.size() > kMaxValueBytes) return at_error(n.at, "the value is larger than 1 MiB");
      }
      return json(out);
    }
    if (f == "concat") {
      std::string out;
      for (const auto& v : args) {
        out += v.is_string() ? v.get<std::string>() : text(v);
        if (out.size() > kMaxValueBytes) return at_error(n.at, "the value is larger than 1 MiB");
      }
      return json(out);
    }
    if (f == "to_string") {
      NF_CHECK(arity(1, 1));
      return bounded(n, json(args[0].is_string() ? args[0].get<std::string>() : text(args[0])));
    }
    if (f == "to_number") {
      NF_CHECK(arity(1, 1));
      if (args[0].is_number()) return args[0];
      NF_CHECK(want(0, args[0].is_string(), "a string or a number"));
      const auto& s = args[0].get_ref<const std::string&>();
      char* end = nullptr;
      const double d = std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(d)) return at_error(n.at, "to_number(): '" + s.substr(0, 64) + "' is not a number");
      return number(d);
    }
    if (f == "round" || f == "floor" || f == "ceil" || f == "abs") {
      NF_CHECK(arity(1, 1));
      NF_CHECK(want(0, args[0].is_number(), "a number"));
      const double d = args[0].get<double>();
      return number(f == "round" ? std::round(d) : f == "floor" ? std::floor(d) : f == "ceil" ? std::ceil(d) : std::fabs(d));
    }
    if (f == "min" || f == "max") {
      if (args.empty()) return at_error(n.at, f + "() takes at least one argument");
      json best = args[0];
      for (std::size_t i = 0; i < args.size(); ++i) {
        NF_CHECK(want(i, args[i].is_number(), "a number"));
        if (f == "min" ? args[i].get<double>() < best.get<double>() : args[i].get<double>() > best.get<double>()) best = args[i];
      }
      return best;
    }
    if (f == "coalesce") {
      for (const auto& v : args)
        if (!v.is_null()) return v;
      return json(nullptr);
    }
    if (f == "keys") {
      NF_CHECK(arity(1, 1));
      NF_CHECK(want(0, args[0].is_object(), "an object"));
      json out = json::array();
      for (const auto& [k, _] : args[0].items()) out.push_back(k);
      return out;
    }
#undef NF_CHECK
    return at_error(n.at, "unknown function '" + f + "'");
  }

  const std::vector<node>& nodes_;
  const json& scope_;
  std::uint64_t steps_ = 0;
};

}  // namespace

result<expression> expression::parse(std::string_view text) {
  if (text.size() > kMaxText) return at_error(kMaxText, "the expression is longer than 4096 characters");
  if (!valid_utf8(text)) {
    std::size_t at = 0;
    while (at < text.size() && valid_utf8(text.substr(0, at + 1))) ++at;
    return at_error(at + 1, "the expression is not valid UTF-8");
  }
  NF_TRY_ASSIGN(auto toks, lex(text));
  parser p(std::move(toks));
  NF_TRY_ASSIGN(int root, p.parse_all());
  expression e;
  e.text_ = std::string(text);
  e.nodes_ = std::make_shared<const std::vector<node>>(std::move(p.nodes));
  e.root_ = root;
  return e;
}

std::vector<expression::reference> expression::references() const {
  std::vector<reference> out;
  if (!nodes_) return out;
  const auto& ns = *nodes_;
  std::vector<int> parent(ns.size(), -1);  // the member or index node reading a node's value
  for (std::size_t i = 0; i < ns.size(); ++i)
    if ((ns[i].k == node::kind::member || ns[i].k == node::kind::index) && !ns[i].kids.empty())
      parent[static_cast<std::size_t>(ns[i].kids[0])] = static_cast<int>(i);
  for (std::size_t i = 0; i < ns.size(); ++i) {
    if (ns[i].k != node::kind::root) continue;
    reference r{ns[i].at, {ns[i].name}};
    for (int p = parent[i]; p >= 0; p = parent[static_cast<std::size_t>(p)]) {
      const auto& n = ns[static_cast<std::size_t>(p)];
      if (n.k == node::kind::member) {
        r.path.push_back(n.name);
        continue;
      }
      const auto& idx = ns[static_cast<std::size_t>(n.kids[1])];
      if (idx.k != node::kind::literal || !idx.value.is_string()) break;
      r.path.push_back(idx.value.get<std::string>());
    }
    out.push_back(std::move(r));
  }
  return out;
}

result<json> expression::eval(const json& scope) const {
  if (!nodes_ || root_ < 0) return error{errc::invalid_argument, "an empty expression"};
  evaluator ev(*nodes_, scope);
  return ev.eval(root_);
}

}  // namespace nf::workflows
