// `nexus-forge projections` and `rebuild` on a real data dir: offline after a server stopped
// (every read model listed with its digest; a rebuild reports generations and an unchanged
// digest; an unknown name exits 1 naming the projections there are; a running server's store is
// refused offline with the way out), and through --server while it runs.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

namespace t = nf::test;
using nlohmann::json;

TEST(ProjectionsCli, ListsAndRebuildsOfflineAndThroughTheServer) {
  t::temp_dir dir;
  const auto config = (dir.path() / "nf.json").string();
  std::ofstream(config) << json{{"data_dir", (dir.path() / "data").string()}}.dump();
  const std::vector<std::string> env{std::string("NF_API_KEY=") + t::kAdminKey, "NF_STATE_DIR=" + (dir.path() / "state").string()};
  {
    t::server srv(config);
    const std::string url = "http://127.0.0.1:" + std::to_string(srv.port());
    for (int i = 0; i < 3; ++i) {
      auto m = t::run({t::nexus_forge_binary(), "mission", "create", "--server", url, "--objective", "o" + std::to_string(i), "--priority", "P1",
                       "--spec", "https://spec/x"},
                      env);
      ASSERT_EQ(m.exit_code, 0) << m.err;
    }
    // A running server's read models: offline is refused with the way out; --server works.
    auto offline = t::run({t::nexus_forge_binary(), "projections", "--config", config});
    EXPECT_NE(offline.exit_code, 0);
    EXPECT_NE(offline.err.find("--server"), std::string::npos) << offline.err;
    auto online = t::run({t::nexus_forge_binary(), "rebuild", "missions", "--server", url, "--json"}, env);
    ASSERT_EQ(online.exit_code, 0) << online.err;
    const auto r = json::parse(online.out);
    EXPECT_EQ(r["toGeneration"], 1);
    EXPECT_EQ(r["oldDigest"], r["newDigest"]);
    EXPECT_NE(online.err.find("rebuilding missions"), std::string::npos) << online.err;
  }
  auto listed = t::run({t::nexus_forge_binary(), "projections", "--config", config, "--digest", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::string digest;
  for (const auto& p : json::parse(listed.out))
    if (p["name"] == "missions") {
      EXPECT_EQ(p["generation"], 1);
      digest = p["digest"];
    }
  ASSERT_EQ(digest.size(), 64u) << listed.out;
  auto rebuilt = t::run({t::nexus_forge_binary(), "rebuild", "--all", "--config", config, "--json"});
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  const auto all = json::parse(rebuilt.out);
  ASSERT_EQ(all.size(), 10u);
  for (const auto& r : all) {
    EXPECT_EQ(r["oldDigest"], r["newDigest"]) << r.dump();
    if (r["name"] == "missions") {
      EXPECT_EQ(r["newDigest"], digest);
      EXPECT_EQ(r["toGeneration"], 2);
      EXPECT_GE(r["events"].get<int>(), 3);
    }
  }
  auto unknown = t::run({t::nexus_forge_binary(), "rebuild", "nope", "--config", config});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no projection 'nope' (there are: tenants, usage, audit, missions"), std::string::npos) << unknown.err;
}

}  // namespace
