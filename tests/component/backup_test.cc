// Backups at the component level: the manifest parser refuses what a tampered backup could hold
// (paths leaving the data dir, hashes that are not hashes, setuid modes, other formats), and a
// node backs itself up through POST /backups while it serves, reported by GET /backups/current.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/feature/backup.h"
#include "tests/support/node.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;
using namespace std::chrono_literals;

json manifest() {
  return json{{"id", 1},
              {"format", "nexus-forge-backup/1"},
              {"bus", {{"backupId", 1}, {"bytes", 10}, {"files", 2}}},
              {"projections", {{"backupId", 1}, {"bytes", 10}, {"files", 2}}},
              {"files", {{{"path", "ledger/tree-head.key"}, {"sha256", std::string(64, 'a')}, {"bytes", 32}, {"mode", 0600}}}}};
}

TEST(BackupManifest, WhatATamperedBackupCouldHoldIsRefusedNamingTheField) {
  ASSERT_TRUE(feature::parse_manifest(manifest().dump()));
  auto with = [](const std::function<void(json&)>& change) {
    auto m = manifest();
    change(m);
    return feature::parse_manifest(m.dump());
  };
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases{
      {[](json& m) { m["files"][0]["path"] = "../../etc/passwd"; }, "files[0].path"},
      {[](json& m) { m["files"][0]["path"] = "/etc/passwd"; }, "files[0].path"},
      {[](json& m) { m["files"][0]["path"] = "ledger/../../x"; }, "files[0].path"},
      {[](json& m) { m["files"][0]["sha256"] = "../bus/CURRENT"; }, "files[0].sha256"},
      {[](json& m) { m["files"][0]["sha256"] = std::string(64, 'A'); }, "files[0].sha256"},
      {[](json& m) { m["files"][0]["mode"] = 04755; }, "files[0].mode"},
      {[](json& m) { m["format"] = "nexus-forge-backup/9"; }, "format"},
      {[](json& m) { m["format"] = nullptr; }, "format"},  // found by the fuzzer: threw instead of refusing
      {[](json& m) { m["busKind"] = 5; }, "busKind"},
      {[](json& m) { m["projections"]["files"] = "many"; }, "projections"},
      {[](json& m) { m["id"] = -1; }, "id"},
      {[](json& m) { m["bus"] = "yes"; }, "bus"},
      {[](json& m) { m.erase("projections"); }, "projections"},
  };
  for (const auto& [change, field] : cases) {
    auto r = with(change);
    ASSERT_FALSE(r) << field;
    EXPECT_EQ(r.error().code, errc::corruption);
    EXPECT_NE(r.error().message.find("'" + field + "'"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(feature::parse_manifest("not json"));
  EXPECT_FALSE(feature::parse_manifest("[]"));
}

TEST(BackupRoutes, ANodeBacksItselfUpWhileServingAndReportsTheManifest) {
  test::in_process_node n("backup-routes");
  test::temp_dir dir;
  ASSERT_EQ(test::ask(n, "POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})").status, 201);
  auto relative = test::ask(n, "POST", "/backups", R"({"dir":"backups"})");
  EXPECT_EQ(relative.status, 400) << relative.raw;
  EXPECT_EQ(relative.body["error"]["field"], "dir");
  auto inside = test::ask(n, "POST", "/backups", json{{"dir", (n.dir() / "backups").string()}}.dump());
  EXPECT_EQ(inside.status, 400) << inside.raw;
  EXPECT_NE(inside.body["error"]["message"].get<std::string>().find("inside the data directory"), std::string::npos) << inside.raw;
  std::filesystem::create_directories(dir.path() / "plain");
  std::ofstream(dir.path() / "plain" / "x") << "x";
  auto plain = test::ask(n, "POST", "/backups", json{{"dir", (dir.path() / "plain").string()}}.dump());
  EXPECT_EQ(plain.status, 400) << plain.raw;
  const auto target = (dir.path() / "backups").string();
  auto started = test::ask(n, "POST", "/backups", json{{"dir", target}}.dump());
  ASSERT_EQ(started.status, 202) << started.raw;
  json current;
  ASSERT_TRUE(test::wait_until([&] {
    current = test::ask(n, "GET", "/backups/current").body;
    return current.value("state", "") == "done" || current.value("state", "") == "failed";
  }, 30s));
  ASSERT_EQ(current["state"], "done") << current.dump();
  EXPECT_EQ(current["manifest"]["id"], 1);
  EXPECT_FALSE(current["manifest"]["bus"].is_null());
  auto listed = feature::list_backups(target);
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  auto verified = feature::verify_backup(target, std::nullopt);
  ASSERT_TRUE(verified);
  EXPECT_EQ((*verified)["ok"], true) << verified->dump();
  // A tenant's key cannot start one: the platform's operation.
  auto key = test::ask(n, "POST", "/tenants/acme/keys", R"({"role":"admin"})");
  ASSERT_EQ(key.status, 201) << key.raw;
  auto tenant = test::ask(n, "POST", "/backups", json{{"dir", target}}.dump(), key.body["key"].get<std::string>());
  EXPECT_EQ(tenant.status, 403) << tenant.raw;
}

}  // namespace
