// The text that describes the code stays true to it: every repository path a README, a doc or
// a header comment names exists, every projection README documents exactly the key prefixes its
// code writes, and no feature README calls itself unfinished.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#ifndef NF_SOURCE_DIR
#error "NF_SOURCE_DIR must name the repository root"
#endif

namespace {

namespace fs = std::filesystem;
const fs::path kRoot = NF_SOURCE_DIR;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> files_under(const std::vector<std::string>& dirs, const std::set<std::string>& exts) {
  std::vector<fs::path> out;
  for (const auto& d : dirs) {
    if (!fs::exists(kRoot / d)) continue;
    for (const auto& e : fs::recursive_directory_iterator(kRoot / d))
      if (e.is_regular_file() && exts.count(e.path().extension().string())) out.push_back(e.path());
  }
  return out;
}

TEST(Docs, EveryRepositoryPathTheTextNamesExists) {
  // Paths such as tests/component/x_test.cc or actors/tenancy/routes.h, in backticks or prose.
  static const std::regex path_re(R"(\b((?:core|actors|projections|apps|tests|bench|fuzz|scripts|docs|events|config)/[A-Za-z0-9_./-]+\.(?:h|cc|md|py|sh|proto|json)))");
  auto docs = files_under({"docs", "core", "actors", "projections", "apps"}, {".md", ".h"});
  docs.push_back(kRoot / "README.md");
  std::size_t checked = 0;
  for (const auto& f : docs) {
    const auto text = read(f);
    for (std::sregex_iterator it(text.begin(), text.end(), path_re), end; it != end; ++it) {
      const std::string p = (*it)[1].str();
      ++checked;
      EXPECT_TRUE(fs::exists(kRoot / p)) << fs::relative(f, kRoot).string() << " names " << p << ", which does not exist";
    }
  }
  EXPECT_GT(checked, 10u);
}

// The prefixes ("m/", "ct/") written by a projection's code and the ones its README documents.
std::set<std::string> prefixes(const std::string& text, const std::regex& re) {
  std::set<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) out.insert((*it)[1].str());
  return out;
}

TEST(Docs, ProjectionReadmesDocumentExactlyTheKeyPrefixesTheCodeWrites) {
  static const std::regex code_re(R"re("([a-z]{1,3}/))re");
  static const std::regex doc_re(R"(`([a-z]{1,3}/))");
  for (const auto& dir : fs::directory_iterator(kRoot / "projections")) {
    if (!dir.is_directory()) continue;
    std::string code;
    for (const auto& f : fs::directory_iterator(dir.path()))
      if (f.path().extension() == ".cc") code += read(f.path());
    const auto readme = dir.path() / "README.md";
    ASSERT_TRUE(fs::exists(readme)) << dir.path().filename() << " has no README.md";
    auto text = read(readme);
    const auto layout = text.find("## Key layout");
    ASSERT_NE(layout, std::string::npos) << readme << " has no '## Key layout' section";
    const auto next = text.find("\n## ", layout + 3);
    text = text.substr(layout, next == std::string::npos ? std::string::npos : next - layout);
    EXPECT_EQ(prefixes(text, doc_re), prefixes(code, code_re)) << "in " << dir.path().filename();
  }
}

TEST(Docs, NoFeatureReadmeSaysItIsInProgress) {
  for (const auto& dir : fs::directory_iterator(kRoot / "actors")) {
    if (!dir.is_directory()) continue;
    const auto readme = dir.path() / "README.md";
    ASSERT_TRUE(fs::exists(readme)) << dir.path().filename() << " has no README.md";
    const auto text = read(readme);
    EXPECT_EQ(text.find("in progress"), std::string::npos) << readme;
    EXPECT_NE(text.find("## Public headers"), std::string::npos) << readme << " must say which headers other features may use";
  }
}

}  // namespace
