// `nexus-forge mirror` as a process: SIGKILLed 20 times at random moments while 100,000 events
// are written to the source region, restarted each time; afterwards the target holds every
// event exactly once, partition by partition in the source's order. Also the command's
// refusals and `mirror translate`.
#include <csignal>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/event/codec.h"
#include "regions.pb.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/http_client.h"
#include "tests/support/server.h"
#include "tests/support/support.h"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace t = nf::test;

const nf::topic_name kTopic{"mission.lifecycle"};

void write_batch(nf::bus::event_bus& b, int from, int n) {
  std::vector<nf::bus::record> recs;
  for (int i = from; i < from + n; ++i) {
    nf::event::new_event ev;
    ev.type = "app.thing";
    ev.key = "k" + std::to_string(i % 97);
    ev.tenant = "acme";
    ev.region = "a";
    ev.payload_json = R"({"i":)" + std::to_string(i) + "}";
    recs.push_back(nf::event::to_record(nf::event::build(ev).value()));
  }
  ASSERT_TRUE(b.append(kTopic, std::span<const nf::bus::record>(recs.data(), recs.size())));
}

std::map<std::int32_t, std::vector<std::string>> ids_by_partition(nf::bus::event_bus& b) {
  std::map<std::int32_t, std::vector<std::string>> out;
  for (const auto& m : t::read_topic(b, kTopic.get())) out[m.partition.get()].push_back(*m.find_header("nf-id"));
  return out;
}

class MirrorCli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = (dir_.path() / "nf.json").string();
    std::ofstream(config_) << json{{"region", "a"},
                                   {"data_dir", (dir_.path() / "a").string()},
                                   {"regions", {{"a", {{"data_dir", (dir_.path() / "a").string()}}}, {"b", {{"data_dir", (dir_.path() / "b").string()}}}}}}
                                  .dump();
  }
  std::vector<std::string> mirror_argv(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{t::nexus_forge_binary(), "mirror", "--config", config_, "--from", "a", "--to", "b", "--topics", "mission.*", "--quiet"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  std::string a_dir() const { return ((dir_.path() / "a") / "bus").string(); }
  std::string b_dir() const { return ((dir_.path() / "b") / "bus").string(); }
  t::temp_dir dir_;
  std::string config_;
};

TEST_F(MirrorCli, TwentySigkillsDuringAHundredThousandEventsLeaveEveryEventOnceInOrder) {
  auto a = t::open_test_bus(a_dir());
  ASSERT_TRUE(a->create_topic(kTopic, {.partitions = 3}));
  write_batch(*a, 0, 1000);
  constexpr int kTotal = 100'000;
  std::atomic<int> written{1000};
  // The source region goes on taking writes while the mirror reads it beside them.
  std::thread writer([&] {
    while (written < kTotal) {
      write_batch(*a, written, 500);
      written += 500;
      std::this_thread::sleep_for(50ms);
    }
  });
  std::mt19937 rng(2026);
  int kills = 0, midway = 0;
  std::int64_t copied_before = 0;
  while (kills < 20) {
    t::child m(mirror_argv());
    // Long enough for a link to start and copy (a sanitized binary starts slowly), short enough
    // to stop it mid-stream.
    std::this_thread::sleep_for(std::chrono::milliseconds(250 + rng() % 1000));
    m.signal(SIGKILL);
    EXPECT_EQ(m.wait(), 128 + SIGKILL) << m.stderr_text();
    ++kills;
    // What the target holds now: never less than before, and the kills land mid-stream.
    auto b = t::open_test_bus(b_dir());
    std::int64_t copied = 0;
    if (b->describe_topic(kTopic))
      for (std::int32_t p = 0; p < 3; ++p) copied += b->end_offset({kTopic, nf::partition_id{p}})->get();
    EXPECT_GE(copied, copied_before);
    if (copied > copied_before && copied < written) ++midway;
    copied_before = copied;
  }
  EXPECT_GE(midway, 5) << "too few kills landed while the mirror was copying";
  writer.join();
  // Once more to the end.
  auto done = t::run(mirror_argv({"--once", "--json"}));
  ASSERT_EQ(done.exit_code, 0) << done.err;
  const auto summary = json::parse(done.out);
  EXPECT_EQ(summary["from"], "a");
  for (const auto& p : summary["partitions"]) EXPECT_EQ(p["lagEvents"], 0) << p.dump();
  auto b = t::open_test_bus(b_dir());
  const auto want = ids_by_partition(*a);
  const auto got = ids_by_partition(*b);
  std::size_t n = 0;
  for (const auto& [p, v] : want) n += v.size();
  EXPECT_EQ(n, static_cast<std::size_t>(kTotal));
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [p, v] : want) {
    ASSERT_EQ(got.at(p).size(), v.size()) << "partition " << p;
    EXPECT_TRUE(got.at(p) == v) << "partition " << p << " differs in order or content";
  }
}

// `region recover` SIGKILLed mid-copy resumes when run again: region b, rebuilt from a, ends up
// holding a's 60,000 events exactly once in a's order, and every read model equals a's.
TEST_F(MirrorCli, ARecoveryKilledMidwayResumesAndEndsWithThePeersLog) {
  {
    // A region that ran: its server made every feature's topics.
    t::server a(config_);
    ASSERT_EQ(a.stop(), 0);
  }
  {
    auto a = t::open_test_bus(a_dir());
    (void)a->create_topic(kTopic, {.partitions = 3});  // made by the server already
    for (int i = 0; i < 60'000; i += 1000) write_batch(*a, i, 1000);
  }
  // a's read models, built offline, to compare digests with.
  auto built = t::run({t::nexus_forge_binary(), "rebuild", "--all", "--config", config_, "--quiet"});
  ASSERT_EQ(built.exit_code, 0) << built.err << built.out;
  const std::vector<std::string> argv{t::nexus_forge_binary(), "region", "recover", "--config", config_, "--from", "a", "--region", "b", "--batch", "200"};
  std::mt19937 rng(7);
  int midway = 0;
  for (int kill = 0; kill < 4; ++kill) {
    t::child r(argv);
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    r.signal(SIGKILL);
    r.wait();
    midway += std::filesystem::exists(dir_.path() / "b" / "recovering.json");
  }
  EXPECT_GE(midway, 1) << "no kill landed during the recovery";
  const bool interrupted = std::filesystem::exists(dir_.path() / "b" / "recovering.json");
  auto last = argv;
  last.push_back("--json");
  auto done = t::run(last);
  ASSERT_EQ(done.exit_code, 0) << done.err << done.out;
  const auto r = json::parse(done.out);
  EXPECT_EQ(r["resumed"].get<bool>(), interrupted);
  EXPECT_TRUE(r["digestsCompared"].get<bool>()) << r.dump();
  EXPECT_TRUE(r["allEqual"].get<bool>()) << r["projections"].dump(1);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "b" / "recovering.json"));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "b" / "recovering"));
  auto a = t::open_test_bus(a_dir());
  auto b = t::open_test_bus(b_dir());
  EXPECT_EQ(ids_by_partition(*b), ids_by_partition(*a));
}

TEST_F(MirrorCli, BadLinksAreRefusedWithTheirReasonAndCopyNothing) {
  {
    auto a = t::open_test_bus(a_dir());
    ASSERT_TRUE(a->create_topic(kTopic, {.partitions = 3}));
    write_batch(*a, 0, 10);
  }
  auto self = t::run({t::nexus_forge_binary(), "mirror", "--config", config_, "--from", "a", "--to", "a", "--once"});
  EXPECT_EQ(self.exit_code, 2);
  EXPECT_NE(self.err.find("to itself"), std::string::npos) << self.err;
  auto unknown = t::run({t::nexus_forge_binary(), "mirror", "--config", config_, "--from", "a", "--to", "mars", "--once"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no region 'mars' in the configuration; known: a (local), b"), std::string::npos) << unknown.err;
  auto nothing = t::run({t::nexus_forge_binary(), "mirror", "--config", config_, "--from", "a", "--to", "b", "--topics", "orders.*", "--once"});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("'orders.*' matches no topic of region a"), std::string::npos) << nothing.err;
  auto help = t::run({t::nexus_forge_binary(), "mirror", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("translate"), std::string::npos);

  // Translation of a group that read half of each partition.
  ASSERT_EQ(t::run(mirror_argv({"--once"})).exit_code, 0);
  {
    auto a = t::open_test_bus(a_dir());
    auto c = a->make_consumer({.group = "billing", .subscriptions = {}});
    ASSERT_TRUE(c);
    std::vector<std::pair<nf::topic_partition, nf::offset>> at;
    for (std::int32_t p = 0; p < 3; ++p) at.emplace_back(nf::topic_partition{kTopic, nf::partition_id{p}}, nf::offset{1});
    ASSERT_TRUE((*c)->commit(at));
  }
  auto tr = t::run({t::nexus_forge_binary(), "mirror", "translate", "--config", config_, "--from", "a", "--to", "b", "--topics", "mission.*", "--group",
                    "billing", "--apply", "--json"});
  ASSERT_EQ(tr.exit_code, 0) << tr.err;
  const auto j = json::parse(tr.out);
  ASSERT_EQ(j["partitions"].size(), 3u) << tr.out;
  for (const auto& p : j["partitions"]) {
    EXPECT_EQ(p["source"], 1);
    EXPECT_EQ(p["target"], 1);  // b holds only a's events: the same offsets
  }
  auto b = t::open_test_bus(b_dir());
  for (std::int32_t p = 0; p < 3; ++p) {
    auto committed = b->committed("billing", nf::topic_partition{kTopic, nf::partition_id{p}});
    ASSERT_TRUE(committed && *committed);
    EXPECT_EQ((*committed)->get(), 1);
  }
}

// Events of one topic read through a server's topic browser, partition by partition: id and type.
std::map<int, std::vector<std::pair<std::string, std::string>>> browse(t::http_client& c, const std::string& topic) {
  std::map<int, std::vector<std::pair<std::string, std::string>>> out;
  for (int p = 0; p < 3; ++p) {
    auto r = c.get("/topics/" + topic + "/events?partition=" + std::to_string(p) + "&from=0&limit=1000");
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) continue;
    const auto page = json::parse(r.body);
    for (const auto& e : page["items"])
      if (e.value("type", "") != "platform.owner_claimed") out[p].emplace_back(e.value("id", ""), e.value("type", ""));  // claims are not copied
  }
  return out;
}

TEST(MirrorServe, ALinkInServeCopiesALiveRegionAndTranslatesItsGroups) {
  t::temp_dir dir;
  const auto a_dir = (dir.path() / "a").string(), b_dir = (dir.path() / "b").string();
  const auto a_cfg = (dir.path() / "a.json").string(), b_cfg = (dir.path() / "b.json").string();
  std::ofstream(a_cfg) << json{{"region", "a"}, {"data_dir", a_dir}, {"regions", {{"b", {{"data_dir", b_dir}}}}}}.dump();
  std::ofstream(b_cfg) << json{{"region", "b"},
                               {"data_dir", b_dir},
                               {"regions", {{"a", {{"data_dir", a_dir}}}}},
                               // Both regions run on this machine, whose load average (what a heartbeat
                               // reports) a parallel test run can push past the default overload of 0.85:
                               // routing by load is unit-tested, so here no region counts as overloaded.
                               {"mirror", {{"links", {{{"from", "a"}, {"topics", {"mission.*", "tenancy.*", "region.*"}}}}},
                                           {"lag_refresh_ms", 100}, {"heartbeat_ms", 100}, {"down_after_ms", 1500},
                                           {"routing", {{"overload", 2}}}}}}
                              .dump();
  // b starts first: its link cannot open a's data directory yet, says so, and tries again.
  t::server b(b_cfg);
  t::http_client cb("127.0.0.1", b.port(), t::admin_headers());
  ASSERT_TRUE(t::wait_until([&] { return json::parse(cb.get("/regions").body)["links"][0].value("state", "") == "error"; }, 10s))
      << cb.get("/regions").body;
  EXPECT_NE(json::parse(cb.get("/regions").body)["links"][0].value("error", "").find("region a"), std::string::npos) << cb.get("/regions").body;
  EXPECT_EQ(cb.get("/healthz").status, 200);
  t::server a(a_cfg);
  t::http_client ca("127.0.0.1", a.port(), t::admin_headers());
  ASSERT_EQ(ca.post("/tenants", json{{"id", "acme"}, {"name", "acme"}, {"plan", "enterprise"}}.dump()).status, 201);
  const auto key = json::parse(ca.post("/tenants/acme/keys", json{{"role", "admin"}}.dump()).body)["key"].get<std::string>();
  t::http_client acme("127.0.0.1", a.port(), t::key_headers(key));
  for (int i = 0; i < 30; ++i) {
    auto r = acme.post("/missions", json{{"id", t::uuid(i)}, {"objective", "mirrored"}, {"priority", "P1"}, {"originatingSpec", "https://spec/1"}}.dump());
    ASSERT_EQ(r.status, 202) << r.body;
  }
  // Region a's actors answered each prompt; b gets the prompts and the answers, and its own
  // actors leave the copies alone (nothing of b's own is added).
  ASSERT_TRUE(t::wait_until([&] {
    auto la = browse(ca, "mission.lifecycle"), lb = browse(cb, "mission.lifecycle");
    std::size_t n = 0;
    for (const auto& [p, v] : la) n += v.size();
    return n >= 30 && la == lb;
  }, 30s)) << [&] {
    std::string out;
    for (auto* c : {&ca, &cb})
      for (const auto& [p, v] : browse(*c, "mission.lifecycle")) out += " p" + std::to_string(p) + ":" + std::to_string(v.size());
    return out;
  }();
  // Topics are copied side by side, not one after another: the prompts arrive in their own time.
  EXPECT_TRUE(t::wait_until([&] { return browse(ca, "mission.prompts") == browse(cb, "mission.prompts"); }, 10s));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(browse(ca, "mission.lifecycle"), browse(cb, "mission.lifecycle"));

  auto regions = json::parse(cb.get("/regions").body);
  EXPECT_EQ(regions["region"], "b");
  ASSERT_EQ(regions["links"].size(), 1u) << regions.dump();
  const auto& link = regions["links"][0];
  EXPECT_EQ(link["from"], "a");
  EXPECT_EQ(link["state"], "running") << link.dump();
  EXPECT_TRUE(t::wait_until([&] { return json::parse(cb.get("/regions").body)["links"][0]["lagEvents"] == 0; }, 10s));
  EXPECT_NE(cb.get("/metrics").body.find("nf_region_lag_events{"), std::string::npos);
  // The tenant and its key were copied too: the key works in b, but only the platform admin
  // sees regions.
  t::http_client acme_b("127.0.0.1", b.port(), t::key_headers(key));
  ASSERT_TRUE(t::wait_until([&] { return acme_b.get("/missions/" + t::uuid(0)).status == 200; }, 10s)) << acme_b.get("/missions/" + t::uuid(0)).body;
  EXPECT_EQ(acme_b.get("/regions").status, 403);

  // The missions actor's group in a, as positions in b: b holds a's events but not its owners'
  // claims, so at or before the same offsets, and past the start where a's group had read.
  auto tr = cb.get("/regions/translate?group=actor.mission_control&from=a");
  ASSERT_EQ(tr.status, 200) << tr.body;
  const auto tj = json::parse(tr.body);
  EXPECT_FALSE(tj["partitions"].empty()) << tj.dump();
  for (const auto& p : tj["partitions"]) {
    EXPECT_LE(p["target"].get<std::int64_t>(), p["source"].get<std::int64_t>()) << p.dump();
    if (p["source"].get<std::int64_t>() > 1) {
      EXPECT_GT(p["target"].get<std::int64_t>(), 0) << p.dump();
    }
  }
  EXPECT_EQ(cb.get("/regions/translate?group=g&from=mars").status, 404);
  EXPECT_EQ(cb.get("/regions/translate?group=g&from=b").status, 400);
  EXPECT_EQ(cb.get("/regions/translate?from=a").status, 400);

  // Health from heartbeats: a's are copied to b; both up, and a's clients stay in a.
  ASSERT_TRUE(t::wait_until([&] {
    const auto r = json::parse(cb.get("/regions").body);
    int up = 0;
    for (const auto& x : r["regions"]) up += x.value("up", false);
    return up == 2;
  }, 10s)) << cb.get("/regions").body;
  auto route = json::parse(cb.get("/regions/route?client=a").body);
  EXPECT_EQ(route["region"], "a") << route.dump();
  EXPECT_EQ(cb.get("/regions/route?client=91,0").status, 400);
  EXPECT_EQ(cb.get("/regions/route?client=mars").status, 404);
  // a dies: after down_after_ms of silence b marks it down, and a's clients go to b.
  a.proc().signal(SIGKILL);
  a.proc().wait();
  ASSERT_TRUE(t::wait_until([&] { return json::parse(cb.get("/regions/route?client=a").body)["region"] == "b"; }, 10s))
      << cb.get("/regions/route?client=a").body;
  // Each link's lag is also an event (region.replication_lag), folded into GET /regions.
  const auto rep = json::parse(cb.get("/regions").body)["replication"];
  ASSERT_EQ(rep.size(), 1u) << rep.dump();
  EXPECT_EQ(rep[0]["from"], "a");
  EXPECT_EQ(rep[0]["to"], "b");
  EXPECT_FALSE(rep[0]["partitions"].empty());
  route = json::parse(cb.get("/regions/route?client=a").body);
  EXPECT_EQ(route["ranked"].back()["region"], "a");
  EXPECT_EQ(route["ranked"].back()["why"], "down");
  // The link keeps trying the source (it reads a's data directory), and b keeps serving.
  EXPECT_EQ(cb.get("/healthz").status, 200);
}

TEST(MirrorServe, AFailoverPromotesOnlyARegionWhoseLedgerExtendsTheLastSignedHead) {
  t::temp_dir dir;
  const auto a_dir = (dir.path() / "a").string(), b_dir = (dir.path() / "b").string(), c_dir = (dir.path() / "c").string();
  const auto a_cfg = (dir.path() / "a.json").string(), b_cfg = (dir.path() / "b.json").string(), c_cfg = (dir.path() / "c.json").string();
  // d is configured but never runs: nothing of its ledger can be known.
  const json regions{{"a", {{"data_dir", a_dir}}}, {"b", {{"data_dir", b_dir}}}, {"c", {{"data_dir", c_dir}}},
                     {"d", {{"data_dir", (dir.path() / "d").string()}}}};
  // a hears b's region.* (its heartbeats and promotions) over a link of its own.
  std::ofstream(a_cfg) << json{{"region", "a"}, {"data_dir", a_dir}, {"regions", regions}, {"ledger", {{"head_every_ms", 100}}},
                               {"mirror", {{"heartbeat_ms", 100}, {"links", {{{"from", "b"}, {"topics", {"region.*"}}}}}}}}.dump();
  // b copies everything of a's, the ledger included; c copies all but the ledger.
  std::ofstream(b_cfg) << json{{"region", "b"}, {"data_dir", b_dir}, {"regions", regions},
                               {"mirror", {{"links", {{{"from", "a"}}}}, {"lag_refresh_ms", 100}, {"heartbeat_ms", 100}}}}.dump();
  std::ofstream(c_cfg) << json{{"region", "c"}, {"data_dir", c_dir}, {"regions", regions},
                               {"mirror", {{"links", {{{"from", "a"}, {"topics", {"mission.*", "tenancy.*", "region.*"}}}}}, {"lag_refresh_ms", 100}}}}.dump();
  t::server a(a_cfg), b(b_cfg), c(c_cfg);
  t::http_client ca("127.0.0.1", a.port(), t::admin_headers()), cb("127.0.0.1", b.port(), t::admin_headers()), cc("127.0.0.1", c.port(), t::admin_headers());
  ASSERT_EQ(ca.post("/tenants", json{{"id", "acme"}, {"name", "acme"}, {"plan", "enterprise"}}.dump()).status, 201);
  const auto key = json::parse(ca.post("/tenants/acme/keys", json{{"role", "admin"}}.dump()).body)["key"].get<std::string>();
  t::http_client acme("127.0.0.1", a.port(), t::key_headers(key));
  ASSERT_EQ(acme.post("/missions", json{{"id", t::uuid(1)}, {"objective", "audit"}, {"priority", "P1"}, {"originatingSpec", "spec:1"}}.dump()).status, 202);
  for (int i = 0; i < 3; ++i) {
    auto r = acme.post("/missions/" + t::uuid(1) + "/artifacts", json{{"artifactId", "a" + std::to_string(i)}, {"type", "code"}, {"uri", "s3://e/" + std::to_string(i)},
                                                                        {"checksum", "sha256:" + std::string(64, 'b')}, {"reviewer", "r"}}.dump());
    ASSERT_EQ(r.status, 202) << r.body;
  }
  // a signs a head over the three leaves; b has copied them all.
  auto head_size = [&](t::http_client& via) {
    const auto r = json::parse(via.get("/regions").body);
    for (const auto& x : r["regions"])
      if (x["name"] == "a" && x.contains("heartbeat") && x["heartbeat"].contains("treeHead")) return x["heartbeat"]["treeHead"].value("size", 0);
    return 0;
  };
  ASSERT_TRUE(t::wait_until([&] { return head_size(cb) >= 3 && json::parse(cb.get("/regions").body)["links"][0]["lagEvents"] == 0; }, 20s))
      << cb.get("/regions").body;

  // c lacks the ledger: refused, naming the missing leaves; nothing promoted.
  auto refused = cc.post("/regions/failover", json{{"from", "a"}}.dump());
  EXPECT_EQ(refused.status, 409) << refused.body;
  const auto rj = json::parse(refused.body);
  EXPECT_EQ(rj["error"]["code"], "ledger_behind");
  EXPECT_NE(rj["error"]["message"].get<std::string>().find("region c's ledger holds 0 leaves"), std::string::npos) << refused.body;
  EXPECT_NE(rj["error"]["message"].get<std::string>().find("leaves 0 to"), std::string::npos) << refused.body;
  EXPECT_TRUE(json::parse(cc.get("/regions").body)["primary"].is_null());

  // b's ledger extends a's last head: promoted at epoch 1, with the proof, through the CLI.
  auto cli = t::run({t::nexus_forge_binary(), "region", "failover", "--to", "b", "--from", "a", "--server", "http://127.0.0.1:" + std::to_string(b.port()),
                     "--key", t::kAdminKey, "--json"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err << cli.out;
  const auto promoted = json::parse(cli.out);
  EXPECT_EQ(promoted["region"], "b");
  EXPECT_EQ(promoted["replaced"], "a");
  EXPECT_EQ(promoted["epoch"], 1);
  EXPECT_EQ(promoted["headFrom"], "source log");
  EXPECT_GE(promoted["sourceTreeSize"].get<int>(), 3);
  EXPECT_GE(promoted["treeSize"].get<int>(), promoted["sourceTreeSize"].get<int>());
  EXPECT_EQ(json::parse(cb.get("/regions").body)["primary"]["region"], "b");
  // Epochs only grow.
  auto again = cb.post("/regions/failover", json{{"from", "a"}}.dump());
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(json::parse(again.body)["epoch"], 2);

  // Epoch fencing: a hears of b's promotion and refuses writes from then on, naming b; b takes
  // them (the tenant and its key were copied); reads still work in a.
  ASSERT_TRUE(t::wait_until([&] {
    const auto p = json::parse(ca.get("/regions").body)["primary"];
    return p.is_object() && p["epoch"] == 2;
  }, 10s)) << ca.get("/regions").body;
  auto fenced = acme.post("/missions", json{{"id", t::uuid(2)}, {"objective", "late"}, {"priority", "P1"}, {"originatingSpec", "spec:2"}}.dump());
  EXPECT_EQ(fenced.status, 409) << fenced.body;
  EXPECT_EQ(json::parse(fenced.body)["error"]["code"], "region_demoted");
  EXPECT_NE(fenced.body.find("region b is the primary since epoch 2"), std::string::npos) << fenced.body;
  EXPECT_EQ(acme.get("/missions/" + t::uuid(1)).status, 200);
  t::http_client acme_b("127.0.0.1", b.port(), t::key_headers(key));
  auto accepted = acme_b.post("/missions", json{{"id", t::uuid(3)}, {"objective", "after"}, {"priority", "P1"}, {"originatingSpec", "spec:3"}}.dump());
  EXPECT_EQ(accepted.status, 202) << accepted.body;
  // c, two hops away (b -> a -> c), hears it too.
  EXPECT_TRUE(t::wait_until([&] {
    const auto p = json::parse(cc.get("/regions").body)["primary"];
    return p.is_object() && p["region"] == "b";
  }, 10s)) << cc.get("/regions").body;

  // A region whose log cannot be read and that was never heard from: no proof is possible.
  auto unknown = cb.post("/regions/failover", json{{"from", "d"}}.dump());
  EXPECT_EQ(unknown.status, 409) << unknown.body;
  EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "ledger_unknown");
  EXPECT_EQ(json::parse(cb.get("/regions").body)["primary"]["epoch"], 2);
  EXPECT_EQ(cb.get("/regions/translate?group=g&from=d").status, 503);

  // Bad requests.
  EXPECT_EQ(cb.post("/regions/failover", json{{"from", "b"}}.dump()).status, 400);
  EXPECT_EQ(cb.post("/regions/failover", json{{"from", "mars"}}.dump()).status, 404);
  EXPECT_EQ(cb.post("/regions/failover", json::object().dump()).status, 400);
  EXPECT_EQ(cb.post("/regions/failover", json{{"from", "a"}, {"force", true}}.dump()).status, 400);
  EXPECT_EQ(cb.post("/regions/failover", "{").status, 400);
}


// Every event id of the mission.* topics a log holds, with how many times each is there.
std::map<std::string, int> mission_ids(nf::bus::event_bus& b, bool own_only = false) {
  std::map<std::string, int> out;
  const auto topics = b.list_topics();
  if (!topics) return out;
  for (const auto& t : *topics) {
    if (t.name.get().rfind("mission.", 0) != 0) continue;
    for (const auto& m : t::read_topic(b, t.name.get())) {
      if (own_only && m.find_header("nf-origin")) continue;
      if (m.find_header("nf-claim")) continue;
      if (const auto* id = m.find_header("nf-id")) ++out[*id];
    }
  }
  return out;
}

// Owner claims (platform.owner_claimed) mark a region's own single writers and are not copied.
std::map<std::string, int> browse_ids(t::http_client& c) {
  std::map<std::string, int> out;
  for (const char* topic : {"mission.prompts", "mission.lifecycle"})
    for (const auto& [p, v] : browse(c, topic))
      for (const auto& e : v)
        if (e.second != "platform.owner_claimed") ++out[e.first];
  return out;
}

void post_missions(t::http_client& c, int from, int n) {
  for (int i = from; i < from + n; ++i) {
    auto r = c.post("/missions", json{{"id", t::uuid(i)}, {"objective", "regions"}, {"priority", "P1"}, {"originatingSpec", "spec:" + std::to_string(i)}}.dump());
    ASSERT_EQ(r.status, 202) << r.body;
  }
}

// Prints the servers' logs when a test body throws (a server that stopped answering).
struct dump_on_throw {
  std::vector<t::server*> servers;
  ~dump_on_throw() {
    if (!std::uncaught_exceptions()) return;
    for (auto* s : servers) std::cerr << "server log:\n" << s->proc().stderr_text() << "\n";
  }
};

// Active-active a <-> b; a loses its log; `region recover` rebuilds it from b with every read
// model's digest equal to b's; then both sides write again and every event is in both regions
// exactly once: a's new events are not taken for ones b had (origin offsets shifted above the
// old ones), and the links resume after what the rebuilt log holds.
TEST(RegionRecover, ALostRegionIsRebuiltFromItsPeerWithEqualDigestsAndBothSidesGoOn) {
  t::temp_dir dir;
  const auto a_dir = (dir.path() / "a").string(), b_dir = (dir.path() / "b").string();
  const auto a_cfg = (dir.path() / "a.json").string(), b_cfg = (dir.path() / "b.json").string();
  const json mirror{{"links", {{{"from", "PEER"}}}}, {"lag_refresh_ms", 100}, {"heartbeat_ms", 200}};
  auto cfg_of = [&](const std::string& self, const std::string& peer, const std::string& self_dir, const std::string& peer_dir) {
    auto m = mirror;
    m["links"][0]["from"] = peer;
    return json{{"region", self}, {"data_dir", self_dir}, {"regions", {{peer, {{"data_dir", peer_dir}}}}}, {"mirror", m}}.dump();
  };
  std::ofstream(a_cfg) << cfg_of("a", "b", a_dir, b_dir);
  std::ofstream(b_cfg) << cfg_of("b", "a", b_dir, a_dir);
  std::string key;
  {
    t::server a(a_cfg), b(b_cfg);
    dump_on_throw dump{{&a, &b}};
    t::http_client ca("127.0.0.1", a.port(), t::admin_headers()), cb("127.0.0.1", b.port(), t::admin_headers());
    ASSERT_EQ(ca.post("/tenants", json{{"id", "acme"}, {"name", "acme"}, {"plan", "enterprise"}}.dump()).status, 201);
    key = json::parse(ca.post("/tenants/acme/keys", json{{"role", "admin"}}.dump()).body)["key"].get<std::string>();
    t::http_client acme_a("127.0.0.1", a.port(), t::key_headers(key)), acme_b("127.0.0.1", b.port(), t::key_headers(key));
    ASSERT_TRUE(t::wait_until([&] { return acme_b.get("/missions?limit=1").status == 200; }, 20s)) << acme_b.get("/missions?limit=1").body;
    post_missions(acme_a, 0, 15);
    post_missions(acme_b, 100, 15);
    ASSERT_TRUE(t::wait_until([&] {
      auto ia = browse_ids(ca);
      return ia.size() >= 60 && ia == browse_ids(cb);
    }, 30s)) << [&] {
      std::string out;
      auto ia = browse_ids(ca), ib = browse_ids(cb);
      for (const auto& [id, n] : ia)
        if (ib[id] != n) out += " a:" + id + "x" + std::to_string(n) + "/b:" + std::to_string(ib[id]);
      for (const auto& [id, n] : ib)
        if (!ia.count(id)) out += " b-only:" + id;
      return out;
    }();
    a.proc().signal(SIGKILL);
    a.proc().wait();
  }
  // a's log is lost; its read models are left, stale.
  std::filesystem::remove_all(std::filesystem::path(a_dir) / "bus");
  {
    t::server b(b_cfg);
    dump_on_throw dump{{&b}};
    t::http_client cb("127.0.0.1", b.port(), t::admin_headers());
    const auto before = browse_ids(cb);
    auto rec = t::run({t::nexus_forge_binary(), "region", "recover", "--config", a_cfg, "--from", "b", "--peer-server",
                       "http://127.0.0.1:" + std::to_string(b.port()), "--key", t::kAdminKey, "--json"});
    ASSERT_EQ(rec.exit_code, 0) << rec.err << rec.out;
    const auto r = json::parse(rec.out);
    EXPECT_EQ(r["region"], "a");
    EXPECT_EQ(r["mode"], "recover");
    EXPECT_TRUE(r["digestsCompared"].get<bool>()) << r.dump();
    EXPECT_TRUE(r["allEqual"].get<bool>()) << r["projections"].dump(1);
    EXPECT_GE(r["projections"].size(), 9u);
    EXPECT_GT(r["ownEventsRecovered"].get<int>(), 15) << "a's own events come back from b's copies";
    ASSERT_TRUE(std::filesystem::exists(std::filesystem::path(r["keptAside"].get<std::string>()) / "projections")) << r.dump();
    EXPECT_NE(rec.err.find("events copied"), std::string::npos) << rec.err;
    EXPECT_NE(rec.err.find("rebuilding missions"), std::string::npos) << rec.err;
    // Run again on a recovered region: a fresh copy, the first one kept aside too; still equal.
    auto again = t::run({t::nexus_forge_binary(), "region", "recover", "--config", a_cfg, "--from", "b", "--quiet"});
    EXPECT_EQ(again.exit_code, 0) << again.err << again.out;
    EXPECT_NE(again.out.find("kept in"), std::string::npos) << again.out;
    EXPECT_EQ(browse_ids(cb), before) << "the peer is only read";
  }
  // Both regions again, each writing.
  t::server a(a_cfg), b(b_cfg);
  t::http_client ca("127.0.0.1", a.port(), t::admin_headers()), cb("127.0.0.1", b.port(), t::admin_headers());
  t::http_client acme_a("127.0.0.1", a.port(), t::key_headers(key)), acme_b("127.0.0.1", b.port(), t::key_headers(key));
  dump_on_throw dump{{&a, &b}};
  EXPECT_EQ(acme_a.get("/missions/" + t::uuid(3)).status, 200) << "a's read models answer from the rebuilt log";
  EXPECT_EQ(acme_a.get("/missions/" + t::uuid(103)).status, 200);
  post_missions(acme_a, 200, 5);
  post_missions(acme_b, 300, 5);
  ASSERT_TRUE(t::wait_until([&] {
    auto ia = browse_ids(ca);
    return ia.size() >= 80 && ia == browse_ids(cb);
  }, 30s)) << browse_ids(ca).size() << " " << browse_ids(cb).size();
  std::this_thread::sleep_for(1s);
  const auto ia = browse_ids(ca), ib = browse_ids(cb);
  EXPECT_EQ(ia, ib);
  for (const auto& [id, n] : ia) EXPECT_EQ(n, 1) << id << " is in region a " << n << " times";
  for (const auto& [id, n] : ib) EXPECT_EQ(n, 1) << id << " is in region b " << n << " times";
  EXPECT_EQ(acme_b.get("/missions/" + t::uuid(204)).status, 200) << "a's new events reached b";
  EXPECT_EQ(acme_a.get("/missions/" + t::uuid(304)).status, 200) << "b's new events reached a";
}

TEST(RegionRecover, RefusalsNameTheirReason) {
  t::temp_dir dir;
  const auto a_dir = (dir.path() / "a").string(), b_dir = (dir.path() / "b").string();
  const auto cfg = (dir.path() / "a.json").string();
  std::ofstream(cfg) << json{{"region", "a"}, {"data_dir", a_dir}, {"regions", {{"b", {{"data_dir", b_dir}}}, {"k", {{"bus", {{"kind", "kafka"}, {"kafka", {{"bootstrap_servers", "127.0.0.1:1"}}}}}}}}}}.dump();
  auto self = t::run({t::nexus_forge_binary(), "region", "recover", "--config", cfg, "--from", "a"});
  EXPECT_EQ(self.exit_code, 2);
  EXPECT_NE(self.err.find("cannot be rebuilt from itself"), std::string::npos) << self.err;
  auto unknown = t::run({t::nexus_forge_binary(), "region", "recover", "--config", cfg, "--from", "mars"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("mars"), std::string::npos) << unknown.err;
  auto kafka = t::run({t::nexus_forge_binary(), "region", "recover", "--config", cfg, "--from", "a", "--region", "k"});
  EXPECT_EQ(kafka.exit_code, 2);
  EXPECT_NE(kafka.err.find("Kafka cluster"), std::string::npos) << kafka.err;
  auto nothing = t::run({t::nexus_forge_binary(), "region", "failback", "--config", cfg, "--from", "b"});
  EXPECT_EQ(nothing.exit_code, 2);
  EXPECT_NE(nothing.err.find("no log"), std::string::npos) << nothing.err;
  {
    // A running server keeps its log.
    t::server a(cfg);
    auto busy = t::run({t::nexus_forge_binary(), "region", "recover", "--config", cfg, "--from", "b"});
    EXPECT_NE(busy.exit_code, 0);
    EXPECT_NE(busy.err.find("stop its server"), std::string::npos) << busy.err;
  }
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(a_dir) / "bus"));
  // A peer with nothing to copy.
  auto empty = t::run({t::nexus_forge_binary(), "region", "recover", "--config", cfg, "--from", "b", "--quiet"});
  EXPECT_NE(empty.exit_code, 0);
  EXPECT_NE(empty.err.find("region b: data directory"), std::string::npos) << empty.err;
  // An interrupted rebuild from one peer is not finished from another.
  std::ofstream(std::filesystem::path(a_dir) / "recovering.json") << R"({"from":"k","mode":"recover","keptAside":""})";
  auto other = t::run({t::nexus_forge_binary(), "region", "recover", "--config", cfg, "--from", "b"});
  EXPECT_NE(other.exit_code, 0);
  EXPECT_NE(other.err.find("is not this one"), std::string::npos) << other.err;
}

// a is the primary, b copies it; b dies, a takes four more missions, then a dies. b comes back
// alone and takes writes. `region failback` brings a level with b: the events b never got are
// reported and kept on region.diverged (not applied), a's log holds exactly b's events, and
// every read model's digest equals b's.
TEST(RegionRecover, FailbackKeepsAsideWhatThePeerNeverGotAndLevelsTheOldPrimary) {
  t::temp_dir dir;
  const auto a_dir = (dir.path() / "a").string(), b_dir = (dir.path() / "b").string();
  const auto a_cfg = (dir.path() / "a.json").string(), b_cfg = (dir.path() / "b.json").string(), b_alone = (dir.path() / "b-alone.json").string();
  std::ofstream(a_cfg) << json{{"region", "a"}, {"data_dir", a_dir}, {"regions", {{"b", {{"data_dir", b_dir}}}}}, {"mirror", {{"heartbeat_ms", 200}}}}.dump();
  std::ofstream(b_cfg) << json{{"region", "b"}, {"data_dir", b_dir}, {"regions", {{"a", {{"data_dir", a_dir}}}}},
                               {"mirror", {{"links", {{{"from", "a"}}}}, {"lag_refresh_ms", 100}, {"heartbeat_ms", 200}}}}.dump();
  std::ofstream(b_alone) << json{{"region", "b"}, {"data_dir", b_dir}, {"regions", {{"a", {{"data_dir", a_dir}}}}}, {"mirror", {{"heartbeat_ms", 200}}}}.dump();
  std::string key;
  {
    t::server a(a_cfg);
    t::http_client ca("127.0.0.1", a.port(), t::admin_headers());
    ASSERT_EQ(ca.post("/tenants", json{{"id", "acme"}, {"name", "acme"}, {"plan", "enterprise"}}.dump()).status, 201);
    key = json::parse(ca.post("/tenants/acme/keys", json{{"role", "admin"}}.dump()).body)["key"].get<std::string>();
    t::http_client acme_a("127.0.0.1", a.port(), t::key_headers(key));
    post_missions(acme_a, 0, 10);
    {
      t::server b(b_cfg);
      t::http_client cb("127.0.0.1", b.port(), t::admin_headers()), acme_b("127.0.0.1", b.port(), t::key_headers(key));
      ASSERT_TRUE(t::wait_until([&] {
        auto ia = browse_ids(ca);
        return ia.size() >= 20 && ia == browse_ids(cb) && acme_b.get("/missions?limit=1").status == 200;
      }, 30s));
      b.proc().signal(SIGKILL);
      b.proc().wait();
    }
    post_missions(acme_a, 50, 4);
    ASSERT_TRUE(t::wait_until([&] { return browse_ids(ca).size() >= 28; }, 20s));
    a.proc().signal(SIGKILL);
    a.proc().wait();
  }
  json report;
  {
    t::server b(b_alone);
    t::http_client acme_b("127.0.0.1", b.port(), t::key_headers(key));
    ASSERT_TRUE(t::wait_until([&] { return acme_b.get("/missions?limit=1").status == 200; }, 20s));
    post_missions(acme_b, 100, 3);
    t::http_client cb("127.0.0.1", b.port(), t::admin_headers());
    ASSERT_TRUE(t::wait_until([&] { return browse_ids(cb).size() >= 26; }, 20s));
    auto fb = t::run({t::nexus_forge_binary(), "region", "failback", "--config", a_cfg, "--from", "b", "--peer-server",
                      "http://127.0.0.1:" + std::to_string(b.port()), "--key", t::kAdminKey, "--json"});
    ASSERT_EQ(fb.exit_code, 0) << fb.err << fb.out;
    report = json::parse(fb.out);
    EXPECT_EQ(report["mode"], "failback");
    EXPECT_TRUE(report["allEqual"].get<bool>()) << report["projections"].dump(1);
    ASSERT_EQ(b.stop(), 0);
  }
  auto old_a = t::open_test_bus(std::filesystem::path(report["keptAside"].get<std::string>()) / "bus");
  auto new_a = t::open_test_bus(std::filesystem::path(a_dir) / "bus");
  auto b_log = t::open_test_bus(std::filesystem::path(b_dir) / "bus");
  // What a wrote that b never got: the four late missions' events, and only those of mission.*.
  std::set<std::string> expected;
  const auto b_ids = mission_ids(*b_log);
  for (const auto& [id, n] : mission_ids(*old_a, true))
    if (!b_ids.count(id)) expected.insert(id);
  EXPECT_GE(expected.size(), 8u);
  std::set<std::string> kept, reported;
  for (const auto& m : t::read_topic(*new_a, "region.diverged")) {
    auto env = nf::event::from_message(m);
    ASSERT_TRUE(env);
    EXPECT_EQ(env->type(), "region.diverged");
    nf::events::DivergedRecord d;
    ASSERT_TRUE(env->payload().UnpackTo(&d));
    EXPECT_TRUE(env->tenant_id().empty()) << "kept, not the tenant's event";
    if (d.topic().rfind("mission.", 0) == 0) kept.insert(d.id());
    // Whole: the original record's value is there, and it is the event named.
    nf::events::Envelope original;
    ASSERT_TRUE(original.ParseFromString(d.value()));
    std::string hex;
    for (unsigned char ch : original.id()) {
      static const char* digits = "0123456789abcdef";
      hex += digits[ch >> 4];
      hex += digits[ch & 15];
    }
    std::string plain = d.id();
    std::erase(plain, '-');
    EXPECT_EQ(hex, plain);
  }
  for (const auto& e : report["diverged"]["events"])
    if (e["topic"].get<std::string>().rfind("mission.", 0) == 0) reported.insert(e["id"].get<std::string>());
  EXPECT_EQ(kept, expected);
  EXPECT_EQ(reported, expected);
  EXPECT_EQ(report["diverged"]["count"].get<std::size_t>(), t::read_topic(*new_a, "region.diverged").size());
  // a now holds b's events, each once, and none of the diverged ones.
  const auto a_ids = mission_ids(*new_a);
  EXPECT_EQ(a_ids, b_ids);
  for (const auto& id : expected) EXPECT_FALSE(a_ids.count(id)) << id;
}

}  // namespace
