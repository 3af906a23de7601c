// Actor runtime on the embedded bus: derived output ids, supervision with an injected clock,
// dead-lettering, backpressure and draining on stop.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "core/actor/actor.h"
#include "core/bus/embedded.h"
#include "actors/missions/events.h"
#include "deadletter.pb.h"
#include "envelope.pb.h"
#include "missions.pb.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using namespace std::chrono_literals;

class ActorRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    bus::embedded_options o;
    o.path = dir_.str();
    o.sync = false;
    o.retention_check_ms = 0;
    auto b = bus::open_embedded(o);
    ASSERT_TRUE(b);
    bus_ = std::move(*b);
    ASSERT_TRUE(bus_->create_topic(topic_name{"in"}, {2, -1, -1}));
    ASSERT_TRUE(bus_->create_topic(topic_name{"out"}, {1, -1, -1}));
  }

  std::vector<event::event_id> produce(int n, const std::string& key_prefix = "k") {
    std::vector<bus::record> recs;
    std::vector<event::event_id> ids;
    for (int i = 0; i < n; ++i) {
      event::new_event e;
      e.type = "test.input";
      e.key = key_prefix + std::to_string(i);
      e.payload_json = R"({"n":)" + std::to_string(i) + "}";
      e.occurred_at = 1'700'000'000'000 + i;
      auto env = event::build(e);
      EXPECT_TRUE(env);
      ids.push_back(*event::event_id::from_raw(env->id()));
      recs.push_back(event::to_record(*env));
    }
    EXPECT_TRUE(bus_->append(topic_name{"in"}, recs));
    return ids;
  }

  std::vector<bus::message> read_topic(const std::string& topic, int partitions) {
    std::vector<bus::message> out;
    for (int p = 0; p < partitions; ++p) {
      topic_partition tp{topic_name{topic}, partition_id{p}};
      auto c = bus_->make_consumer({});
      EXPECT_TRUE((*c)->assign({{tp, offset{0}}}));
      const auto end = bus_->end_offset(tp)->get();
      std::int64_t got = 0;
      while (got < end) {
        auto m = (*c)->poll(200ms, 1000);
        if (!m || m->empty()) break;
        got += static_cast<std::int64_t>(m->size());
        for (auto& x : *m) out.push_back(std::move(x));
      }
    }
    return out;
  }

  std::int64_t count(const std::string& topic, int partitions) {
    std::int64_t n = 0;
    for (int p = 0; p < partitions; ++p) n += bus_->end_offset({topic_name{topic}, partition_id{p}})->get();
    return n;
  }

  test::temp_dir dir_;
  std::unique_ptr<bus::event_bus> bus_;
};

// Emits one "test.output" per input; optionally fails on chosen keys a chosen number of times.
class echo_actor : public actor::actor {
 public:
  std::string name() const override { return "echo"; }
  std::vector<std::string> subscriptions() const override { return {"in"}; }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override {
    {
      std::lock_guard lk(mu);
      ++attempts[m.key];
      auto it = fail_times.find(m.key);
      if (it != fail_times.end() && it->second > 0) {
        --it->second;
        throw std::runtime_error("boom on " + m.key);
      }
    }
    event::new_event e;
    e.type = "test.output";
    e.key = m.key;
    e.payload_json = "{}";
    NF_TRY(ctx.emit(topic_name{"out"}, e));
    std::lock_guard lk(mu);
    handled.push_back(m.key);
    return ok();
  }
  void on_restart() override { ++restarts; }

  std::mutex mu;
  std::map<std::string, int> fail_times;
  std::map<std::string, int> attempts;
  std::vector<std::string> handled;
  std::atomic<int> restarts{0};
};

TEST_F(ActorRuntime, OutputIdsAreDerivedFromInputIds) {
  auto ids = produce(40);
  auto a = std::make_shared<echo_actor>();
  actor::runtime rt(*bus_, {});
  rt.add(a, {});
  ASSERT_TRUE(rt.start());
  ASSERT_TRUE(test::wait_until([&] { return count("out", 1) == 40; }));
  rt.stop();
  std::set<std::string> expected;
  for (const auto& id : ids) expected.insert(event::derive_id(id, "echo", 0).to_string());
  std::set<std::string> got;
  for (const auto& m : read_topic("out", 1)) {
    auto env = event::from_message(m);
    ASSERT_TRUE(env);
    got.insert(event::event_id::from_raw(env->id())->to_string());
    EXPECT_FALSE(env->causation_id().empty());
  }
  EXPECT_EQ(got, expected);
}

TEST_F(ActorRuntime, FailureRestartsFromLastCommittedPositionAfterBackoff) {
  produce(10);
  manual_clock clk;
  auto a = std::make_shared<echo_actor>();
  a->fail_times["k4"] = 2;
  actor::runtime_options ro;
  ro.clock = &clk;
  ro.timers = &clk;
  actor::runtime rt(*bus_, ro);
  config::actor_settings s;
  s.backoff_initial_ms = 100;
  s.max_failures = 5;
  rt.add(a, s);
  ASSERT_TRUE(rt.start());
  // First failure: a 100 ms backoff is pending and nothing moves until the clock does.
  ASSERT_TRUE(test::wait_until([&] { return clk.pending() == 1; }));
  EXPECT_EQ(rt.stats("echo").restarts, 1u);
  clk.advance(99ms);
  EXPECT_EQ(clk.pending(), 1u);
  clk.advance(1ms);
  // Second failure: the backoff doubles to 200 ms.
  ASSERT_TRUE(test::wait_until([&] { return clk.pending() == 1 && rt.stats("echo").restarts == 2; }));
  clk.advance(199ms);
  EXPECT_EQ(clk.pending(), 1u);
  clk.advance(1ms);
  ASSERT_TRUE(test::wait_until([&] { return rt.stats("echo").handled == 10; }));
  rt.stop();
  EXPECT_EQ(a->restarts, 2);
  EXPECT_EQ(a->attempts["k4"], 3);
  // Every input handled successfully exactly once, in per-partition order.
  std::multiset<std::string> handled(a->handled.begin(), a->handled.end());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(handled.count("k" + std::to_string(i)), 1u) << i;
  EXPECT_EQ(count("out", 1), 10);
}

TEST_F(ActorRuntime, PoisonEventGoesToDeadLetterAfterMaxFailuresAndActorMovesOn) {
  produce(6);
  manual_clock clk;
  auto a = std::make_shared<echo_actor>();
  a->fail_times["k2"] = 1000;
  actor::runtime_options ro;
  ro.clock = &clk;
  ro.timers = &clk;
  actor::runtime rt(*bus_, ro);
  config::actor_settings s;
  s.max_failures = 3;
  s.backoff_initial_ms = 10;
  rt.add(a, s);
  ASSERT_TRUE(rt.start());
  // Advance exactly one backoff at a time (10 ms, then 20 ms): a larger step could also fire the
  // next restart's timer inside the same advance().
  for (int restart = 1; restart <= 2; ++restart) {
    ASSERT_TRUE(test::wait_until([&] { return clk.pending() == 1; })) << restart;
    clk.advance(std::chrono::milliseconds(10 << (restart - 1)));
  }
  ASSERT_TRUE(test::wait_until([&] { return rt.stats("echo").handled == 5 && rt.stats("echo").dead_lettered == 1; }))
      << "handled " << rt.stats("echo").handled << ", dead-lettered " << rt.stats("echo").dead_lettered << ", restarts "
      << rt.stats("echo").restarts << ", pending timers " << clk.pending();
  rt.stop();
  EXPECT_EQ(a->attempts["k2"], 3);
  auto dead = read_topic(actor::kDeadLetterTopic, 1);
  ASSERT_EQ(dead.size(), 1u);
  auto env = event::from_message(dead[0]);
  ASSERT_TRUE(env);
  EXPECT_EQ(env->type(), actor::kDeadLetterType);
  events::DeadLetter dl;
  ASSERT_TRUE(env->payload().UnpackTo(&dl));
  EXPECT_EQ(dl.actor(), "echo");
  EXPECT_EQ(dl.source_topic(), "in");
  EXPECT_EQ(dl.attempts(), 3u);
  EXPECT_NE(dl.error().find("boom on k2"), std::string::npos) << dl.error();
  EXPECT_EQ(dl.original_key(), "k2");
  auto original = event::from_message(bus::message{topic_name{"in"}, partition_id{0}, offset{0}, 0, "", dl.original(), {}});
  ASSERT_TRUE(original);
  EXPECT_EQ(original->key(), "k2");
}

// Decodes its input as every actor does (event::from_message), so it reads the current schema version.
class decoding_actor : public actor::actor {
 public:
  std::string name() const override { return "decoder"; }
  std::vector<std::string> subscriptions() const override { return {"in"}; }
  result<void> handle(const bus::message& m, ::nf::actor::context&) override {
    NF_TRY_ASSIGN(auto env, event::from_message(m));
    std::lock_guard lk(mu);
    versions.push_back(env.schema_version());
    return ok();
  }
  std::mutex mu;
  std::vector<std::uint32_t> versions;
};

TEST_F(ActorRuntime, AnEventOfASchemaVersionNewerThanTheCodeIsDeadLetteredNamingTypeAndVersion) {
  missions::register_events(event::type_registry::global());
  std::vector<bus::record> recs;
  for (std::uint32_t version : {1u, 9u, 2u}) {
    events::Envelope env;
    env.set_id(event::new_uuidv7(1'700'000'000'000 + version).raw());
    env.set_type("mission.prompted");
    env.set_schema_version(version);
    env.set_key("same-key");  // one partition: in this order
    env.set_occurred_at(1'700'000'000'000);
    env.mutable_payload()->PackFrom(events::MissionPrompt());
    recs.push_back(event::to_record(env));
  }
  ASSERT_TRUE(bus_->append(topic_name{"in"}, recs));
  manual_clock clk;
  auto a = std::make_shared<decoding_actor>();
  actor::runtime_options ro;
  ro.clock = &clk;
  ro.timers = &clk;
  actor::runtime rt(*bus_, ro);
  config::actor_settings s;
  s.max_failures = 2;
  s.backoff_initial_ms = 10;
  rt.add(a, s);
  ASSERT_TRUE(rt.start());
  ASSERT_TRUE(test::wait_until([&] { return clk.pending() == 1; }));
  clk.advance(std::chrono::milliseconds(10));
  ASSERT_TRUE(test::wait_until([&] { return rt.stats("decoder").dead_lettered == 1 && rt.stats("decoder").handled == 2; }));
  rt.stop();
  {
    std::lock_guard lk(a->mu);
    EXPECT_EQ(a->versions, (std::vector<std::uint32_t>{2, 2}));  // the v1 event was upcast; the v2 one is current
  }
  auto dead = read_topic(actor::kDeadLetterTopic, 1);
  ASSERT_EQ(dead.size(), 1u);
  events::DeadLetter dl;
  ASSERT_TRUE(event::from_message(dead[0])->payload().UnpackTo(&dl));
  EXPECT_NE(dl.error().find("'mission.prompted' version 9 is newer than this code reads (up to 2)"), std::string::npos) << dl.error();
}

// Blocks in handle() until released, to fill the mailbox.
class gated_actor : public actor::actor {
 public:
  std::string name() const override { return "gated"; }
  std::vector<std::string> subscriptions() const override { return {"in"}; }
  result<void> handle(const bus::message&, ::nf::actor::context&) override {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return open; });
    ++handled;
    return ok();
  }
  void release() {
    std::lock_guard lk(mu);
    open = true;
    cv.notify_all();
  }
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> handled{0};
};

TEST_F(ActorRuntime, FullMailboxPausesIntakeAndMemoryStaysBounded) {
  produce(200);
  auto a = std::make_shared<gated_actor>();
  actor::runtime rt(*bus_, {});
  config::actor_settings s;
  s.mailbox_capacity = 8;
  rt.add(a, s);
  ASSERT_TRUE(rt.start());
  ASSERT_TRUE(test::wait_until([&] { return rt.stats("gated").paused; }));
  EXPECT_LE(rt.stats("gated").mailbox_depth, 8u);
  a->release();
  ASSERT_TRUE(test::wait_until([&] { return a->handled == 200; }));
  rt.stop();
  EXPECT_LE(rt.stats("gated").mailbox_high_water, 8u);
  EXPECT_EQ(bus_->committed("actor.gated", {topic_name{"in"}, partition_id{0}})->value().get() +
                bus_->committed("actor.gated", {topic_name{"in"}, partition_id{1}})->value().get(),
            200);
}

TEST_F(ActorRuntime, StopDrainsTheMailboxAndCommitsEverythingHandled) {
  produce(100);
  auto a = std::make_shared<echo_actor>();
  {
    actor::runtime rt(*bus_, {});
    rt.add(a, {});
    ASSERT_TRUE(rt.start());
    ASSERT_TRUE(test::wait_until([&] { return rt.stats("echo").handled > 0; }));
    rt.stop();
  }
  const auto handled = static_cast<std::int64_t>(a->handled.size());
  std::int64_t committed = 0;
  for (int p = 0; p < 2; ++p) {
    auto c = bus_->committed("actor.echo", {topic_name{"in"}, partition_id{p}});
    ASSERT_TRUE(c);
    if (c->has_value()) committed += (*c)->get();
  }
  EXPECT_EQ(committed, handled);
  // A new runtime resumes after the committed position: nothing is handled twice.
  auto b = std::make_shared<echo_actor>();
  actor::runtime rt2(*bus_, {});
  rt2.add(b, {});
  ASSERT_TRUE(rt2.start());
  ASSERT_TRUE(test::wait_until([&] { return static_cast<std::int64_t>(a->handled.size() + rt2.stats("echo").handled) == 100; }));
  rt2.stop();
  std::multiset<std::string> all(a->handled.begin(), a->handled.end());
  all.insert(b->handled.begin(), b->handled.end());
  EXPECT_EQ(all.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(all.count("k" + std::to_string(i)), 1u);
}

// Records what it handled; its first flush() fails, as when an output append was lost.
class flaky_flush_actor : public actor::actor {
 public:
  std::string name() const override { return "flaky"; }
  std::vector<std::string> subscriptions() const override { return {"in"}; }
  result<void> handle(const bus::message& m, ::nf::actor::context&) override {
    std::lock_guard lk(mu);
    handled.push_back(m.key);
    return ok();
  }
  result<void> flush() override {
    std::lock_guard lk(mu);
    ++flushes;
    if (failed) return ok();
    failed = true;
    handled_before_failure = handled;
    return error{errc::unavailable, "an output append failed"};
  }

  std::mutex mu;
  bool failed = false;
  int flushes = 0;
  std::vector<std::string> handled, handled_before_failure;
};

TEST_F(ActorRuntime, AFailedFlushCommitsNothingAndHandlesEverythingSinceTheCommittedPositionsAgain) {
  produce(10);
  manual_clock clk;
  auto a = std::make_shared<flaky_flush_actor>();
  actor::runtime_options ro;
  ro.clock = &clk;
  ro.timers = &clk;
  actor::runtime rt(*bus_, ro);
  config::actor_settings s;
  s.backoff_initial_ms = 100;
  rt.add(a, s);
  ASSERT_TRUE(rt.start());
  // The failed flush restarts the actor after a backoff, and no position past a handled message
  // was committed (at most where handling resumes: the first offset).
  ASSERT_TRUE(test::wait_until([&] { return clk.pending() == 1 && rt.stats("flaky").restarts == 1; }));
  for (int p = 0; p < 2; ++p) {
    auto c = bus_->committed("actor.flaky", {topic_name{"in"}, partition_id{p}});
    ASSERT_TRUE(c);
    if (c->has_value()) {
      EXPECT_EQ((*c)->get(), 0) << p;
    }
  }
  std::vector<std::string> before;
  {
    std::lock_guard lk(a->mu);
    before = a->handled_before_failure;
  }
  ASSERT_FALSE(before.empty());
  clk.advance(100ms);
  ASSERT_TRUE(test::wait_until([&] {
    std::lock_guard lk(a->mu);
    return a->handled.size() == 10 + before.size();
  }));
  rt.stop();
  // What was handled before the failed flush is handled again; the rest once; and the positions
  // committed at the end cover every input.
  std::multiset<std::string> all(a->handled.begin(), a->handled.end());
  const std::set<std::string> again(before.begin(), before.end());
  for (int i = 0; i < 10; ++i) {
    const auto key = "k" + std::to_string(i);
    EXPECT_EQ(all.count(key), again.count(key) ? 2u : 1u) << key;
  }
  std::int64_t committed = 0;
  for (int p = 0; p < 2; ++p) {
    auto c = bus_->committed("actor.flaky", {topic_name{"in"}, partition_id{p}});
    ASSERT_TRUE(c);
    if (c->has_value()) committed += (*c)->get();
  }
  EXPECT_EQ(committed, 10);
}

// Fails on keys starting with "bad" until fixed.
class parker : public actor::actor {
 public:
  std::string name() const override { return "parker"; }
  std::vector<std::string> subscriptions() const override { return {"in"}; }
  result<void> handle(const bus::message& m, ::nf::actor::context&) override {
    if (m.key.starts_with("bad") && !fixed) return error{errc::invalid_argument, "not yet"};
    ++handled;
    return ok();
  }
  std::atomic<bool> fixed{false};
  std::atomic<int> handled{0};
};

// With two members in an actor's group, the one holding platform.deadletter.replays handles a
// replay only of an event from a partition it owns; the other replay is recorded as failed,
// saying why, instead of as done.
TEST_F(ActorRuntime, AReplayOfAnEventFromAnotherMembersPartitionIsRecordedAsFailedNotDone) {
  auto a = std::make_shared<parker>();
  auto b = std::make_shared<parker>();
  config::actor_settings s;
  s.max_failures = 1;
  actor::runtime ra(*bus_, {}), rb(*bus_, {});
  ra.add(a, s);
  rb.add(b, s);
  ASSERT_TRUE(ra.start());
  ASSERT_TRUE(rb.start());
  auto count_in = [](const std::vector<topic_partition>& tps, const std::string& topic) {
    return std::count_if(tps.begin(), tps.end(), [&](const topic_partition& tp) { return tp.topic.get() == topic; });
  };
  ASSERT_TRUE(test::wait_until([&] {
    auto x = ra.assignments()["parker"], y = rb.assignments()["parker"];
    return count_in(x, "in") == 1 && count_in(y, "in") == 1 && count_in(x, actor::kReplayTopic) + count_in(y, actor::kReplayTopic) == 1;
  }));
  for (int p = 0; p < 2; ++p) {
    event::new_event e;
    e.type = "test.input";
    e.key = "bad" + std::to_string(p);
    e.payload_json = "{}";
    auto rec = event::to_record(event::build(e).value());
    rec.partition = partition_id{p};
    ASSERT_TRUE(bus_->append(topic_name{"in"}, std::span<const bus::record>(&rec, 1)));
  }
  ASSERT_TRUE(test::wait_until([&] { return count(actor::kDeadLetterTopic, 1) == 2; }));
  a->fixed = true;
  b->fixed = true;
  for (const auto& m : read_topic(actor::kDeadLetterTopic, 1)) {
    auto parked = event::from_message(m).value();
    events::DeadLetter dl;
    ASSERT_TRUE(parked.payload().UnpackTo(&dl));
    events::DeadLetterAction req;
    req.set_dead_letter_id(event::event_id::from_raw(parked.id())->to_string());
    req.set_actor("parker");
    req.set_by("test");
    *req.mutable_dead_letter() = dl;
    event::new_event e;
    e.type = actor::kReplayRequested;
    e.key = req.dead_letter_id();
    e.message = &req;
    auto rec = event::to_record(event::build(e).value());
    ASSERT_TRUE(bus_->append(topic_name{actor::kReplayTopic}, std::span<const bus::record>(&rec, 1)));
  }
  ASSERT_TRUE(test::wait_until([&] { return count(actor::kDeadLetterTopic, 1) == 4; }));
  int replayed = 0, failed = 0;
  for (const auto& m : read_topic(actor::kDeadLetterTopic, 1)) {
    auto env = event::from_message(m).value();
    events::DeadLetterAction out;
    if (env.type() == actor::kReplayed) ++replayed;
    if (env.type() == actor::kReplayFailed) {
      ++failed;
      ASSERT_TRUE(env.payload().UnpackTo(&out));
      EXPECT_NE(out.reason().find("is assigned to another instance of parker's group"), std::string::npos) << out.reason();
    }
  }
  EXPECT_EQ(replayed, 1);
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(a->handled + b->handled, 1);
  ra.stop();
  rb.stop();
}

}  // namespace
