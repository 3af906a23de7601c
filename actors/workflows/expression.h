// The workflow engine's expression language: small and safe, over JSON, with no code execution.
// A `transform` node and `${...}` templates evaluate expressions against a scope (a JSON object:
// `inputs`, `vars`, `nodes`, ...).
//
//   literals     1, 2.5, 'text', "text", true, false, null, [a, b]
//   paths        inputs.order.total, items[0].price, nodes.fetch.output['content-type']
//   operators    ?:  ||  &&  == != < <= > >=  + -  * / %  unary - and !
//   functions    len upper lower trim contains starts_with ends_with substr replace split join
//                concat to_string to_number round floor ceil abs min max coalesce keys
//
// Types are strict: `&&`, `||`, `!` and `?:` take booleans; arithmetic takes numbers (`+` also
// joins two strings or two arrays); `<` and friends compare two numbers or two strings; `==`
// compares any two values. A missing field or index reads as null. Every error says where:
// "at 14: '+' takes two numbers, two strings or two arrays, not number and object".
// Bounded: at most 4096 characters, nesting 64 deep, 100,000 evaluation steps, values of 1 MiB.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace nf::workflows {

class expression {
 public:
  // errc::invalid_argument "at N: ..." (N counts characters from 1).
  static result<expression> parse(std::string_view text);
  // errc::invalid_argument "at N: ..." for a type error, a bad argument or a limit.
  result<nlohmann::json> eval(const nlohmann::json& scope) const;
  const std::string& text() const { return text_; }

  // The names an expression reads: each path's root and the member names that follow it
  // (`nodes.fetch.output` -> {"nodes", "fetch", "output"}; an index by a string literal counts
  // as a member, any other index ends the path), with the root's position. The workflow compiler
  // checks them against what a node can see.
  struct reference {
    std::size_t at = 0;
    std::vector<std::string> path;
  };
  std::vector<reference> references() const;

  struct node;

 private:
  std::string text_;
  std::shared_ptr<const std::vector<node>> nodes_;
  int root_ = -1;
};

}  // namespace nf::workflows
