// The validate_json node's JSON Schema subset: violations with their JSON pointer and reason;
// unsupported keywords refused at compile naming where; and the verdicts on 3,000 generated
// schema/instance pairs compared with python3-jsonschema's Draft 2020-12 validator.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "actors/workflows/json_schema.h"
#include "tests/support/support.h"

namespace {

using namespace nf::workflows;
using nlohmann::json;

TEST(JsonSchema, ViolationsNameTheirPlace) {
  const auto s = json_schema::compile(json::parse(R"({
    "type": "object", "required": ["id", "items"], "additionalProperties": false,
    "properties": {
      "id": {"type": "string", "minLength": 3},
      "status": {"enum": ["new", "paid"]},
      "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["price"],
                "properties": {"price": {"type": "number", "minimum": 0}, "qty": {"type": "integer", "maximum": 10}}}}
    }})"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->validate(json::parse(R"({"id": "abc", "items": [{"price": 1.5, "qty": 2.0}]})")).empty());
  const auto v = s->validate(json::parse(R"({"id": "ab", "status": "lost", "items": [{"price": -1, "qty": 11}, {"qty": 1.5}], "x/y": 1})"));
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& e : v) got.emplace_back(e.path, e.message);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, std::string>>{
                     {"/id", "must have at least 3 characters"},
                     {"/items/0/price", "must be at least 0"},
                     {"/items/0/qty", "must be at most 10"},
                     {"/items/1", "must have the property 'price'"},
                     {"/items/1/qty", "must be integer, not number"},
                     {"/status", "must be one of [\"new\",\"paid\"]"},
                     {"/x~1y", "is not an allowed property"}}));
  EXPECT_EQ(s->validate(json::array()).at(0).message, "must be object, not array");
  EXPECT_EQ(s->validate(json::parse(R"({"id": "abcd"})"), 1).size(), 1u);
}

TEST(JsonSchema, UnsupportedKeywordsAreRefusedNamingWhere) {
  auto where = [](const char* text) {
    auto s = json_schema::compile(json::parse(text));
    return s ? std::string("(compiled)") : s.error().message;
  };
  EXPECT_EQ(where(R"({"properties": {"a": {"pattern": "^x"}}})"), "/properties/a/pattern: is not a keyword this validator checks");
  EXPECT_EQ(where(R"({"type": "text"})"), "/type: 'text' is not a type");
  EXPECT_EQ(where(R"({"items": {"minItems": -1}})"), "/items/minItems: must be a non-negative integer");
  EXPECT_EQ(where(R"({"additionalProperties": {"type": "string"}})"), "/additionalProperties: must be true or false (schemas here are not supported)");
  EXPECT_EQ(where("[]"), "the schema: a schema is an object");
  std::string deep = "{}";
  for (int i = 0; i < 40; ++i) deep = R"({"items": )" + deep + "}";
  EXPECT_NE(where(deep.c_str()).find("nested more than 32 deep"), std::string::npos);
}

// Generated schemas and instances against python3-jsonschema.
TEST(JsonSchema, VerdictsMatchPythonJsonschema) {
  std::mt19937 rng(20261203);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<std::string> types{"string", "number", "integer", "boolean", "object", "array", "null"};
  std::function<json(int)> value = [&](int depth) -> json {
    switch (pick(depth > 2 ? 5 : 7)) {
      case 0: return json(nullptr);
      case 1: return json(pick(2) == 0);
      case 2: return json(pick(21) - 10);
      case 3: return json((pick(41) - 20) / 4.0);
      case 4: return json(std::string(static_cast<std::size_t>(pick(5)), static_cast<char>('a' + pick(3))));
      case 5: {
        json a = json::array();
        for (int i = pick(4); i > 0; --i) a.push_back(value(depth + 1));
        return a;
      }
      default: {
        json o = json::object();
        for (int i = pick(4); i > 0; --i) o[std::string(1, static_cast<char>('a' + pick(4)))] = value(depth + 1);
        return o;
      }
    }
  };
  std::function<json(int)> schema = [&](int depth) -> json {
    json s = json::object();
    if (pick(2)) {
      if (pick(3) == 0) s["type"] = json::array({types[static_cast<std::size_t>(pick(7))], types[static_cast<std::size_t>(pick(7))]});
      else s["type"] = types[static_cast<std::size_t>(pick(7))];
    }
    if (pick(4) == 0) s["enum"] = json::array({value(3), value(3), json(pick(3))});
    if (pick(3) == 0) s["minimum"] = pick(11) - 5;
    if (pick(3) == 0) s["maximum"] = (pick(21) - 5) / 2.0;
    if (pick(4) == 0) s["minLength"] = pick(4);
    if (pick(4) == 0) s["maxLength"] = pick(4);
    if (pick(4) == 0) s["minItems"] = pick(3);
    if (pick(4) == 0) s["maxItems"] = pick(3);
    if (depth < 3 && pick(3) == 0) s["items"] = schema(depth + 1);
    if (depth < 3 && pick(3) == 0)
      for (int i = pick(3); i >= 0; --i) s["properties"][std::string(1, static_cast<char>('a' + pick(4)))] = schema(depth + 1);
    if (pick(4) == 0) s["required"] = json::array({std::string(1, static_cast<char>('a' + pick(4)))});
    if (pick(4) == 0) s["additionalProperties"] = pick(2) == 0;
    return s;
  };
  std::vector<std::pair<json, json>> cases;
  for (int i = 0; i < 3000; ++i) cases.emplace_back(schema(0), value(0));
  nf::test::temp_dir dir;
  const auto in = (dir.path() / "in.jsonl").string(), out = (dir.path() / "out.txt").string();
  {
    std::ofstream f(in);
    for (const auto& [s, v] : cases) f << json{{"schema", s}, {"instance", v}}.dump() << "\n";
  }
  const std::string cmd = "/usr/bin/python3 " + std::string(NF_SOURCE_DIR) + "/tests/jsonschema/check.py < " + in + " > " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs python3-jsonschema (scripts/deps.sh installs it)";
  std::ifstream f(out);
  std::string line;
  int valid = 0, invalid = 0;
  for (const auto& [s, v] : cases) {
    ASSERT_TRUE(std::getline(f, line));
    auto compiled = json_schema::compile(s);
    ASSERT_TRUE(compiled) << s.dump() << ": " << compiled.error().message;
    const bool ours = compiled->validate(v).empty();
    EXPECT_EQ(ours, line == "valid") << "schema " << s.dump() << " instance " << v.dump();
    (ours ? valid : invalid) += 1;
  }
  EXPECT_GT(valid, 300);
  EXPECT_GT(invalid, 300);
}

}  // namespace
