// Dead letters through a real `nexus-forge serve` and the CLI: a command the owner cannot decide
// (appended while no server ran) is parked after its failures; `deadletter list` shows it,
// `replay` reports that it failed again (exit 1), `discard --reason` records the decision, and
// unknown ids and missing arguments exit 1 naming the problem.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

namespace t = nf::test;
using nlohmann::json;
using namespace std::chrono_literals;

TEST(DeadLetterCli, AParkedCommandIsListedReplayedWithoutSuccessAndDiscarded) {
  t::temp_dir dir;
  const auto config = (dir.path() / "nf.json").string();
  std::ofstream(config) << json{{"data_dir", (dir.path() / "data").string()},
                                {"actors", {{"prompt_owner", {{"max_failures", 2}, {"backoff_initial_ms", 10}, {"backoff_max_ms", 20}}}}}}
                               .dump();
  // Topics made and a command without a mission id appended while no server owns the store.
  {
    t::server first(config);
  }
  auto poison = t::run({t::nexus_forge_binary(), "produce", "--config", config, "--topic", "commands.missions", "--type",
                        "mission.prompt_requested", "--key", "m-1", "--json", "{}"});
  ASSERT_EQ(poison.exit_code, 0) << poison.err;
  t::server srv(config);
  const std::string url = "http://127.0.0.1:" + std::to_string(srv.port());
  const std::vector<std::string> env{std::string("NF_API_KEY=") + t::kAdminKey, "NF_STATE_DIR=" + (dir.path() / "state").string()};
  json parked;
  ASSERT_TRUE(t::wait_until([&] {
    auto l = t::run({t::nexus_forge_binary(), "deadletter", "list", "--server", url, "--actor", "prompt_owner", "--json"}, env);
    if (l.exit_code != 0) return false;
    auto j = json::parse(l.out, nullptr, false);
    if (!j.is_array() || j.empty()) return false;
    parked = j[0];
    return true;
  }, 20s));
  const std::string id = parked["id"];
  EXPECT_EQ(parked["status"], "parked");
  EXPECT_EQ(parked["type"], "mission.prompt_requested");
  EXPECT_NE(parked["error"].get<std::string>().find("does not carry a MissionPrompt with an id"), std::string::npos) << parked.dump();
  auto text = t::run({t::nexus_forge_binary(), "deadletter", "list", "--server", url}, env);
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find(id + "\tparked\tprompt_owner"), std::string::npos) << text.out;

  // Its cause is in the event itself: the replay fails again, and says so.
  auto replay = t::run({t::nexus_forge_binary(), "deadletter", "replay", id, "--server", url}, env);
  EXPECT_EQ(replay.exit_code, 1);
  EXPECT_NE(replay.err.find("failed again"), std::string::npos) << replay.err;
  auto discard = t::run({t::nexus_forge_binary(), "deadletter", "discard", id, "--reason", "no mission id", "--server", url, "--json"}, env);
  ASSERT_EQ(discard.exit_code, 0) << discard.err;
  EXPECT_EQ(json::parse(discard.out)["status"], "discarded");
  auto shown = t::run({t::nexus_forge_binary(), "deadletter", "show", id, "--server", url, "--json"}, env);
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const auto doc = json::parse(shown.out);
  EXPECT_EQ(doc["status"], "discarded");
  EXPECT_EQ(doc["history"].back()["reason"], "no mission id");
  EXPECT_EQ(doc["event"]["type"], "mission.prompt_requested");
  // A discarded one is not replayed by --all; refusals name their cause.
  auto all = t::run({t::nexus_forge_binary(), "deadletter", "replay", "--all", "--server", url}, env);
  EXPECT_EQ(all.exit_code, 0) << all.err;
  EXPECT_NE(all.out.find("0 of 0 dead letters replayed"), std::string::npos) << all.out;
  auto again = t::run({t::nexus_forge_binary(), "deadletter", "replay", id, "--server", url}, env);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("not_parked"), std::string::npos) << again.err;
  auto unknown = t::run({t::nexus_forge_binary(), "deadletter", "show", "01900000-0000-7000-8000-0000000000ff", "--server", url}, env);
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no dead letter"), std::string::npos) << unknown.err;
  auto none = t::run({t::nexus_forge_binary(), "deadletter", "replay", "--server", url}, env);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("give a dead letter id, or --all"), std::string::npos) << none.err;
}

}  // namespace
