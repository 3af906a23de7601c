// Decisions by the partition owner and fencing by log order, on the embedded bus with RocksDB in
// a temp dir: the same mission id posted concurrently gives one prompt; a projection refuses what
// a deposed owner writes after a new claim; a deposed single writer cannot decide any more.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "actors/evidence/audit.h"
#include "actors/evidence/events.h"
#include "actors/evidence/evidence.h"
#include "core/bus/fence.h"
#include "core/command/gateway.h"
#include "core/command/owner.h"
#include "core/event/codec.h"
#include "core/event/types.h"
#include "ledger.pb.h"
#include "projections/ledger/ledger.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/http_client.h"
#include "tests/support/node.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using nlohmann::json;
using namespace std::chrono_literals;

int status_of(const std::string& out) { return std::stoi(out.substr(9, 3)); }
json body_of(const std::string& out) { return json::parse(out.substr(out.find("\r\n\r\n") + 4), nullptr, false); }

std::string post(test::in_process_node& n, const std::string& body) {
  return n.respond("POST /missions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + std::string(test::kAdminKey) +
                   "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

std::string prompt(const std::string& id, const std::string& objective) {
  return json{{"id", id}, {"objective", objective}, {"priority", "P1"}, {"originatingSpec", "https://spec/owner"}}.dump();
}

// Events of each type on a topic, read from the log itself.
std::map<std::string, int> types_on(bus::event_bus& b, const std::string& topic) {
  std::map<std::string, int> out;
  for (const auto& m : test::read_topic(b, topic)) {
    auto env = event::from_message(m);
    ++out[env ? env->type() : "?"];
  }
  return out;
}

TEST(Decisions, OneMissionIdPostedConcurrentlyGivesOnePromptAndEveryAnswerAgrees) {
  test::in_process_node n("decisions");
  const std::string id = "01900000-0000-7000-8000-00000000d001";
  std::vector<std::string> answers(24);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < answers.size(); ++i) threads.emplace_back([&, i] { answers[i] = post(n, prompt(id, "same body")); });
  for (auto& t : threads) t.join();
  const json first = body_of(answers[0]);
  for (const auto& a : answers) {
    ASSERT_EQ(status_of(a), 202) << a;
    EXPECT_EQ(body_of(a), first);  // every repeat names the one prompt's position
  }
  auto conflict = post(n, prompt(id, "another body"));
  EXPECT_EQ(status_of(conflict), 409) << conflict;
  const auto types = types_on(n.bus(), "mission.prompts");
  EXPECT_EQ(types.count("mission.prompted") ? types.at("mission.prompted") : 0, 1);
  // 24 requests raced the read model: every one that reached the owner was decided, as a repeat or the one prompt.
  const auto commands = types_on(n.bus(), "commands.missions");
  const int requested = commands.count("mission.prompt_requested") ? commands.at("mission.prompt_requested") : 0;
  EXPECT_GE(requested, 1);
  const int declined = types.count("mission.prompt_declined") ? types.at("mission.prompt_declined") : 0;
  EXPECT_EQ(declined, requested - 1) << "one prompt, the other commands declined";
}

TEST(Decisions, AnIdKnownOnlyFromAnEarlierArtifactIsStillNewToItsFirstPrompt) {
  test::in_process_node n("decisions-early");
  const std::string id = "01900000-0000-7000-8000-00000000d002";
  // An artifact for the id reaches the log before any prompt (appended directly, as a producer can).
  event::new_event ev;
  ev.type = "mission.artifact_recorded";
  ev.key = id;
  ev.payload_json = json{{"artifactId", "early"}, {"missionId", id}, {"type", "code"}, {"uri", "s3://x"},
                         {"checksum", "sha256:" + std::string(64, 'a')}, {"reviewer", "r"}}.dump();
  auto rec = event::to_record(event::build(ev).value());
  const auto at = n.bus().append(topic_name{"mission.artifacts"}, std::span<const bus::record>(&rec, 1)).value()[0];
  // The read model has applied it: the id has a document, without a prompt.
  const auto token = n.node().token({bus::position{{topic_name{"mission.artifacts"}, at.partition}, at.off}});
  ASSERT_TRUE(n.node().wait_for(token, 5s));
  auto first = post(n, prompt(id, "first"));
  EXPECT_EQ(status_of(first), 202) << first;
  EXPECT_EQ(status_of(post(n, prompt(id, "first"))), 202) << "then a repeat";
  EXPECT_EQ(status_of(post(n, prompt(id, "other"))), 409);
  const auto types = types_on(n.bus(), "mission.prompts");
  EXPECT_EQ(types.count("mission.prompted") ? types.at("mission.prompted") : 0, 1);
}

// A projection that records what it was given.
class recording final : public ::nf::projection::projection {
 public:
  std::string name() const override { return "recording"; }
  std::vector<std::string> topics() const override { return {"fenced.out"}; }
  nf::result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override {
    return w.put("at/" + std::to_string(m.off.get()), m.value);
  }
};

bus::record claim_record(const std::string& owner) {
  bus::record r;
  r.key = owner;
  r.value = "claim";
  r.partition = partition_id{0};
  r.headers.push_back({bus::kClaimHeader, owner});
  return r;
}
bus::record fenced_record(std::int64_t epoch, const std::string& v) {
  bus::record r;
  r.key = "k";
  r.value = v;
  r.partition = partition_id{0};
  bus::stamp_epoch(r, epoch);
  return r;
}

TEST(Fencing, AProjectionRefusesWhatADeposedOwnerWritesAfterANewClaimAndKeepsThatAcrossReopenAndRebuild) {
  test::temp_dir dir;
  auto bus = test::open_test_bus(dir.path() / "bus");
  const topic_name out{"fenced.out"};
  ASSERT_TRUE(bus->create_topic(out, {1, -1, -1}));
  auto append = [&](bus::record r) { return bus->append(out, std::span<const bus::record>(&r, 1)).value()[0].off.get(); };
  const auto a = append(claim_record("a"));        // 0: a claims
  append(fenced_record(a, "a1"));                  // 1: counts
  const auto b = append(claim_record("b"));        // 2: b claims; a is deposed
  append(fenced_record(a, "a2 after b claimed"));  // 3: refused
  append(fenced_record(b, "b1"));                  // 4: counts
  bus::record plain;
  plain.value = "plain";
  plain.partition = partition_id{0};
  append(plain);                                   // 5: not fenced: counts
  append(fenced_record(99, "epoch from the future"));  // 6: names no earlier claim: refused
  auto check = [&](projection::store& st, recording& p) {
    auto r = st.reader(p).value();
    std::vector<std::string> seen;
    (void)r->scan("at/", [&](std::string_view k, std::string_view v) {
      seen.push_back(std::string(k) + "=" + std::string(v));
      return true;
    });
    EXPECT_EQ(seen, (std::vector<std::string>{"at/1=a1", "at/4=b1", "at/5=plain"}));
    EXPECT_EQ(st.latest_claim(p, {out, partition_id{0}}).value(), std::optional<offset>(offset{b}));
  };
  recording proj;
  {
    auto st = projection::store::open({(dir.path() / "store").string(), false}).value();
    ASSERT_TRUE(st->attach(proj));
    // One event at a time, so the claim state crosses batch boundaries.
    projection::runner r(*st, proj, *bus, {.batch_size = 1});
    ASSERT_TRUE(r.catch_up());
    check(*st, proj);
  }
  auto st = projection::store::open({(dir.path() / "store").string(), false}).value();
  ASSERT_TRUE(st->attach(proj));
  check(*st, proj);  // the latest claim was committed with the offsets
  ASSERT_TRUE(st->rebuild(proj, *bus));
  check(*st, proj);
}

// A stand-in for the actor runtime's context: whether this "instance" owns the input partition.
class ownership final : public actor::context {
 public:
  std::atomic<bool> owns_input{true};
  nf::result<event::event_id> emit(const topic_name&, event::new_event) override { return error{errc::unsupported, "not used"}; }
  nf::result<events::Envelope> caused(event::new_event ev) override { return event::build(ev); }
  bool owns(const topic_partition&) override { return owns_input; }
  const nf::clock& clock() const override { return system_clock::instance(); }
};

TEST(Fencing, ADeposedSingleWriterCannotDecideAndWhatItStillAppendsIsRefused) {
  test::temp_dir dir;
  auto bus = test::open_test_bus(dir.path() / "bus");
  const topic_name in{"fenced.in"}, out{"fenced.out"};
  ASSERT_TRUE(bus->create_topic(in, {1, -1, -1}));
  ASSERT_TRUE(bus->create_topic(out, {1, -1, -1}));
  // Two instances: each its own store and read model of the output.
  struct instance {
    recording proj;
    std::unique_ptr<projection::store> st;
    std::unique_ptr<projection::feed> feed;
    std::unique_ptr<command::single_writer> writer;
    ownership ctx;
  };
  auto make = [&](instance& i, const std::string& name) {
    i.st = projection::store::open({(dir.path() / name).string(), false}).value();
    ASSERT_TRUE(i.st->attach(i.proj));
    i.feed = std::make_unique<projection::feed>(*i.st, i.proj, *bus);
    ASSERT_TRUE(i.feed->start());
    i.writer = std::make_unique<command::single_writer>(*bus, "writer", "local", command::owned_state{*i.st, i.proj, *i.feed}, 5s);
    ASSERT_TRUE(i.writer->check(in, out));
  };
  instance a, b;
  make(a, "a");
  make(b, "b");
  const topic_partition tin{in, partition_id{0}}, tout{out, partition_id{0}};
  auto env = [](const std::string& what) {
    event::new_event ev;
    ev.type = "test.decided";
    ev.payload_json = json{{"what", what}}.dump();
    return event::build(ev).value();
  };
  auto ea = a.writer->prepare(a.ctx, tin, out);
  ASSERT_TRUE(ea) << describe(ea.error());
  ASSERT_TRUE(a.writer->append(tout, *ea, env("a before")));
  // The group moves the partition to b (a stalled past the session timeout).
  a.ctx.owns_input = false;
  auto eb = b.writer->prepare(b.ctx, tin, out);
  ASSERT_TRUE(eb) << describe(eb.error());
  EXPECT_GT(*eb, *ea);
  // a wakes up with a decision in hand and appends it under its old claim: refused everywhere.
  ASSERT_TRUE(a.writer->append(tout, *ea, env("a after")));
  ASSERT_TRUE(b.writer->append(tout, *eb, env("b")));
  // a's next decision: it holds no current claim and does not own the input, so it does not decide.
  auto again = a.writer->prepare(a.ctx, tin, out);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::conflict) << again.error().message;
  for (auto* i : {&a, &b}) {
    const auto end = bus->end_offset(tout)->get();
    ASSERT_TRUE(i->feed->wait_applied(tout, offset{end - 1}, 5s));
    auto r = i->st->reader(i->proj).value();
    std::vector<std::string> whats;
    (void)r->scan("at/", [&](std::string_view, std::string_view v) {
      events::Envelope e;  // the recorded value is the envelope
      if (e.ParseFromString(std::string(v))) whats.push_back(event::payload_json(e).value()["what"]);
      return true;
    });
    EXPECT_EQ(whats, (std::vector<std::string>{"a before", "b"}));
  }
  a.feed->stop();
  b.feed->stop();
}

TEST(Fencing, AnOwnerThatKnowsItsOutcomesDecidesWithoutWaitingAndAFailedAsyncAppendDropsItsClaim) {
  test::temp_dir dir;
  auto bus = test::open_test_bus(dir.path() / "bus");
  const topic_name in{"fenced.in"}, out{"fenced.out"};
  ASSERT_TRUE(bus->create_topic(in, {1, -1, -1}));
  ASSERT_TRUE(bus->create_topic(out, {1, -1, -1}));
  recording proj;
  auto st = projection::store::open({(dir.path() / "a").string(), false}).value();
  ASSERT_TRUE(st->attach(proj));
  projection::feed feed(*st, proj, *bus);
  ASSERT_TRUE(feed.start());
  command::single_writer writer(*bus, "writer", "local", command::owned_state{*st, proj, feed}, 5s);
  ownership ctx;
  const topic_partition tin{in, partition_id{0}}, tout{out, partition_id{0}};
  auto env = [](const std::string& what) {
    event::new_event ev;
    ev.type = "test.decided";
    ev.payload_json = json{{"what", what}}.dump();
    return event::build(ev).value();
  };
  auto e1 = writer.prepare(ctx, tin, out, true);
  ASSERT_TRUE(e1) << describe(e1.error());
  // Outcomes queued without waiting, each decided under the same claim, land in order after it.
  std::mutex mu;
  std::vector<std::int64_t> offsets;
  for (int i = 0; i < 20; ++i) {
    auto e = writer.prepare(ctx, tin, out, true);
    ASSERT_TRUE(e);
    EXPECT_EQ(*e, *e1);
    writer.append_async(tout, *e, env("n" + std::to_string(i)), [&](const nf::result<bus::append_result>& r) {
      ASSERT_TRUE(r);
      std::lock_guard lk(mu);
      offsets.push_back(r->off.get());
    });
  }
  ASSERT_TRUE(writer.flush());
  ASSERT_EQ(offsets.size(), 20u);
  for (std::size_t i = 0; i < offsets.size(); ++i) EXPECT_EQ(offsets[i], *e1 + 1 + static_cast<std::int64_t>(i));
  // An append that fails is reported by the next flush (once), and the claim is dropped: the next
  // decision claims again.
  std::optional<errc> failed;
  writer.append_async(tout, *e1, env(std::string(2 << 20, 'x')), [&](const nf::result<bus::append_result>& r) {
    if (!r) failed = r.error().code;
  });
  auto f = writer.flush();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, errc::too_large) << f.error().message;
  EXPECT_EQ(failed, errc::too_large);
  EXPECT_TRUE(writer.flush());
  auto e2 = writer.prepare(ctx, tin, out, true);
  ASSERT_TRUE(e2) << describe(e2.error());
  EXPECT_EQ(*e2, *e1 + 21) << "a new claim after the outcomes";
  // Another instance claims: a trusted claim still answers at once (what it writes is refused by
  // the state), and once the input is no longer this instance's, it re-reads and does not decide.
  const auto theirs = bus->append(out, std::vector<bus::record>{claim_record("other")}).value()[0];
  ASSERT_TRUE(feed.wait_applied(tout, theirs.off, 5s));
  auto trusted = writer.prepare(ctx, tin, out, true);
  ASSERT_TRUE(trusted);
  EXPECT_EQ(*trusted, *e2);
  ctx.owns_input = false;
  auto again = writer.prepare(ctx, tin, out, true);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::conflict) << again.error().message;
  feed.stop();
}

// A context whose caused() (called by the evidence actor after it prepared its claim and before it
// appends) first lets `meanwhile` run: the place where a stalled owner is overtaken.
class stalling final : public actor::context {
 public:
  explicit stalling(event::event_id cause) : cause_(cause) {}
  std::atomic<bool> owns_input{true};
  std::function<void()> meanwhile;
  nf::result<event::event_id> emit(const topic_name&, event::new_event) override { return error{errc::unsupported, "not used"}; }
  nf::result<events::Envelope> caused(event::new_event ev) override {
    if (meanwhile) std::exchange(meanwhile, nullptr)();
    ev.id = event::derive_id(cause_, "evidence", n_++);
    ev.causation = cause_;
    return event::build(ev);
  }
  bool owns(const topic_partition&) override { return owns_input; }
  const nf::clock& clock() const override { return system_clock::instance(); }

 private:
  event::event_id cause_;
  std::uint32_t n_ = 0;
};

// A record for the ledger writer, as evidence_intake appends it to commands.evidence.
bus::message record_request(bus::event_bus& b, int i) {
  events::LedgerLeaf l;
  l.set_event_id(event::new_uuidv7(1'700'000'000'000 + i).to_string());
  l.set_data("artifact " + std::to_string(i));
  l.set_event_type("mission.artifact_recorded");
  l.set_source_topic("mission.artifacts");
  event::new_event ev;
  ev.type = evidence::kRecordRequested;
  ev.key = "ledger";
  ev.message = &l;
  auto rec = event::to_record(event::build(ev).value());
  const topic_name t{evidence::kCommandsTopic};
  const auto at = b.append(t, std::span<const bus::record>(&rec, 1)).value()[0];
  bus::message m;
  m.topic = t;
  m.partition = at.partition;
  m.off = at.off;
  m.key = rec.key;
  m.value = rec.value;
  m.headers = rec.headers;
  return m;
}

TEST(Fencing, AnEvidenceWriterOvertakenBetweenItsClaimAndItsAppendIsRefusedEverywhere) {
  test::temp_dir dir;
  auto b = test::open_test_bus(dir.path() / "bus");
  evidence::register_events(event::type_registry::global());
  for (const char* t : {evidence::kLedgerTopic, evidence::kCommandsTopic}) ASSERT_TRUE(b->create_topic(topic_name{t}, {1, -1, -1}));
  auto signer = std::shared_ptr<merkle::signer>(std::move(merkle::signer::load_or_create((dir.path() / "head.key").string()).value()));
  struct instance {
    ledger::ledger_projection proj;
    std::unique_ptr<projection::store> st;
    std::unique_ptr<projection::feed> feed;
    std::unique_ptr<command::single_writer> writer;
    std::unique_ptr<evidence::actor> actor;
  };
  auto make = [&](instance& i, const std::string& name) {
    i.st = projection::store::open({(dir.path() / name).string(), false}).value();
    ASSERT_TRUE(i.st->attach(i.proj));
    i.feed = std::make_unique<projection::feed>(*i.st, i.proj, *b);
    ASSERT_TRUE(i.feed->start());
    i.writer = std::make_unique<command::single_writer>(*b, "evidence", "local", command::owned_state{*i.st, i.proj, *i.feed}, 5s);
    evidence::options o;
    o.signer = signer;
    o.head_every_leaves = 2;
    o.writer = i.writer.get();
    o.bus = b.get();
    o.in_ledger = [&i](const std::string& id) -> result<bool> {
      NF_TRY_ASSIGN(auto index, ledger::ledger_view(*i.st, i.proj).index_of_event(id));
      return index.has_value();
    };
    i.actor = std::make_unique<evidence::actor>(o);
  };
  instance a, c;
  make(a, "a");
  make(c, "c");
  auto handle = [&](instance& i, const bus::message& m, std::function<void()> meanwhile = {}, bool owns = true) {
    stalling ctx(*event::event_id::from_raw(event::from_message(m)->id()));
    ctx.meanwhile = std::move(meanwhile);
    ctx.owns_input = owns;
    return i.actor->handle(m, ctx);
  };
  // a owns the ledger: two leaves and a head.
  ASSERT_TRUE(handle(a, record_request(*b, 0)));
  ASSERT_TRUE(handle(a, record_request(*b, 1)));
  // a decides on a third record, and stalls after its claim was checked: meanwhile the group gives
  // the partition to c, which claims the ledger and appends a leaf of its own.
  const auto third = record_request(*b, 2);
  const auto fourth = record_request(*b, 3);
  ASSERT_TRUE(handle(a, third, [&] { ASSERT_TRUE(handle(c, fourth)); }));
  // a wakes up without the partition: it decides nothing more.
  ASSERT_TRUE(handle(a, record_request(*b, 4), {}, false));
  ASSERT_TRUE(handle(c, third));  // c handles what a's commit never covered
  // The ledger: a's late leaf is in the log but refused by every reader; the tree is c's view.
  const topic_partition ledger{topic_name{evidence::kLedgerTopic}, partition_id{0}};
  const auto end = b->end_offset(ledger)->get();
  for (auto* i : {&a, &c}) {
    ASSERT_TRUE(i->feed->wait_applied(ledger, offset{end - 1}, 5s));
    ledger::ledger_view view(*i->st, i->proj);
    EXPECT_EQ(view.size().value(), 4u) << "leaves 0 and 1 by a, then 2 and 3 by c";
    for (std::uint64_t k = 0; k < 4; ++k) EXPECT_EQ(view.get(k).value().leaf.index(), k);
  }
  EXPECT_EQ(c.actor->current().next_index, 4u);
  evidence::ledger_audit audit(*b, signer->public_key_pem(), false);
  ASSERT_TRUE(audit.run(false));
  EXPECT_TRUE(audit.problems.empty()) << audit.problems.front().message;
  EXPECT_EQ(audit.leaves, 4u);
  EXPECT_EQ(audit.fenced, 1u) << "a's late leaf";
  a.feed->stop();
  c.feed->stop();
}

}  // namespace

namespace {

std::string as_admin(test::in_process_node& n, const std::string& method, const std::string& target, const std::string& body) {
  return n.respond(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + std::string(test::kAdminKey) +
                   "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

}  // namespace

// Found by the http_request fuzzer: a role defined for a tenant that does not exist was appended,
// and the tenants read model (which stops at an event for an unknown tenant) stopped for good, so
// every later reservation waited for a decision that could not come.
TEST(Decisions, ARoleForAnUnknownTenantIsRefusedAndTenancyKeepsDeciding) {
  test::in_process_node n("decisions-unknown-tenant");
  auto created = as_admin(n, "POST", "/tenants", R"({"id":"acme","name":"Acme","plan":"basic"})");
  ASSERT_EQ(status_of(created), 201) << created;
  const auto before = types_on(n.bus(), "tenancy.tenants");
  auto role = as_admin(n, "POST", "/tenants/ghost/roles", R"({"name":"ops","permissions":["missions:read"]})");
  EXPECT_EQ(status_of(role), 404) << role;
  EXPECT_EQ(body_of(role)["error"]["message"], "unknown tenant 'ghost'");
  EXPECT_EQ(types_on(n.bus(), "tenancy.tenants"), before);  // nothing appended
  const auto start = std::chrono::steady_clock::now();
  auto reserved = as_admin(n, "POST", "/tenants/acme/reservations", R"({"kind":"concurrentRuns","amount":1})");
  EXPECT_EQ(status_of(reserved), 201) << reserved;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto role_ok = as_admin(n, "POST", "/tenants/acme/roles", R"({"name":"ops","permissions":["missions:read"]})");
  EXPECT_EQ(status_of(role_ok), 201) << role_ok;
}

// A reader that starts inside a partition (a gateway reading outcomes from the end, a mirror link
// resuming) infers the latest claim from the epochs it reads until it reads a claim. Before, the
// first epoch read was taken as the latest for good, so when that record was a deposed owner's,
// every later record of the current owner was judged stale (a mirror dropped them).
TEST(Fencing, ATrackerThatStartsInsideAPartitionInfersTheLatestClaimFromEpochs) {
  auto at = [](std::int64_t off, std::vector<bus::header> headers) {
    bus::message m;
    m.off = offset{off};
    m.headers = std::move(headers);
    return m;
  };
  auto epoch = [](std::int64_t e) { return bus::header{bus::kEpochHeader, std::to_string(e)}; };
  bus::fence_tracker t;
  // Claims at 3 and 7 are below where reading began (offset 10).
  EXPECT_EQ(t.judge(at(10, {epoch(3)})), bus::fence_verdict::current);  // a deposed owner's, unknowable yet
  EXPECT_EQ(t.judge(at(11, {})), bus::fence_verdict::plain);
  EXPECT_EQ(t.judge(at(12, {epoch(7)})), bus::fence_verdict::current);  // a newer claim: the latest now
  EXPECT_EQ(t.judge(at(13, {epoch(3)})), bus::fence_verdict::stale);
  EXPECT_EQ(t.judge(at(14, {epoch(7)})), bus::fence_verdict::current);
  EXPECT_EQ(t.judge(at(15, {epoch(15)})), bus::fence_verdict::stale);   // not an earlier offset
  EXPECT_EQ(t.judge(at(16, {{bus::kEpochHeader, "x"}})), bus::fence_verdict::stale);
  EXPECT_EQ(t.latest(), std::optional<std::int64_t>(7));
  // Once a claim is read, the rule is exact: only its epoch counts.
  EXPECT_EQ(t.judge(at(20, {{bus::kClaimHeader, "b"}})), bus::fence_verdict::claim);
  EXPECT_EQ(t.judge(at(21, {epoch(7)})), bus::fence_verdict::stale);
  EXPECT_EQ(t.judge(at(22, {epoch(20)})), bus::fence_verdict::current);
  EXPECT_EQ(t.judge(at(23, {epoch(21)})), bus::fence_verdict::stale);  // 21 is no claim
}

// The command gateway answers with the decision that counts. A deposed owner that still decides
// a command it polled appends an outcome after the new owner's claim; every read model refuses
// it and the new owner decides the command again. Before, the gateway answered with whichever
// outcome came first, so a caller could be told of a decision that was never applied.
TEST(Fencing, TheGatewayAnswersWithTheCurrentOwnersDecisionNotADeposedOnes) {
  test::temp_dir dir;
  auto bus = test::open_test_bus(dir.path() / "bus");
  const topic_name in{"gate.commands"}, out{"gate.outcomes"};
  ASSERT_TRUE(bus->create_topic(in, {1, -1, -1}));
  ASSERT_TRUE(bus->create_topic(out, {1, -1, -1}));
  auto put = [&](const std::string& what, std::optional<event::event_id> cause, std::vector<bus::header> headers) {
    event::new_event ev;
    ev.type = "test.decided";
    ev.payload_json = json{{"what", what}}.dump();
    ev.causation = cause;
    auto rec = event::to_record(event::build(ev).value());
    for (auto& h : headers) rec.headers.push_back(std::move(h));
    return bus->append(out, std::span<const bus::record>(&rec, 1)).value()[0].off.get();
  };
  // Two owners claimed before the gateway started: a at 0, then b at 1.
  const auto claim_a = put("claim", std::nullopt, {{bus::kClaimHeader, "a"}});
  const auto claim_b = put("claim", std::nullopt, {{bus::kClaimHeader, "b"}});
  command::gateway g(*bus);
  ASSERT_TRUE(g.start({out}));
  auto decide = [&](const std::string& id_hex, const std::function<void(event::event_id)>& owners) {
    auto id = event::event_id::parse(id_hex).value();
    event::new_event cmd;
    cmd.type = "test.requested";
    cmd.payload_json = "{}";
    cmd.id = id;
    std::thread t([&] {
      // The command is in the log before the owners answer it.
      ASSERT_TRUE(test::wait_until([&] {
        const auto cmds = test::read_topic(*bus, in.get());
        const auto* logged = cmds.empty() ? nullptr : cmds.back().find_header("nf-id");
        return logged && *logged == id.to_string();
      }));
      owners(id);
    });
    auto d = g.submit(in, cmd, 10s);
    t.join();
    return d ? event::payload_json(d->outcome_event).value()["what"].get<std::string>() : "error: " + d.error().message;
  };
  // b decides first: its epoch is the latest the gateway knows of; a's late outcome of the next
  // command is passed over for b's.
  EXPECT_EQ(decide("01900000-0000-7000-8000-00000000e001", [&](event::event_id id) { put("b first", id, {{bus::kEpochHeader, std::to_string(claim_b)}}); }),
            "b first");
  EXPECT_EQ(decide("01900000-0000-7000-8000-00000000e002",
                   [&](event::event_id id) {
                     put("a, deposed", id, {{bus::kEpochHeader, std::to_string(claim_a)}});
                     put("b", id, {{bus::kEpochHeader, std::to_string(claim_b)}});
                   }),
            "b");
  // A new claim read by the gateway: from then on only its epoch counts.
  const auto claim_c = put("claim", std::nullopt, {{bus::kClaimHeader, "c"}});
  EXPECT_EQ(decide("01900000-0000-7000-8000-00000000e003",
                   [&](event::event_id id) {
                     put("b, deposed", id, {{bus::kEpochHeader, std::to_string(claim_b)}});
                     put("c", id, {{bus::kEpochHeader, std::to_string(claim_c)}});
                   }),
            "c");
  // Outcomes without marks (an unfenced feature) are answers as before.
  EXPECT_EQ(decide("01900000-0000-7000-8000-00000000e004", [&](event::event_id id) { put("plain", id, {}); }), "plain");
  g.stop();
}
