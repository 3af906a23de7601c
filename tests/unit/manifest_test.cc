// agent.json validation: a full manifest is read field by field; each kind of bad input is
// refused naming its field; package paths refuse traversal.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "actors/marketplace/manifest.h"

namespace {

using namespace nf::marketplace;
using nlohmann::json;

json good() {
  return json{{"name", "code-reviewer"},
              {"version", "1.4.0-rc.1+sha.9"},
              {"description", "Reviews pull requests"},
              {"category", "engineering"},
              {"capabilities", {"code.review", "network"}},
              {"protocols", {"openai-tools", "nexus"}},
              {"dependencies", {{"diff-parser", "^2.1.0"}, {"lint-core", ">=1.0.0 <3 || 4.x"}}},
              {"entrypoint", "bin/run.sh"},
              {"selftest", "bin/run.sh --selftest"},
              {"visibility", "tenant"}};
}

std::string field_of(const json& doc) {
  auto r = parse_manifest(doc);
  if (auto* e = std::get_if<manifest_error>(&r)) return e->field;
  return "(accepted)";
}

TEST(Manifest, AFullManifestIsReadFieldByField) {
  auto r = parse_manifest(good());
  ASSERT_TRUE(std::holds_alternative<manifest>(r)) << std::get<manifest_error>(r).message;
  const auto& m = std::get<manifest>(r);
  EXPECT_EQ(m.name, "code-reviewer");
  EXPECT_EQ(m.ver.to_string_with_build(), "1.4.0-rc.1+sha.9");
  EXPECT_EQ(m.capabilities, (std::vector<std::string>{"code.review", "network"}));
  EXPECT_EQ(m.protocols, (std::vector<std::string>{"openai-tools", "nexus"}));
  EXPECT_EQ(m.dependencies.at("lint-core"), ">=1.0.0 <3 || 4.x");
  EXPECT_EQ(m.selftest, std::optional<std::string>{"bin/run.sh --selftest"});
  EXPECT_EQ(m.visibility, "tenant");
  auto minimal = good();
  for (const auto* f : {"capabilities", "dependencies", "selftest", "visibility"}) minimal.erase(f);
  auto r2 = parse_manifest(minimal);
  ASSERT_TRUE(std::holds_alternative<manifest>(r2));
  EXPECT_EQ(std::get<manifest>(r2).visibility, "public");
}

TEST(Manifest, EachBadFieldIsRefusedByName) {
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases{
      {[](json& d) { d["name"] = "Code_Reviewer"; }, "name"},
      {[](json& d) { d["name"] = std::string(65, 'a'); }, "name"},
      {[](json& d) { d.erase("name"); }, "name"},
      {[](json& d) { d["version"] = "1.4"; }, "version"},
      {[](json& d) { d["version"] = "v1.4.0"; }, "version"},
      {[](json& d) { d["version"] = 1; }, "version"},
      {[](json& d) { d["description"] = ""; }, "description"},
      {[](json& d) { d["description"] = std::string(2001, 'x'); }, "description"},
      {[](json& d) { d["category"] = "AI Tools"; }, "category"},
      {[](json& d) { d["capabilities"] = {"network", "network"}; }, "capabilities"},
      {[](json& d) { d["capabilities"] = "network"; }, "capabilities"},
      {[](json& d) { d["protocols"] = json::array(); }, "protocols"},
      {[](json& d) { d["protocols"] = {"grpc"}; }, "protocols"},
      {[](json& d) { d["dependencies"]["diff-parser"] = "^01.2"; }, "dependencies.diff-parser"},
      {[](json& d) { d["dependencies"]["Bad Name"] = "1.x"; }, "dependencies.Bad Name"},
      {[](json& d) { d["dependencies"]["code-reviewer"] = "1.x"; }, "dependencies.code-reviewer"},
      {[](json& d) { d["dependencies"]["diff-parser"] = 2; }, "dependencies.diff-parser"},
      {[](json& d) { d["entrypoint"] = "../escape.sh"; }, "entrypoint"},
      {[](json& d) { d["entrypoint"] = "/etc/passwd"; }, "entrypoint"},
      {[](json& d) { d["selftest"] = ""; }, "selftest"},
      {[](json& d) { d["visibility"] = "private"; }, "visibility"},
      {[](json& d) { d["homepage"] = "https://x"; }, "homepage"}};
  for (const auto& [mutate, field] : cases) {
    auto d = good();
    mutate(d);
    EXPECT_EQ(field_of(d), field) << d.dump();
  }
  EXPECT_EQ(field_of(json::array()), "");
  auto big = parse_manifest_text(std::string(kMaxManifestBytes + 1, ' '));
  ASSERT_TRUE(std::holds_alternative<manifest_error>(big));
  EXPECT_NE(std::get<manifest_error>(big).message.find("64 KiB"), std::string::npos);
  auto broken = parse_manifest_text("{\"name\":");
  ASSERT_TRUE(std::holds_alternative<manifest_error>(broken));
  EXPECT_NE(std::get<manifest_error>(broken).message.find("not valid JSON"), std::string::npos);
}

TEST(Manifest, PackagePathsStayInsideThePackage) {
  for (const auto* ok : {"run.sh", "bin/run.sh", "a/b/c.txt", "..hidden", "a/.b"}) EXPECT_TRUE(valid_package_path(ok)) << ok;
  for (const auto* bad : {"", "/abs", "../x", "a/../../x", "a//b", "a/./b", "a/", "a\\b", "."}) EXPECT_FALSE(valid_package_path(bad)) << bad;
  EXPECT_FALSE(valid_package_path(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_package_path(std::string(513, 'a')));
}

}  // namespace
