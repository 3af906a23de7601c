// Dead letters on a real node (embedded bus and RocksDB in a temp dir, the real routes behind the
// server's raw-request path), with an actor of the test's own that fails on chosen keys until
// the test "fixes" it: a parked event is listed and shown; a replay while the cause remains is
// recorded as failed; after the fix it is handled once and marked replayed; a second replay, a
// discard of a replayed one and concurrent replays are refused; another tenant sees nothing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/actor/actor.h"
#include "core/event/codec.h"
#include "core/feature/feature.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/http_client.h"
#include "tests/support/node.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;
using namespace std::chrono_literals;

using test::answer;
using test::ask;

// Fails on keys starting with "bad" until fixed; emits one test.picked per event it handles.
class picky final : public actor::actor {
 public:
  std::string name() const override { return "picky"; }
  std::vector<std::string> subscriptions() const override { return {"picky.in"}; }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override {
    if (m.key.starts_with("bad") && !fixed) return error{errc::invalid_argument, "cannot pick '" + m.key + "' yet"};
    event::new_event e;
    e.type = "test.picked";
    e.key = m.key;
    e.payload_json = "{}";
    NF_TRY(ctx.emit(topic_name{"picky.out"}, e));
    std::lock_guard lk(mu);
    ++handled[m.key];
    return ok();
  }
  std::atomic<bool> fixed{false};
  std::mutex mu;
  std::map<std::string, int> handled;
};

class picky_feature final : public ::nf::feature::feature {
 public:
  explicit picky_feature(std::shared_ptr<picky> a) : a_(std::move(a)) {}
  std::string_view name() const override { return "picky"; }
  void register_events(event::type_registry&) const override {}
  std::vector<::nf::feature::topic_spec> topics() const override { return {{.name = topic_name{"picky.in"}, .partitions = 2}, {.name = topic_name{"picky.out"}, .partitions = 1}}; }
  result<void> start(::nf::feature::host& h) override {
    config::actor_settings s;
    s.max_failures = 2;
    s.backoff_initial_ms = 10;
    s.backoff_max_ms = 20;
    h.actors.add(a_, s);
    return ok();
  }
  void stop() override {}

 private:
  std::shared_ptr<picky> a_;
};

class DeadLetters : public ::testing::Test {
 protected:
  DeadLetters() : a_(std::make_shared<picky>()), n_("deadletters", setup()) {}
  test::node_setup setup() {
    test::node_setup s;
    s.extra.push_back([a = a_] { return std::make_unique<picky_feature>(a); });
    return s;
  }

  void produce(const std::string& key, const std::string& tenant = "") {
    event::new_event e;
    e.type = "test.input";
    e.key = key;
    e.tenant = tenant;
    e.payload_json = R"({"n":1})";
    auto rec = event::to_record(event::build(e).value());
    ASSERT_TRUE(n_.bus().append(topic_name{"picky.in"}, std::span<const bus::record>(&rec, 1)));
  }

  // The dead letter of `key`, once parked (waits up to 10 s).
  json parked(const std::string& key) {
    json found;
    EXPECT_TRUE(test::wait_until(
        [&]() -> bool {
          auto l = ask(n_, "GET", "/deadletters?actor=picky");
          if (l.status != 200) return false;
          for (const auto& d : l.body["deadLetters"])
            if (d["key"] == key) {
              found = d;
              return true;
            }
          return false;
        },
        10s));
    return found;
  }

  json wait_status(const std::string& id, const std::string& want) {
    json d;
    const bool reached = test::wait_until(
        [&]() -> bool {
          auto a = ask(n_, "GET", "/deadletters/" + id);
          d = a.body;
          return a.status == 200 && d.value("status", "") == want;
        },
        10s);
    EXPECT_TRUE(reached) << d.dump();
    return d;
  }

  int picked(const std::string& key) {
    int n = 0;
    for (const auto& m : test::read_topic(n_.bus(), "picky.out"))
      if (m.key == key) ++n;
    return n;
  }

  std::shared_ptr<picky> a_;
  test::in_process_node n_;
};

TEST_F(DeadLetters, AParkedEventIsShownReplayedOnceAfterItsFixAndMarkedReplayed) {
  produce("bad-1");
  produce("good-1");
  const auto d = parked("bad-1");
  ASSERT_TRUE(d.is_object());
  const std::string id = d["id"];
  EXPECT_EQ(d["status"], "parked");
  EXPECT_EQ(d["type"], "test.input");
  EXPECT_EQ(d["source"]["topic"], "picky.in");
  EXPECT_NE(d["error"].get<std::string>().find("cannot pick 'bad-1' yet"), std::string::npos) << d.dump();
  EXPECT_EQ(d["attempts"], 2);
  auto shown = ask(n_, "GET", "/deadletters/" + id);
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_EQ(shown.body["event"]["type"], "test.input");
  EXPECT_EQ(shown.body["event"]["payload"]["n"], 1);
  ASSERT_TRUE(test::wait_until([&] { return picked("good-1") == 1; }, 10s)) << "the actor moved on";

  // Replayed while the cause remains: recorded as failed, with the error; still replayable.
  auto r1 = ask(n_, "POST", "/deadletters/" + id + "/replay");
  ASSERT_EQ(r1.status, 202) << r1.raw;
  auto failed = wait_status(id, "replay_failed");
  EXPECT_NE(failed["error"].get<std::string>().find("yet"), std::string::npos);
  EXPECT_EQ(picked("bad-1"), 0);

  // Fixed: the actor handles it once, and the dead letter says so.
  a_->fixed = true;
  auto r2 = ask(n_, "POST", "/deadletters/" + id + "/replay");
  ASSERT_EQ(r2.status, 202) << r2.raw;
  auto done = wait_status(id, "replayed");
  EXPECT_EQ(picked("bad-1"), 1);
  {
    std::lock_guard lk(a_->mu);
    EXPECT_EQ(a_->handled["bad-1"], 1);
  }
  // Two requests, each answered (requests and outcomes are on two topics: the history holds
  // them in the order the read model folded them, each outcome naming its request).
  std::multiset<std::string> actions;
  std::set<std::string> requests, answered;
  for (const auto& h : done["history"]) {
    actions.insert(h["action"].get<std::string>());
    if (h["action"] == "platform.deadletter_replay_requested") requests.insert(h["eventId"].get<std::string>());
    else answered.insert(h["request"].get<std::string>());
  }
  EXPECT_EQ(actions, (std::multiset<std::string>{"platform.deadletter_replay_requested", "platform.deadletter_replay_failed",
                                                  "platform.deadletter_replay_requested", "platform.deadletter_replayed"}));
  EXPECT_EQ(requests, answered);
  EXPECT_EQ(done["history"][0]["by"], "key:platform-admin");

  // Not parked any more: another replay or a discard is refused and changes nothing.
  auto again = ask(n_, "POST", "/deadletters/" + id + "/replay");
  EXPECT_EQ(again.status, 409) << again.raw;
  EXPECT_EQ(again.body["error"]["code"], "not_parked");
  EXPECT_EQ(ask(n_, "POST", "/deadletters/" + id + "/discard").status, 409);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(picked("bad-1"), 1);
  auto listed = ask(n_, "GET", "/deadletters?status=replayed");
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.body["deadLetters"].size(), 1u);
  EXPECT_EQ(listed.body["deadLetters"][0]["id"], id);
}

TEST_F(DeadLetters, ADiscardIsRecordedWithItsReasonAndConcurrentReplaysGiveOneRequest) {
  produce("bad-a");
  produce("bad-b");
  const std::string a = parked("bad-a")["id"], b = parked("bad-b")["id"];
  auto dis = ask(n_, "POST", "/deadletters/" + a + "/discard", R"({"reason":"obsolete order"})");
  ASSERT_EQ(dis.status, 200) << dis.raw;
  EXPECT_EQ(dis.body["status"], "discarded");
  EXPECT_EQ(dis.body["history"][0]["reason"], "obsolete order");
  EXPECT_EQ(ask(n_, "POST", "/deadletters/" + a + "/replay").status, 409);
  // The discard is an event on platform.deadletter; the dead letter itself is still there.
  int discards = 0, parks = 0;
  for (const auto& m : test::read_topic(n_.bus(), "platform.deadletter")) {
    auto env = event::from_message(m);
    ASSERT_TRUE(env);
    if (env->type() == "platform.deadletter_discarded") ++discards;
    if (env->type() == "platform.dead_lettered") ++parks;
  }
  EXPECT_EQ(discards, 1);
  EXPECT_EQ(parks, 2);

  a_->fixed = true;
  std::vector<int> statuses(8);
  std::vector<std::thread> ts;
  for (std::size_t i = 0; i < statuses.size(); ++i) ts.emplace_back([&, i] { statuses[i] = ask(n_, "POST", "/deadletters/" + b + "/replay").status; });
  for (auto& t : ts) t.join();
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 202), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 409), 7);
  wait_status(b, "replayed");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(picked("bad-b"), 1);
  EXPECT_EQ(picked("bad-a"), 0);
}

TEST_F(DeadLetters, UnknownIdsBadFiltersAndOtherTenantsAreRefusedPrecisely) {
  ASSERT_EQ(ask(n_, "POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})").status, 201);
  ASSERT_EQ(ask(n_, "POST", "/tenants", R"({"id":"umbrella","name":"Umbrella","plan":"basic"})").status, 201);
  const auto acme_admin = ask(n_, "POST", "/tenants/acme/keys", R"({"role":"admin"})").body["key"].get<std::string>();
  const auto acme_dev = ask(n_, "POST", "/tenants/acme/keys", R"({"role":"developer"})").body["key"].get<std::string>();
  const auto other_admin = ask(n_, "POST", "/tenants/umbrella/keys", R"({"role":"admin"})").body["key"].get<std::string>();
  produce("bad-acme", "acme");
  const std::string id = parked("bad-acme")["id"];
  EXPECT_EQ(ask(n_, "GET", "/deadletters/" + id, "", acme_admin).status, 200);
  EXPECT_EQ(ask(n_, "GET", "/deadletters", "", acme_admin).body["deadLetters"].size(), 1u);
  // Another tenant's admin: as if it did not exist; a developer lacks the permission.
  EXPECT_EQ(ask(n_, "GET", "/deadletters/" + id, "", other_admin).status, 404);
  EXPECT_EQ(ask(n_, "POST", "/deadletters/" + id + "/replay", "", other_admin).status, 404);
  EXPECT_EQ(ask(n_, "GET", "/deadletters", "", other_admin).body["deadLetters"].size(), 0u);
  EXPECT_EQ(ask(n_, "GET", "/deadletters", "", acme_dev).status, 403);
  // Unknown ids and bad filters.
  const std::string unknown = "01900000-0000-7000-8000-0000000000ff";
  const answer unknowns[] = {ask(n_, "GET", "/deadletters/" + unknown), ask(n_, "POST", "/deadletters/" + unknown + "/replay"),
                             ask(n_, "POST", "/deadletters/" + unknown + "/discard")};
  for (const auto& r : unknowns) {
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_NE(r.raw.find(unknown), std::string::npos) << r.raw;
  }
  auto bad = ask(n_, "GET", "/deadletters?status=lost");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["field"], "status");
  EXPECT_EQ(ask(n_, "GET", "/deadletters?limit=0").status, 400);
  EXPECT_EQ(ask(n_, "POST", "/deadletters/" + id + "/discard", R"({"reason":7})").status, 400);
  EXPECT_EQ(ask(n_, "POST", "/deadletters/" + id + "/discard", R"({"reason":)").status, 400);
  // The tenant's admin replays its own: the acme event is handled after the fix.
  a_->fixed = true;
  EXPECT_EQ(ask(n_, "POST", "/deadletters/" + id + "/replay", "", acme_admin).status, 202);
  wait_status(id, "replayed");
  EXPECT_EQ(picked("bad-acme"), 1);
}

}  // namespace
