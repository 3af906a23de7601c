// Read models as a first-class object on a real node (embedded bus and RocksDB in a temp dir, the
// real routes behind the server's raw-request path): every feature's projections are listed with
// generation, positions and lag; an online rebuild under concurrent writes swaps in a new
// generation whose state equals a second rebuild from the log (nothing lost or applied twice
// around the swap) while queries keep answering; unknown names and tenant callers are refused.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/node.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;
using namespace std::chrono_literals;

using test::answer;
using test::ask;

std::string mission(int i) {
  char id[40];
  std::snprintf(id, sizeof id, "01900000-0000-7000-8000-%012x", i);
  return json{{"id", id}, {"objective", "o" + std::to_string(i)}, {"priority", "P1"}, {"originatingSpec", "https://spec/p"}}.dump();
}

// Starts a rebuild of `name` and waits for it to end; the final rebuild state.
json rebuild(test::in_process_node& n, const std::string& name) {
  auto started = ask(n, "POST", "/projections/" + name + "/rebuild");
  EXPECT_EQ(started.status, 202) << started.raw;
  json rb;
  EXPECT_TRUE(test::wait_until([&]() -> bool {
    auto g = ask(n, "GET", "/projections/" + name);
    rb = g.body["rebuild"];
    return rb.value("state", "") == "done" || rb.value("state", "") == "failed";
  }, 30s));
  EXPECT_EQ(rb["state"], "done") << rb.dump();
  return rb;
}

TEST(Projections, EveryFeaturesReadModelIsListedWithItsGenerationPositionsAndLag) {
  test::in_process_node n("projections-list");
  ASSERT_EQ(ask(n, "POST", "/missions", mission(1)).status, 202);
  auto all = ask(n, "GET", "/projections");
  ASSERT_EQ(all.status, 200) << all.raw;
  std::set<std::string> names;
  for (const auto& p : all.body["projections"]) {
    names.insert(p["name"].get<std::string>());
    EXPECT_EQ(p["generation"], 0);
    EXPECT_EQ(p["rebuild"]["state"], "idle");
    EXPECT_FALSE(p.contains("digest"));
  }
  EXPECT_EQ(names, (std::set<std::string>{"tenants", "usage", "audit", "missions", "ledger", "producing", "deadletters"}));
  auto m = ask(n, "GET", "/projections/missions?digest=true");
  ASSERT_EQ(m.status, 200) << m.raw;
  EXPECT_EQ(m.body["digest"].get<std::string>().size(), 64u);
  // The prompt (and its owner's claim) on mission.prompts: applied up to the end, no lag.
  std::int64_t applied = 0, end = 0;
  for (const auto& pos : m.body["positions"])
    if (pos["topic"] == "mission.prompts") {
      applied += pos["applied"].get<std::int64_t>();
      end += pos["end"].get<std::int64_t>();
    }
  EXPECT_GE(applied, 1) << m.raw;
  EXPECT_EQ(applied, end) << m.raw;
}

TEST(Projections, AnOnlineRebuildUnderWritesSwapsInAGenerationEqualToARebuildFromTheLog) {
  test::in_process_node n("projections-rebuild");
  constexpr int kBefore = 200;
  for (int i = 0; i < kBefore; ++i) ASSERT_EQ(ask(n, "POST", "/missions", mission(i)).status, 202);
  // The missions' own flow (the actor's events after each 202) has settled: the digest holds still.
  json before;
  ASSERT_TRUE(test::wait_until([&] {
    if (ask(n, "GET", "/projections/missions").body["lagEvents"] != 0) return false;
    before = ask(n, "GET", "/projections/missions?digest=true").body;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return ask(n, "GET", "/projections/missions?digest=true").body["digest"] == before["digest"];
  }, 30s));
  // Writes start once the rebuild has taken the old generation's digest, and go on through its
  // replay and swap.
  const auto started = ask(n, "POST", "/projections/missions/rebuild");
  ASSERT_EQ(started.status, 202) << started.raw;
  ASSERT_TRUE(test::wait_until([&] { return ask(n, "GET", "/projections/missions").body["rebuild"].contains("oldDigest"); }, 30s));
  std::atomic<bool> writing{true};
  std::atomic<int> written{kBefore}, failed_reads{0};
  std::thread writer([&] {
    for (int i = kBefore; i < kBefore + 400 && writing; ++i) {
      if (ask(n, "POST", "/missions", mission(i)).status == 202) ++written;
      if (ask(n, "GET", "/missions?limit=5").status != 200) ++failed_reads;
    }
  });
  json first;
  EXPECT_TRUE(test::wait_until([&]() -> bool {
    first = ask(n, "GET", "/projections/missions").body["rebuild"];
    return first.value("state", "") == "done" || first.value("state", "") == "failed";
  }, 30s));
  EXPECT_EQ(first["state"], "done") << first.dump();
  writing = false;
  writer.join();
  EXPECT_EQ(first["fromGeneration"], 0);
  EXPECT_EQ(first["toGeneration"], 1);
  EXPECT_EQ(first["oldDigest"], before["digest"]);
  EXPECT_EQ(failed_reads, 0) << "queries are served from the old generation until the swap";
  // Every mission written before, during and after the swap is there, once.
  for (int i = 0; i < written; ++i) {
    char id[40];
    std::snprintf(id, sizeof id, "01900000-0000-7000-8000-%012x", i);
    EXPECT_EQ(ask(n, "GET", std::string("/missions/") + id).status, 200) << i;
  }
  ASSERT_TRUE(test::wait_until([&] { return ask(n, "GET", "/projections/missions").body["lagEvents"] == 0; }));
  const auto settled = ask(n, "GET", "/projections/missions?digest=true").body;
  const auto second = rebuild(n, "missions");
  EXPECT_EQ(second["toGeneration"], 2);
  EXPECT_EQ(second["oldDigest"], settled["digest"]);
  EXPECT_EQ(second["newDigest"], settled["digest"]) << "the state after the online rebuild is what the log gives";
}

TEST(Projections, UnknownNamesAndTenantCallersAreRefused) {
  test::in_process_node n("projections-refused");
  EXPECT_EQ(ask(n, "GET", "/projections/nope").status, 404);
  auto r = ask(n, "POST", "/projections/nope/rebuild");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.raw.find("no projection 'nope'"), std::string::npos) << r.raw;
  ASSERT_EQ(ask(n, "POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})").status, 201);
  const auto owner = ask(n, "POST", "/tenants/acme/keys", R"({"role":"owner"})").body["key"].get<std::string>();
  EXPECT_EQ(ask(n, "GET", "/projections", "", owner).status, 403);
  EXPECT_EQ(ask(n, "POST", "/projections/missions/rebuild", "", owner).status, 403);
}

}  // namespace
