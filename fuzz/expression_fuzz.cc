// libFuzzer: workflow expressions as a definition's author could write them, evaluated against a
// fixed scope. Nothing may crash, recurse without bound or run away; every error says where.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "actors/workflows/expression.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nf::workflows;
  static const nlohmann::json scope = nlohmann::json::parse(
      R"({"inputs":{"a":1,"s":"text","list":[1,2,3],"o":{"k":"v"}},"vars":{"n":2.5,"b":true,"nil":null}})");
  auto e = expression::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!e) {
    if (e.error().message.rfind("at ", 0) != 0) std::abort();
    return 0;
  }
  auto v = e->eval(scope);
  if (!v && v.error().message.rfind("at ", 0) != 0 && v.error().message != "an empty expression") std::abort();
  return 0;
}
