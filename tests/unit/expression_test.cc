// The workflow expression language: values, paths, operators with their precedence, functions,
// strict types with errors that say where, and its limits.
#include <gtest/gtest.h>

#include "actors/workflows/expression.h"

namespace {

using namespace nf::workflows;
using nlohmann::json;

const json kScope = json::parse(R"({
  "inputs": {"customer": "Ada", "order": {"total": 120.5, "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 3}]}, "vip": true},
  "vars": {"threshold": 100, "tags": ["x", "y"], "headers": {"content-type": "json"}}
})");

json ev(const std::string& text) {
  auto e = expression::parse(text);
  EXPECT_TRUE(e.has_value()) << text << ": " << (e ? "" : e.error().message);
  if (!e) return json("parse error");
  auto v = e->eval(kScope);
  EXPECT_TRUE(v.has_value()) << text << ": " << (v ? "" : v.error().message);
  return v ? *v : json("eval error");
}

std::string err(const std::string& text) {
  auto e = expression::parse(text);
  if (!e) return e.error().message;
  auto v = e->eval(kScope);
  return v ? std::string("(no error)") : v.error().message;
}

TEST(Expression, ValuesPathsAndOperators) {
  EXPECT_EQ(ev("1 + 2 * 3"), 7);
  EXPECT_EQ(ev("(1 + 2) * 3"), 9);
  EXPECT_EQ(ev("7 / 2"), 3.5);
  EXPECT_EQ(ev("8 / 2"), 4);
  EXPECT_EQ(ev("7 % 3"), 1);
  EXPECT_EQ(ev("-inputs.order.total"), -120.5);
  EXPECT_EQ(ev("inputs.order.items[1].qty"), 3);
  EXPECT_EQ(ev("vars.headers['content-type']"), "json");
  EXPECT_EQ(ev("inputs.missing.deeper"), nullptr);
  EXPECT_EQ(ev("inputs.order.items[9]"), nullptr);
  EXPECT_EQ(ev("inputs.order.total > vars.threshold && inputs.vip"), true);
  EXPECT_EQ(ev("!inputs.vip || 1 == 1"), true);
  EXPECT_EQ(ev("inputs.vip ? 'priority' : 'normal'"), "priority");
  EXPECT_EQ(ev("false ? 1 : true ? 2 : 3"), 2);
  EXPECT_EQ(ev("'a' + \"b\""), "ab");
  EXPECT_EQ(ev("[1, 2] + [3]"), json::array({1, 2, 3}));
  EXPECT_EQ(ev("'abc' < 'abd'"), true);
  EXPECT_EQ(ev("vars.tags == ['x', 'y']"), true);
  EXPECT_EQ(ev("1.5e2"), 150);
  EXPECT_EQ(ev("'it\\'s'"), "it's");
  // && and || do not evaluate what they do not need.
  EXPECT_EQ(ev("false && 1 / 0 == 1"), false);
  EXPECT_EQ(ev("true || 1 / 0 == 1"), true);
}

TEST(Expression, Functions) {
  EXPECT_EQ(ev("len(inputs.order.items)"), 2);
  EXPECT_EQ(ev("len('hello')"), 5);
  EXPECT_EQ(ev("upper(inputs.customer) + lower('X')"), "ADAx");
  EXPECT_EQ(ev("trim('  t  ')"), "t");
  EXPECT_EQ(ev("contains(vars.tags, 'y') && contains('haystack', 'st')"), true);
  EXPECT_EQ(ev("starts_with('report.pdf', 'rep') && ends_with('report.pdf', '.pdf')"), true);
  EXPECT_EQ(ev("substr('abcdef', 2, 3)"), "cde");
  EXPECT_EQ(ev("replace('a-b-c', '-', '+')"), "a+b+c");
  EXPECT_EQ(ev("split('a,b,,c', ',')"), json::array({"a", "b", "", "c"}));
  EXPECT_EQ(ev("join(vars.tags, '|')"), "x|y");
  EXPECT_EQ(ev("concat('n=', 3, ' ', true)"), "n=3 true");
  EXPECT_EQ(ev("to_number('42.5') + to_number(1)"), 43.5);
  EXPECT_EQ(ev("to_string(inputs.order.items[0])"), R"({"qty":2,"sku":"a"})");
  EXPECT_EQ(ev("round(2.5) + floor(1.9) + ceil(1.1) + abs(-3)"), 9);
  EXPECT_EQ(ev("min(3, 1, 2) + max(3, 10)"), 11);
  EXPECT_EQ(ev("coalesce(inputs.nothing, vars.threshold)"), 100);
  EXPECT_EQ(ev("keys(vars.headers)"), json::array({"content-type"}));
}

TEST(Expression, ErrorsSayWhere) {
  EXPECT_EQ(err("1 +"), "at 4: the expression ends too early");
  EXPECT_EQ(err("(1 + 2"), "at 7: expected ')', found the end");
  EXPECT_EQ(err("1 $ 2"), "at 3: unexpected '$'");
  EXPECT_EQ(err("'open"), "at 1: the string is not closed");
  EXPECT_EQ(err("inputs.order + 1"), "at 14: '+' takes two numbers, two strings or two arrays, not object and number");
  EXPECT_EQ(err("inputs.customer && true"), "at 17: '&&' takes bools, not string");
  EXPECT_EQ(err("1 ? 2 : 3"), "at 3: '?' needs a bool condition, not number");
  EXPECT_EQ(err("'a' < 1"), "at 5: '<' compares two numbers or two strings, not string and number");
  EXPECT_EQ(err("1 / 0"), "at 3: '/' by zero");
  EXPECT_EQ(err("inputs.customer.name"), "at 16: '.name' reads a field of an object, not of string");
  EXPECT_EQ(err("nope(1)"), "at 1: unknown function 'nope'");
  EXPECT_EQ(err("len(1, 2)"), "at 1: len() takes 1 argument(s), not 2");
  EXPECT_EQ(err("upper(1)"), "at 1: upper() argument 1 must be a string, not number");
  EXPECT_EQ(err("inputs.order.items['x']"), "at 19: an array index is an integer, not string");
  // Found by fuzz/expression_fuzz.cc: a string literal that is not UTF-8 once threw from JSON output.
  EXPECT_EQ(err("[false, '\xa7']"), "at 10: the expression is not valid UTF-8");
}

TEST(Expression, LimitsHold) {
  EXPECT_NE(err(std::string(5000, '1')).find("longer than 4096"), std::string::npos);
  EXPECT_NE(err(std::string(100, '(') + "1" + std::string(100, ')')).find("nested more than 64"), std::string::npos);
  EXPECT_NE(err(std::string(100, '-') + "1").find("nested more than 64"), std::string::npos);
  // Each replace makes the string ten times longer: five of them pass 1 MiB.
  std::string grow = "'" + std::string(100, 'a') + "'";
  for (int i = 0; i < 5; ++i) grow = "replace(" + grow + ", 'a', 'aaaaaaaaaa')";
  EXPECT_NE(err(grow).find("larger than 1 MiB"), std::string::npos) << err(grow).substr(0, 200);
}

}  // namespace
