// The real nexus-forge binary: help, version, produce/consume, topics, serve, Kafka mode through
// the mock cluster subcommand, and every bad-input path exits non-zero with a precise message.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = (dir_.path() / "nf.json").string();
    write_config(R"({"data_dir":")" + (dir_.path() / "data").string() +
                 R"(","topics":{"mission.prompts":{"partitions":3},"audit.log":{"partitions":1}}})");
  }
  void write_config(const std::string& text) { std::ofstream(config_) << text; }
  t::run_result nf(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), t::nexus_forge_binary());
    return t::run(args, env);
  }
  t::run_result produce(const std::string& key, const std::string& payload, const std::string& topic = "mission.prompts",
                        const std::string& type = "mission.prompted") {
    return nf({"produce", "--config", config_, "--topic", topic, "--key", key, "--type", type, "--json", payload});
  }
  t::temp_dir dir_;
  std::string config_;
};

const std::string kPrompt = R"({"objective":"write tests","priority":"P1","originatingSpec":"https://spec/1"})";

TEST_F(Cli, EveryCommandHasHelp) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"--help"}, {"serve", "--help"}, {"produce", "--help"},
                                       {"consume", "--help"}, {"topics", "--help"}, {"topics", "list", "--help"},
                                       {"topics", "create", "--help"}, {"version", "--help"}, {"kafka-mock", "--help"}, {"cluster", "status", "--help"},
                                       {"ledger", "--help"}, {"ledger", "verify", "--help"}, {"replay", "--help"}}) {
    auto r = nf(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
}

TEST_F(Cli, VersionPrintsTextAndJson) {
  auto r = nf({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("nexus-forge ", 0), 0u);
  auto j = nf({"version", "--json"});
  EXPECT_TRUE(json::parse(j.out).contains("version"));
}

TEST_F(Cli, ProduceThenConsumeRoundTripsTheEvent) {
  auto p = produce("mission-7", kPrompt);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  auto pj = json::parse(p.out);
  EXPECT_EQ(pj["topic"], "mission.prompts");
  EXPECT_EQ(pj["offset"], 0);
  EXPECT_EQ(pj["id"].get<std::string>().size(), 36u);
  ASSERT_EQ(produce("mission-7", kPrompt).exit_code, 0);
  auto c = nf({"consume", "--config", config_, "--topic", "mission.prompts", "--from", "earliest", "--json"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::istringstream lines(c.out);
  std::string line;
  std::vector<json> events;
  while (std::getline(lines, line)) events.push_back(json::parse(line));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["id"], pj["id"]);
  EXPECT_EQ(events[0]["partition"], pj["partition"]);
  EXPECT_EQ(events[0]["key"], "mission-7");
  EXPECT_EQ(events[0]["type"], "mission.prompted");
  EXPECT_EQ(events[0]["payload"]["originatingSpec"], "https://spec/1");
  EXPECT_EQ(events[1]["offset"], 1);
  auto counted = nf({"consume", "--config", config_, "--topic", "mission.prompts", "--from", "1", "--count", "1"});
  ASSERT_EQ(counted.exit_code, 0) << counted.err;
  EXPECT_EQ(json::parse(counted.out)["offset"], 1);
}

TEST_F(Cli, TopicsCreateAndListShowPartitionsAndEvents) {
  auto c = nf({"topics", "create", "custom.events", "--partitions", "5", "--config", config_});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  ASSERT_EQ(produce("k", R"({"a":1})", "custom.events", "custom.happened").exit_code, 0);
  auto l = nf({"topics", "list", "--config", config_, "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  auto j = json::parse(l.out);
  bool found = false;
  for (const auto& t : j) {
    if (t["name"] != "custom.events") continue;
    found = true;
    EXPECT_EQ(t["partitions"], 5);
    std::int64_t events = 0;
    for (const auto& o : t["offsets"]) events += o["end"].get<std::int64_t>();
    EXPECT_EQ(events, 1);
  }
  EXPECT_TRUE(found) << l.out;
  auto dup = nf({"topics", "create", "custom.events", "--config", config_});
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos);
}

TEST_F(Cli, BadInputFailsWithAPreciseMessageAndKeepsAckedEvents) {
  ASSERT_EQ(produce("k", kPrompt).exit_code, 0);
  auto malformed = produce("k", R"({"objective": )");
  EXPECT_NE(malformed.exit_code, 0);
  EXPECT_NE(malformed.err.find("not valid JSON"), std::string::npos) << malformed.err;
  auto schema = produce("k", R"({"objective":"x","priority":"urgent"})");
  EXPECT_NE(schema.exit_code, 0);
  EXPECT_NE(schema.err.find("priority"), std::string::npos) << schema.err;
  auto unknown = produce("k", R"({"a":1})", "no.such.topic", "x.y");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("unknown topic 'no.such.topic'"), std::string::npos) << unknown.err;
  const auto big_file = (dir_.path() / "big.json").string();
  std::ofstream(big_file) << R"({"objective":")" << std::string(1100 * 1024, 'x') << R"("})";
  auto big = produce("k", "@" + big_file);
  EXPECT_NE(big.exit_code, 0);
  EXPECT_NE(big.err.find("exceeds the maximum"), std::string::npos) << big.err.substr(0, 300);
  auto no_file = produce("k", "@/nonexistent/payload.json");
  EXPECT_NE(no_file.exit_code, 0);
  EXPECT_NE(no_file.err.find("cannot read payload file"), std::string::npos);
  auto bad_from = nf({"consume", "--config", config_, "--topic", "mission.prompts", "--from", "yesterday"});
  EXPECT_NE(bad_from.exit_code, 0);
  EXPECT_NE(bad_from.err.find("--from"), std::string::npos);
  // The one acked event is still there.
  auto c = nf({"consume", "--config", config_, "--topic", "mission.prompts"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 1);
}

// Numbers on the command line are parsed whole: "5x" is not 5, and an offset beyond int64 is
// refused with a message, not an exception text.
TEST_F(Cli, NumbersAreParsedWholeOrRefusedWithTheirName) {
  ASSERT_EQ(produce("k", kPrompt).exit_code, 0);
  auto quota = nf({"tenant", "create", "--server", "http://127.0.0.1:1", "--key", "nfk_x", "--name", "Acme", "--quota", "eventsPerDay=5x"});
  EXPECT_NE(quota.exit_code, 0);
  EXPECT_NE(quota.err.find("--quota eventsPerDay=5x"), std::string::npos) << quota.err;
  auto huge = nf({"replay", "--config", config_, "--topic", "mission.prompts", "--from", "99999999999999999999"});
  EXPECT_NE(huge.exit_code, 0);
  EXPECT_NE(huge.err.find("the offset must be from 0 to"), std::string::npos) << huge.err;
  auto partitions = nf({"kafka-mock", "--topic", "t:3abc"});
  EXPECT_NE(partitions.exit_code, 0);
  EXPECT_NE(partitions.err.find("NAME[:PARTITIONS]"), std::string::npos) << partitions.err;
}

TEST_F(Cli, InvalidConfigNamesTheKey) {
  write_config(R"({"bus":{"kind":"carrier-pigeon"}})");
  auto r = nf({"topics", "list", "--config", config_});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("bus.kind"), std::string::npos) << r.err;
  auto missing = nf({"serve", "--config", (dir_.path() / "nope.json").string()});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope.json"), std::string::npos);
}

// The features' own sections (ledger, auth) are checked as strictly as the core ones, at start.
TEST_F(Cli, FeatureConfigSectionsNameTheBadKey) {
  write_config(R"({"ledger":{"head_every_ms":0}})");
  auto zero = nf({"topics", "list", "--config", config_});
  EXPECT_NE(zero.exit_code, 0);
  EXPECT_NE(zero.err.find("ledger.head_every_ms"), std::string::npos) << zero.err;
  write_config(R"({"auth":{"jwt_leeway_s":"soon"}})");
  auto type = nf({"serve", "--config", config_});
  EXPECT_NE(type.exit_code, 0);
  EXPECT_NE(type.err.find("auth.jwt_leeway_s"), std::string::npos) << type.err;
  write_config(R"({"ledger":{"colour":"red"}})");
  auto unknown = nf({"topics", "list", "--config", config_});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.err.find("ledger.colour': unknown key"), std::string::npos) << unknown.err;
}

TEST_F(Cli, ForeignDataDirIsRefused) {
  std::filesystem::create_directories(dir_.path() / "data" / "bus");
  std::ofstream(dir_.path() / "data" / "bus" / "important.doc") << "not ours";
  auto r = produce("k", kPrompt);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not a nexus-forge bus directory"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "data" / "bus" / "important.doc"));
}

// One server with no other region configured: the regions read model is still there (empty), so
// GET /regions and GET /projections answer; the console is served at /; dashboard finds it.
TEST_F(Cli, ALoneRegionAnswersRegionsAndProjectionsAndDashboardFindsTheConsole) {
  t::server srv(config_);
  t::http_client http("127.0.0.1", srv.port(), t::admin_headers());
  ASSERT_EQ(http.post("/missions", kPrompt).status, 202);
  auto regions = http.get("/regions");
  EXPECT_EQ(regions.status, 200) << regions.body;
  auto projections = http.get("/projections");
  ASSERT_EQ(projections.status, 200) << projections.body;
  bool listed = false;
  const auto models = json::parse(projections.body);
  for (const auto& p : models["projections"])
    if (p.value("name", "") == "regions") {
      listed = true;
      EXPECT_EQ(p.value("lagEvents", -1), 0) << "a lone region's read model reads no topic it is behind on: " << p.dump();
    }
  EXPECT_TRUE(listed) << projections.body;
  auto page = http.get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<div id=\"root\">"), std::string::npos);

  const std::string url = "http://127.0.0.1:" + std::to_string(srv.port());
  auto d = nf({"dashboard", "--server", url, "--no-open", "--json"});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  const auto j = json::parse(d.out);
  EXPECT_EQ(j["url"], url + "/");
  EXPECT_EQ(j["serverAnswers"], true);
  EXPECT_EQ(j["opened"], false);
  srv.stop();
  auto down = nf({"dashboard", "--server", url, "--no-open"});
  EXPECT_EQ(down.exit_code, 3);
  EXPECT_EQ(down.out, url + "/\n");
  EXPECT_NE(down.err.find("no server answers"), std::string::npos) << down.err;
  EXPECT_EQ(nf({"dashboard", "--server", "ftp://x", "--no-open"}).exit_code, 1);
}

// The routes the console added, attacked: traversal and oversized names, hostile conditional and
// encoding headers, no or forged credentials, and out-of-range or malformed parameters. Each gets
// its precise 4xx, never a 500, and the server keeps answering.
TEST_F(Cli, TheConsolesRoutesRefuseHostileInputPrecisely) {
  t::server srv(config_);
  t::http_client admin("127.0.0.1", srv.port(), t::admin_headers());
  t::http_client anonymous("127.0.0.1", srv.port());
  for (const std::string& target : std::vector<std::string>{"/assets/..%2f..%2fetc%2fpasswd", "/assets/%2e%2e", "/assets/" + std::string(5000, 'a') + ".js",
                                                           "/assets/main.js%00.css", "/assets/index.html"}) {
    auto r = anonymous.get(target);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << target << ": " << r.status << " " << r.body.substr(0, 200);
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
  }
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"If-None-Match", std::string(8000, '"')}, {"If-None-Match", "W/, , ,*x"}, {"Accept-Encoding", "gzip;q=" + std::string(4000, '9')},
           {"Accept-Encoding", std::string(2000, ',')}, {"Accept-Encoding", "gzip;q=0.5;q=0;;;=;"}}) {
    auto r = anonymous.request("GET", "/", "", "", true, {{name, value}});
    EXPECT_EQ(r.status, 200) << name << ": " << value.substr(0, 40);
  }
  EXPECT_EQ(anonymous.get("/session").status, 401);
  EXPECT_EQ(anonymous.request("GET", "/session", "", "", true, {{"Authorization", "Bearer nfk_forged"}}).status, 401);
  EXPECT_EQ(anonymous.request("GET", "/session", "", "", true, {{"Authorization", "Bearer eyJhbGciOiJub25lIn0.e30."}}).status, 401);
  auto me = admin.get("/session");
  ASSERT_EQ(me.status, 200) << me.body;
  const auto who = json::parse(me.body);
  EXPECT_TRUE(who["platformAdmin"].get<bool>());
  EXPECT_NE(std::find(who["permissions"].begin(), who["permissions"].end(), "tenants:create"), who["permissions"].end());

  for (const char* limit : {"0", "501", "abc", "-1", "99999999999999999999", "", "1e2"}) {
    auto r = admin.get(std::string("/marketplace/reviews?limit=") + limit);
    if (std::string(limit).empty()) {
      EXPECT_EQ(r.status, 200) << "an empty parameter is no parameter";
      continue;
    }
    EXPECT_EQ(r.status, 400) << limit << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"].value("field", ""), "limit") << r.body;
  }
  EXPECT_EQ(admin.get("/marketplace/reviews?limit=5").status, 200);
  auto facets = admin.get("/marketplace/agents?facets=yes");
  EXPECT_EQ(facets.status, 400);
  EXPECT_EQ(json::parse(facets.body)["error"].value("field", ""), "facets");

  ASSERT_TRUE(admin.post("/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})").status / 100 == 2);
  auto key = admin.post("/tenants/acme/keys", R"({"role":"viewer"})");
  ASSERT_TRUE(key.status / 100 == 2) << key.body;
  t::http_client viewer("127.0.0.1", srv.port(), t::key_headers(json::parse(key.body)["key"].get<std::string>()));
  ASSERT_TRUE(t::wait_until([&] { return viewer.get("/session").status == 200; }, 10s));
  EXPECT_EQ(json::parse(viewer.get("/session").body)["tenant"], "acme");
  EXPECT_EQ(viewer.get("/marketplace/reviews").status, 403) << "the review queue is the reviewers'";
  EXPECT_EQ(admin.get("/healthz").status, 200);
}

TEST_F(Cli, ServeOwnsTheStoreReadersWorkBesideItAndSigtermExitsCleanly) {
  ASSERT_EQ(produce("k", kPrompt).exit_code, 0);
  t::child server({t::nexus_forge_binary(), "serve", "--config", config_, "--listen", "127.0.0.1:0"});
  std::string line;
  ASSERT_TRUE(server.read_line(line, 30s)) << server.stderr_text();
  EXPECT_EQ(line.rfind("listening on http://127.0.0.1:", 0), 0u) << line;
  ASSERT_TRUE(server.read_line(line, 30s));
  EXPECT_NE(line.find("serving"), std::string::npos) << line;
  auto second = produce("k", kPrompt);
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.err.find("owned by another process (pid " + std::to_string(server.pid())), std::string::npos) << second.err;
  auto c = nf({"consume", "--config", config_, "--topic", "mission.prompts"});
  EXPECT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 1);
  auto l = nf({"topics", "list", "--config", config_});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  EXPECT_NE(l.out.find("platform.deadletter"), std::string::npos) << l.out;
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(30s), 0) << server.stderr_text();
  EXPECT_NE(server.stderr_text().find("stopped cleanly"), std::string::npos);
  EXPECT_EQ(produce("k", kPrompt).exit_code, 0) << "the store is free again after shutdown";
}

TEST_F(Cli, KafkaModeThroughTheMockClusterCommand) {
  t::child mock({t::nexus_forge_binary(), "kafka-mock", "--config", config_, "--topic", "extra.topic:2"});
  std::string bootstrap;
  ASSERT_TRUE(mock.read_line(bootstrap, 30s)) << mock.stderr_text();
  ASSERT_NE(bootstrap.find("127.0.0.1:"), std::string::npos) << bootstrap;
  const std::vector<std::string> env{"NF_BUS_KIND=kafka", "NF_KAFKA_BOOTSTRAP=" + bootstrap};
  for (int i = 0; i < 3; ++i) {
    auto p = nf({"produce", "--config", config_, "--topic", "mission.prompts", "--key", "m-" + std::to_string(i), "--type",
                 "mission.prompted", "--json", kPrompt},
                env);
    ASSERT_EQ(p.exit_code, 0) << p.err;
  }
  auto c = nf({"consume", "--config", config_, "--topic", "mission.prompts", "--from", "earliest"}, env);
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(std::count(c.out.begin(), c.out.end(), '\n'), 3) << c.out;
  EXPECT_NE(c.out.find("\"originatingSpec\":\"https://spec/1\""), std::string::npos);
  // serve runs its actors on Kafka and stops cleanly.
  t::child server({t::nexus_forge_binary(), "serve", "--config", config_, "--listen", "127.0.0.1:0"}, env);
  std::string line;
  ASSERT_TRUE(server.read_line(line, 30s)) << server.stderr_text();
  const int port = std::stoi(line.substr(line.rfind(':') + 1));
  ASSERT_TRUE(server.read_line(line, 30s));
  EXPECT_NE(line.find("serving on the kafka bus at " + bootstrap), std::string::npos) << line;
  // The first start prints the platform admin key.
  ASSERT_TRUE(server.read_line(line, 30s));
  const std::string marker = "platform admin key (shown once; only its SHA-256 is kept): ";
  ASSERT_EQ(line.rfind(marker, 0), 0u) << line;
  // The gateway works on Kafka too: a mission goes in, mission_control accepts it, the read model shows it.
  t::http_client http("127.0.0.1", port, t::key_headers(line.substr(marker.size())));
  auto posted = http.post("/missions", R"({"id":"01900000-0000-7000-8000-0000000000aa","objective":"on kafka","priority":"P0","originatingSpec":"https://s"})");
  ASSERT_EQ(posted.status, 202) << posted.body;
  EXPECT_TRUE(t::wait_until([&] {
    auto doc = json::parse(http.get("/missions/01900000-0000-7000-8000-0000000000aa").body, nullptr, false);
    return doc.is_object() && doc.value("status", "") == "accepted";
  }, 30s));
  // The evidence ledger on Kafka: a vault record becomes leaf 0 under a signed head.
  auto rec = http.post("/ledger/record", R"({"json":{"on":"kafka"},"kind":"test"})");
  ASSERT_EQ(rec.status, 201) << rec.body;
  EXPECT_EQ(json::parse(rec.body)["leaf_index"], 0);
  EXPECT_TRUE(t::wait_until([&] {
    auto head = json::parse(http.get("/ledger/tree-head").body, nullptr, false);
    return head.is_object() && head.value("tree_size", 0) == 1;
  }, 30s));
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait(30s), 0) << server.stderr_text();
  auto l = nf({"topics", "list", "--config", config_, "--json"}, env);
  ASSERT_EQ(l.exit_code, 0) << l.err;
  std::map<std::string, int> parts;
  for (const auto& t : json::parse(l.out)) parts[t["name"]] = t["partitions"];
  EXPECT_EQ(parts["mission.prompts"], 3);
  EXPECT_EQ(parts["extra.topic"], 2);
  EXPECT_EQ(parts["platform.deadletter"], 1);
  EXPECT_EQ(parts["evidence.ledger"], 1);
  mock.signal(SIGTERM);
  EXPECT_EQ(mock.wait(30s), 0);
}

}  // namespace
