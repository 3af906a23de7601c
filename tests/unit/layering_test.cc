// The layering of the source tree, checked on every #include (docs/architecture.md):
//   events <- core <- projections <- actors/<feature> <- apps
// core knows no feature (not even a feature's .proto); projections store facts and know no
// feature; a feature uses another only through a header that feature's README lists under
// "## Public headers". A back edge fails naming the file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#ifndef NF_SOURCE_DIR
#error "NF_SOURCE_DIR must name the repository root"
#endif

namespace {

namespace fs = std::filesystem;

// The protos of the core machinery; every other .proto belongs to a feature.
const std::set<std::string> kCoreProtos = {"envelope.pb.h", "deadletter.pb.h"};

using public_headers = std::map<std::string, std::set<std::string>>;  // feature -> headers others may include

std::string top(const std::string& path) { return path.substr(0, path.find('/')); }
std::string second(const std::string& path) {
  const auto a = path.find('/');
  if (a == std::string::npos) return {};
  const auto b = path.find('/', a + 1);
  return path.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
}

// Why `file` may not include `inc` (a quoted include), or nullopt when it may.
std::optional<std::string> back_edge(const std::string& file, const std::string& inc, const public_headers& pub) {
  const std::string layer = top(file);
  const bool proto = inc.size() > 5 && inc.ends_with(".pb.h") && inc.find('/') == std::string::npos;
  const std::string target = top(inc);
  if (layer == "core") {
    if (proto && !kCoreProtos.count(inc)) return "core includes a feature's event message " + inc;
    if (target == "projections" || target == "actors" || target == "apps") return "core includes " + target + "/";
  }
  if (layer == "projections" && (target == "actors" || target == "apps")) return "a projection includes " + target + "/";
  if (layer == "actors") {
    if (target == "apps") return "a feature includes apps/";
    if (target == "actors" && second(inc) != second(file)) {
      auto it = pub.find(second(inc));
      if (it == pub.end() || !it->second.count(inc))
        return "feature '" + second(file) + "' includes " + inc + ", which feature '" + second(inc) + "' does not list as public";
    }
  }
  return std::nullopt;
}

// "## Public headers" in actors/<feature>/README.md: the `actors/...` paths listed under it.
public_headers read_public_headers(const fs::path& root) {
  public_headers out;
  for (const auto& dir : fs::directory_iterator(root / "actors")) {
    if (!dir.is_directory()) continue;
    std::ifstream in(dir.path() / "README.md");
    std::string line;
    bool in_section = false;
    static const std::regex path_re("`(actors/[^`]+\\.h)`");
    auto& set = out[dir.path().filename().string()];
    while (std::getline(in, line)) {
      if (line.rfind("## ", 0) == 0) in_section = line == "## Public headers";
      if (!in_section) continue;
      for (std::sregex_iterator it(line.begin(), line.end(), path_re), end; it != end; ++it) set.insert((*it)[1].str());
    }
  }
  return out;
}

struct violation {
  std::string where, why;
};

std::vector<violation> scan(const fs::path& root, std::size_t& files) {
  const auto pub = read_public_headers(root);
  static const std::regex include_re(R"(^\s*#\s*include\s*"([^"]+)\")");
  std::vector<violation> out;
  for (const char* layer : {"core", "projections", "actors", "apps"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / layer)) {
      const auto ext = e.path().extension();
      if (!e.is_regular_file() || (ext != ".h" && ext != ".cc")) continue;
      ++files;
      const std::string rel = fs::relative(e.path(), root).generic_string();
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        if (auto why = back_edge(rel, m[1].str(), pub)) out.push_back({rel + ":" + std::to_string(n), *why});
      }
    }
  }
  return out;
}

TEST(Layering, NoIncludePointsBackwardsAcrossLayersOrFeatures) {
  std::size_t files = 0;
  const auto found = scan(NF_SOURCE_DIR, files);
  EXPECT_GT(files, 50u) << "the scan saw too few files; is NF_SOURCE_DIR right?";
  for (const auto& v : found) ADD_FAILURE() << v.where << ": " << v.why;
}

TEST(Layering, TheCheckFlagsEveryKindOfBackEdge) {
  const public_headers pub = {{"tenancy", {"actors/tenancy/api.h"}}, {"missions", {}}};
  EXPECT_TRUE(back_edge("core/http/server.cc", "actors/tenancy/admission.h", pub));
  EXPECT_TRUE(back_edge("core/event/codec.cc", "projections/missions/missions.h", pub));
  EXPECT_TRUE(back_edge("core/event/codec.cc", "apps/nexus-forge/client_commands.h", pub));
  EXPECT_TRUE(back_edge("core/event/codec.cc", "missions.pb.h", pub));
  EXPECT_TRUE(back_edge("projections/tenants/tenants.h", "actors/tenancy/directory.h", pub));
  EXPECT_TRUE(back_edge("projections/tenants/tenants.h", "apps/nexus-forge/main.h", pub));
  EXPECT_TRUE(back_edge("actors/missions/routes.cc", "actors/tenancy/admission.h", pub));
  EXPECT_TRUE(back_edge("actors/missions/routes.cc", "apps/nexus-forge/ledger_commands.h", pub));
  // What the layering allows.
  EXPECT_FALSE(back_edge("core/event/codec.cc", "envelope.pb.h", pub));
  EXPECT_FALSE(back_edge("core/http/server.cc", "core/log/log.h", pub));
  EXPECT_FALSE(back_edge("projections/ledger/ledger.h", "ledger.pb.h", pub));
  EXPECT_FALSE(back_edge("actors/missions/routes.cc", "actors/missions/contracts.h", pub));
  EXPECT_FALSE(back_edge("actors/missions/routes.cc", "actors/tenancy/api.h", pub));
  EXPECT_FALSE(back_edge("actors/missions/routes.cc", "projections/missions/missions.h", pub));
  EXPECT_FALSE(back_edge("apps/nexus-forge/main.cc", "actors/tenancy/feature.h", pub));
}

}  // namespace
