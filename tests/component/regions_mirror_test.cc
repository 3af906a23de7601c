// Replication between regions on real buses (embedded in temp dirs, librdkafka's mock cluster):
// every event copied once with its id, key, partition, timestamp and headers; a link restarted
// at any point resumes after what the target holds; active-active with identical topic names
// copies each event once each way; an event reaching a region over two paths is copied once;
// a consumer group's positions translate exactly; bad links are refused by name.
#include <map>
#include <random>
#include <sstream>
#include <set>

#include <gtest/gtest.h>

#include "core/bus/fence.h"

#include "actors/regions/ledger_check.h"
#include "actors/regions/replicator.h"
#include "ledger.pb.h"
#include "core/bus/kafka.h"
#include "core/event/codec.h"
#include "tests/support/embedded_bus.h"
#include "tests/support/support.h"

namespace {

using namespace std::chrono_literals;
namespace t = nf::test;
using nf::regions::link_options;
using nf::regions::replicator;
using nf::regions::target_guard;

const nf::topic_name kTopic{"mission.lifecycle"};

// `n` events of region `region` appended to `b`, keys k0..k9, each with a header of its own.
std::vector<std::string> write_events(nf::bus::event_bus& b, const std::string& region, int n, int from = 0) {
  std::vector<std::string> ids;
  std::vector<nf::bus::record> recs;
  for (int i = from; i < from + n; ++i) {
    nf::event::new_event ev;
    ev.type = "app.thing";
    ev.key = "k" + std::to_string(i % 10);
    ev.tenant = "acme";
    ev.region = region;
    ev.occurred_at = 1'700'000'000'000 + i;
    ev.payload_json = R"({"i":)" + std::to_string(i) + "}";
    auto env = nf::event::build(ev);
    EXPECT_TRUE(env) << env.error().message;
    auto rec = nf::event::to_record(*env);
    rec.timestamp_ms = 1'700'000'000'000 + i;
    rec.headers.push_back({"app-trace", region + "-" + std::to_string(i)});
    for (const auto& h : rec.headers)
      if (h.name == "nf-id") ids.push_back(h.value);
    recs.push_back(std::move(rec));
  }
  EXPECT_TRUE(b.append(kTopic, std::span<const nf::bus::record>(recs.data(), recs.size())));
  return ids;
}

// Event ids per partition, in log order.
std::map<std::int32_t, std::vector<std::string>> ids_by_partition(nf::bus::event_bus& b) {
  std::map<std::int32_t, std::vector<std::string>> out;
  for (const auto& m : t::read_topic(b, kTopic.get())) out[m.partition.get()].push_back(*m.find_header("nf-id"));
  return out;
}

// Steps a link until it reads nothing more.
std::size_t drain(replicator& r) {
  std::size_t total = 0;
  for (;;) {
    auto n = r.step(50ms);
    EXPECT_TRUE(n) << n.error().message;
    if (!n || *n == 0) return total;
    total += *n;
  }
}

class Mirror : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"a", "b", "c"}) {
      buses_[name] = t::open_test_bus(dir_.path() / name);
    }
    ASSERT_TRUE(bus("a").create_topic(kTopic, {.partitions = 3}));
  }
  nf::bus::event_bus& bus(const std::string& name) { return *buses_.at(name); }
  t::temp_dir dir_;
  std::map<std::string, std::unique_ptr<nf::bus::embedded_bus>> buses_;
};

TEST_F(Mirror, EveryEventIsCopiedOnceWithItsIdKeyPartitionTimestampAndHeaders) {
  write_events(bus("a"), "a", 3000);
  target_guard g(bus("b"));
  replicator r(bus("a"), g, link_options{"a", "b", {"mission.*"}, 500});
  ASSERT_TRUE(r.prepare());
  EXPECT_EQ(drain(r), 3000u);
  auto src = t::read_topic(bus("a"), kTopic.get());
  auto dst = t::read_topic(bus("b"), kTopic.get());
  ASSERT_EQ(src.size(), dst.size());
  EXPECT_EQ(bus("b").describe_topic(kTopic)->config.partitions, 3);
  for (std::size_t i = 0; i < src.size(); ++i) {
    const auto& s = src[i];
    const auto& d = dst[i];
    ASSERT_EQ(s.partition, d.partition);
    EXPECT_EQ(s.off, d.off);  // nothing else in the target: the same offsets
    EXPECT_EQ(s.key, d.key);
    EXPECT_EQ(s.value, d.value);  // the envelope, with its id and origin_region, byte for byte
    EXPECT_EQ(s.timestamp_ms, d.timestamp_ms);
    for (const auto& h : s.headers) EXPECT_EQ(*d.find_header(h.name), h.value) << h.name;
    EXPECT_EQ(*d.find_header("nf-mirror"), "a " + std::to_string(s.off.get()));
    EXPECT_EQ(*d.find_header("nf-origin"), "a " + std::to_string(s.off.get()));
  }
  auto lag = r.lag();
  ASSERT_TRUE(lag);
  for (const auto& p : *lag) EXPECT_EQ(p.lag_events(), 0);
}

// Single-writer fencing is by the source partition's offsets: the link judges it there. Owner
// claims are not copied, a deposed owner's late write is not copied, and what is copied carries
// no epoch (it would name an offset of the source, meaningless in the target).
TEST_F(Mirror, ALinkCopiesNeitherOwnerClaimsNorADeposedOwnersWrites) {
  const nf::topic_partition tp{kTopic, nf::partition_id{0}};
  auto one = [&](const std::string& name, const std::vector<nf::bus::header>& extra) {
    nf::event::new_event ev;
    ev.type = "app.thing";
    ev.key = name;
    ev.region = "a";
    ev.payload_json = R"({"n":")" + name + R"("})";
    auto rec = nf::event::to_record(nf::event::build(ev).value());
    rec.partition = tp.partition;
    for (const auto& h : extra) rec.headers.push_back(h);
    auto at = bus("a").append(kTopic, std::span<const nf::bus::record>(&rec, 1));
    EXPECT_TRUE(at);
    return at ? at->at(0).off.get() : -1;
  };
  const auto first = one("claim-1", {{nf::bus::kClaimHeader, "i1"}});
  one("w1", {{nf::bus::kEpochHeader, std::to_string(first)}});
  one("plain", {});
  const auto second = one("claim-2", {{nf::bus::kClaimHeader, "i2"}});
  one("late-from-i1", {{nf::bus::kEpochHeader, std::to_string(first)}});
  one("w2", {{nf::bus::kEpochHeader, std::to_string(second)}});
  target_guard g(bus("b"));
  replicator r(bus("a"), g, link_options{"a", "b", {"mission.*"}, 100});
  ASSERT_TRUE(r.prepare());
  drain(r);
  std::vector<std::string> keys;
  for (const auto& m : t::read_topic(bus("b"), kTopic.get())) {
    keys.push_back(m.key);
    EXPECT_EQ(m.find_header(nf::bus::kEpochHeader), nullptr) << m.key;
    EXPECT_EQ(m.find_header(nf::bus::kClaimHeader), nullptr) << m.key;
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"w1", "plain", "w2"}));
  auto lag = r.lag();
  ASSERT_TRUE(lag);
  std::int64_t fenced = 0;
  for (const auto& p : *lag) fenced += p.skipped_fence;
  EXPECT_EQ(fenced, 3);
  // A recovery copies the partition whole, marks included: the peer's log offset for offset.
  target_guard gc(bus("c"));
  replicator whole(bus("a"), gc, link_options{"a", "c", {"mission.*"}, 100, true});
  ASSERT_TRUE(whole.prepare());
  drain(whole);
  EXPECT_EQ(t::read_topic(bus("c"), kTopic.get()).size(), 6u);
}

TEST_F(Mirror, ALinkRestartedAtAnyPointResumesAfterWhatTheTargetHolds) {
  write_events(bus("a"), "a", 2000);
  std::mt19937 rng(7);
  target_guard g(bus("b"));
  int restarts = 0;
  for (bool done = false; !done;) {
    // A new link (as after a crash): it knows only what the target holds.
    target_guard fresh(bus("b"));
    replicator r(bus("a"), fresh, link_options{"a", "b", {"mission.lifecycle"}, 1 + rng() % 300});
    ASSERT_TRUE(r.prepare());
    const int steps = 1 + static_cast<int>(rng() % 3);
    for (int s = 0; s < steps; ++s) {
      auto n = r.step(50ms);
      ASSERT_TRUE(n);
      if (*n == 0) done = true;
    }
    if (restarts++ % 4 == 0) write_events(bus("a"), "a", 100, 10'000 + restarts * 100);  // the source goes on meanwhile
  }
  EXPECT_GT(restarts, 5);
  EXPECT_EQ(ids_by_partition(bus("b")), ids_by_partition(bus("a")));
}

TEST_F(Mirror, ActiveActiveWithTheSameTopicNamesCopiesEachEventOnceEachWay) {
  ASSERT_TRUE(bus("b").create_topic(kTopic, {.partitions = 3}));
  target_guard into_a(bus("a")), into_b(bus("b"));
  replicator ab(bus("a"), into_b, link_options{"a", "b", {"mission.*"}, 100});
  replicator ba(bus("b"), into_a, link_options{"b", "a", {"mission.*"}, 100});
  ASSERT_TRUE(ab.prepare());
  ASSERT_TRUE(ba.prepare());
  std::set<std::string> all;
  for (int round = 0; round < 5; ++round) {
    for (auto& id : write_events(bus("a"), "a", 200, round * 1000)) all.insert(id);
    for (auto& id : write_events(bus("b"), "b", 150, round * 1000 + 500)) all.insert(id);
    drain(ab);
    drain(ba);
  }
  // Both directions again: whatever crossed once is never sent back.
  drain(ab);
  drain(ba);
  for (const char* name : {"a", "b"}) {
    std::multiset<std::string> ids;
    for (const auto& [p, v] : ids_by_partition(bus(name))) ids.insert(v.begin(), v.end());
    EXPECT_EQ(ids.size(), all.size()) << name;
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), all) << name;
  }
  auto lag = ab.lag();
  std::int64_t loops = 0;
  for (const auto& p : *lag) loops += p.skipped_loop;
  EXPECT_EQ(loops, 5 * 150);  // b's own events, which a had from b, were not sent back
}

TEST_F(Mirror, AnEventReachingARegionOverTwoPathsIsCopiedOnce) {
  target_guard into_b(bus("b")), into_c(bus("c"));
  replicator ab(bus("a"), into_b, link_options{"a", "b", {"mission.*"}, 64});
  replicator bc(bus("b"), into_c, link_options{"b", "c", {"mission.*"}, 64});
  replicator ac(bus("a"), into_c, link_options{"a", "c", {"mission.*"}, 64});
  write_events(bus("a"), "a", 500);
  ASSERT_TRUE(ab.prepare());
  drain(ab);
  ASSERT_TRUE(bc.prepare());
  ASSERT_TRUE(ac.prepare());
  // Interleaved: some of a's events reach c through b first, the rest directly.
  for (int i = 0; i < 20; ++i) {
    (void)bc.step(10ms);
    (void)ac.step(10ms);
  }
  write_events(bus("a"), "a", 300, 5000);
  drain(ab);
  drain(ac);
  drain(bc);
  EXPECT_EQ(ids_by_partition(bus("c")), ids_by_partition(bus("a")));
}

TEST_F(Mirror, BadLinksAreRefusedByName) {
  target_guard g(bus("b"));
  {
    replicator r(bus("a"), g, link_options{"a", "a", {"mission.*"}});
    auto p = r.prepare();
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message.find("to itself"), std::string::npos) << p.error().message;
  }
  {
    replicator r(bus("a"), g, link_options{"a", "b", {"mission.*", "orders.*"}});
    auto p = r.prepare();
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message.find("'orders.*' matches no topic of region a"), std::string::npos) << p.error().message;
  }
  {
    ASSERT_TRUE(bus("c").create_topic(kTopic, {.partitions = 2}));
    target_guard gc(bus("c"));
    replicator r(bus("a"), gc, link_options{"a", "c", {"mission.*"}});
    auto p = r.prepare();
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().message.find("has 2 partitions in region c and 3 in a"), std::string::npos) << p.error().message;
  }
  EXPECT_TRUE(t::read_topic(bus("b"), kTopic.get()).empty());
}

TEST_F(Mirror, ASourceThatIsNotTheLogTheTargetCameFromIsRefused) {
  write_events(bus("a"), "a", 300);
  {
    target_guard g(bus("b"));
    replicator r(bus("a"), g, link_options{"a", "b", {"mission.*"}});
    ASSERT_TRUE(r.prepare());
    drain(r);
  }
  // Region a is replaced by a fresh log (a reset, an older backup): it ends before what b copied.
  buses_["a"].reset();
  std::filesystem::remove_all(dir_.path() / "a");
  buses_["a"] = t::open_test_bus(dir_.path() / "a");
  ASSERT_TRUE(bus("a").create_topic(kTopic, {.partitions = 3}));
  write_events(bus("a"), "a", 30, 50'000);
  target_guard g(bus("b"));
  replicator r(bus("a"), g, link_options{"a", "b", {"mission.*"}});
  auto p = r.prepare();
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, nf::errc::corruption);
  EXPECT_NE(p.error().message.find("the source is not the log they came from"), std::string::npos) << p.error().message;
  EXPECT_EQ(t::read_topic(bus("b"), kTopic.get()).size(), 300u);  // nothing copied, nothing lost
}

// A damaged checkpoint: the last copy in a target partition has an unreadable nf-mirror header.
// The link resumes from the copy before it and reads that record again, and the origin watermark
// (its nf-origin) knows the target has it: nothing is copied twice, and nothing is lost.
TEST_F(Mirror, ACorruptCheckpointHeaderNeitherDuplicatesNorLoses) {
  write_events(bus("a"), "a", 30);
  const nf::topic_partition p0{kTopic, nf::partition_id{0}};
  const auto source = t::read_topic(bus("a"), kTopic.get());
  std::vector<nf::bus::message> in_p0;
  for (const auto& m : source)
    if (m.partition == p0.partition) in_p0.push_back(m);
  ASSERT_GE(in_p0.size(), 3u);
  {
    // Copy all of partition 0 but its last record by hand, as a link would, then the last one with
    // a damaged nf-mirror.
    ASSERT_TRUE(bus("b").create_topic(kTopic, {.partitions = 3}));
    std::vector<nf::bus::record> recs;
    for (std::size_t i = 0; i < in_p0.size(); ++i) {
      const auto& m = in_p0[i];
      nf::bus::record r{m.key, m.value, m.timestamp_ms, m.headers, m.partition};
      const auto off = std::to_string(m.off.get());
      r.headers.push_back({"nf-mirror", i + 1 == in_p0.size() ? "a \x01garbage" : "a " + off});
      r.headers.push_back({"nf-origin", "a " + off});
      recs.push_back(std::move(r));
    }
    ASSERT_TRUE(bus("b").append(kTopic, std::span<const nf::bus::record>(recs.data(), recs.size())));
  }
  write_events(bus("a"), "a", 30, 100);
  target_guard g(bus("b"));
  replicator r(bus("a"), g, link_options{"a", "b", {"mission.*"}});
  ASSERT_TRUE(r.prepare());
  drain(r);
  EXPECT_EQ(ids_by_partition(bus("b")), ids_by_partition(bus("a")));
  auto lag = r.lag();
  ASSERT_TRUE(lag);
  std::int64_t seen = 0;
  for (const auto& p : *lag) seen += p.skipped_seen;
  EXPECT_EQ(seen, 1) << "the record under the damaged header was read again and known";
}

TEST_F(Mirror, AGroupsCommittedPositionsTranslateToTheFirstEventItHadNotRead) {
  auto ids = write_events(bus("a"), "a", 1200);
  // The target has events of its own too (written before and between the copies).
  ASSERT_TRUE(bus("b").create_topic(kTopic, {.partitions = 3}));
  write_events(bus("b"), "b", 40, 90'000);
  target_guard g(bus("b"));
  replicator r(bus("a"), g, link_options{"a", "b", {"mission.*"}, 97});
  ASSERT_TRUE(r.prepare());
  (void)r.step(10ms);
  write_events(bus("b"), "b", 40, 91'000);
  drain(r);
  std::mt19937 rng(11);
  for (int trial = 0; trial < 5; ++trial) {
    // The group committed somewhere random in each partition of a.
    const std::string group = "billing-" + std::to_string(trial);
    auto c = bus("a").make_consumer({.group = group, .subscriptions = {}});
    ASSERT_TRUE(c);
    std::vector<std::pair<nf::topic_partition, nf::offset>> at;
    for (std::int32_t p = 0; p < 3; ++p) {
      const nf::topic_partition tp{kTopic, nf::partition_id{p}};
      at.emplace_back(tp, nf::offset{static_cast<std::int64_t>(rng() % (bus("a").end_offset(tp)->get() + 1))});
    }
    ASSERT_TRUE((*c)->commit(at));
    auto tr = nf::regions::translate(bus("a"), bus("b"), group, "a", {"mission.*"});
    ASSERT_TRUE(tr) << tr.error().message;
    ASSERT_EQ(tr->size(), 3u);
    for (const auto& x : *tr) {
      // What the group had not read in a, in order...
      std::vector<std::string> unread_a;
      for (const auto& m : t::read_topic(bus("a"), kTopic.get()))
        if (m.partition == x.tp.partition && m.off.get() >= x.source) unread_a.push_back(*m.find_header("nf-id"));
      // ...is exactly what a consumer of b reads from the translated position, leaving out b's own.
      std::vector<std::string> read_b;
      for (const auto& m : t::read_topic(bus("b"), kTopic.get()))
        if (m.partition == x.tp.partition && m.off.get() >= x.target && m.find_header("nf-mirror")) read_b.push_back(*m.find_header("nf-id"));
      EXPECT_EQ(read_b, unread_a) << "partition " << x.tp.partition.get() << " committed " << x.source << " -> " << x.target;
    }
  }
}

// Ledger records as the evidence feature writes them on evidence.ledger.
void ledger_records(nf::bus::event_bus& b, int from, int n, std::optional<nf::merkle::hash> head_root = std::nullopt) {
  std::vector<nf::bus::record> recs;
  for (int i = from; i < from + n; ++i) {
    nf::events::LedgerLeaf leaf;
    leaf.set_index(static_cast<std::uint64_t>(i));
    leaf.set_data("leaf-" + std::to_string(i));
    nf::event::new_event ev;
    ev.type = "evidence.leaf_appended";
    ev.key = "ledger";
    ev.region = "a";
    recs.push_back(nf::event::to_record(nf::event::build(ev, leaf).value()));
  }
  if (head_root) {
    nf::events::TreeHead th;
    th.set_tree_size(static_cast<std::uint64_t>(from + n));
    th.set_root_hash(std::string(head_root->begin(), head_root->end()));
    nf::event::new_event ev;
    ev.type = "evidence.tree_head";
    ev.key = "ledger";
    recs.push_back(nf::event::to_record(nf::event::build(ev, th).value()));
  }
  ASSERT_TRUE(b.append(nf::topic_name{"evidence.ledger"}, std::span<const nf::bus::record>(recs.data(), recs.size())));
}

TEST_F(Mirror, ALedgerExtendsAHeadOnlyWithEveryLeafAndTheSameRoot) {
  for (const char* n : {"a", "b"}) ASSERT_TRUE(bus(n).create_topic(nf::topic_name{"evidence.ledger"}, {.partitions = 1}));
  nf::merkle::memory_tree tree;
  for (int i = 0; i < 5; ++i) tree.append("leaf-" + std::to_string(i));
  const auto root5 = *nf::merkle::root(tree, 5);
  ledger_records(bus("a"), 0, 5, root5);
  auto head = nf::regions::last_tree_head(bus("a"));
  ASSERT_TRUE(head && *head);
  EXPECT_EQ((*head)->size, 5u);
  EXPECT_EQ((*head)->root, root5);
  // b has three of the five leaves: behind, naming them.
  ledger_records(bus("b"), 0, 3);
  auto behind = nf::regions::prove_extends(bus("b"), **head, "b", "a");
  ASSERT_FALSE(behind);
  EXPECT_EQ(behind.error().code, nf::errc::conflict);
  EXPECT_NE(behind.error().message.find("leaves 3 to 4 are missing"), std::string::npos) << behind.error().message;
  // ...then all five and two more (and a leaf written twice): extends, with a proof that verifies.
  ledger_records(bus("b"), 3, 4);
  ledger_records(bus("b"), 6, 1);
  auto ext = nf::regions::prove_extends(bus("b"), **head, "b", "a");
  ASSERT_TRUE(ext) << ext.error().message;
  EXPECT_EQ(ext->size, 7u);
  for (int i = 5; i < 7; ++i) tree.append("leaf-" + std::to_string(i));
  EXPECT_EQ(ext->root, *nf::merkle::root(tree, 7));
  EXPECT_TRUE(nf::merkle::verify_consistency(5, 7, root5, ext->root, ext->proof));
  // A head whose root the leaves do not give: the ledgers differ.
  auto wrong = **head;
  wrong.root[0] ^= 1;
  auto diverged = nf::regions::prove_extends(bus("b"), wrong, "b", "a");
  ASSERT_FALSE(diverged);
  EXPECT_EQ(diverged.error().code, nf::errc::corruption);
  EXPECT_NE(diverged.error().message.find("the ledgers differ"), std::string::npos) << diverged.error().message;
}

TEST(MirrorKafka, FromKafkaToEmbeddedAndBack) {
  auto mc = nf::bus::kafka_mock_cluster::start(1);
  ASSERT_TRUE(mc) << mc.error().message;
  ASSERT_TRUE((*mc)->create_topic(kTopic.get(), 3));
  nf::bus::kafka_options ko;
  ko.bootstrap_servers = (*mc)->bootstrap_servers();
  ko.fetch_wait_ms = 10;
  ko.mock = mc->get();
  auto kafka = nf::bus::open_kafka(ko);
  ASSERT_TRUE(kafka) << kafka.error().message;
  t::temp_dir dir;
  auto emb = t::open_test_bus(dir.path() / "e");
  auto ids = write_events(**kafka, "k", 600);
  target_guard into_e(*emb);
  replicator ke(**kafka, into_e, link_options{"k", "e", {"mission.*"}, 200});
  ASSERT_TRUE(ke.prepare());
  ASSERT_TRUE(t::wait_until([&] {
    drain(ke);
    return t::read_topic(*emb, kTopic.get()).size() == 600;
  }, 30s));
  // Writes in the embedded region go back to Kafka; Kafka's own are not sent back.
  write_events(*emb, "e", 90, 7000);
  target_guard into_k(**kafka);
  replicator ek(*emb, into_k, link_options{"e", "k", {"mission.*"}, 200});
  ASSERT_TRUE(ek.prepare());
  drain(ek);
  ASSERT_TRUE(t::wait_until([&] { return t::read_topic(**kafka, kTopic.get()).size() == 690; }, 30s)) << t::read_topic(**kafka, kTopic.get()).size();
  EXPECT_EQ(ids_by_partition(**kafka), ids_by_partition(*emb));
  // An independent client sees the copies as any Kafka record: kcat reads the 90 events copied
  // from the embedded region on their partitions, with both link headers and the event's own.
  auto r = t::run({"/usr/bin/kcat", "-C", "-b", (*mc)->bootstrap_servers(), "-t", kTopic.get(), "-e", "-q", "-f", "%p|%h\n"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  int copied = 0, total = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++total;
    if (line.find("nf-mirror=e ") == std::string::npos) continue;
    ++copied;
    EXPECT_NE(line.find("nf-origin=e "), std::string::npos) << line;
    EXPECT_NE(line.find("nf-id="), std::string::npos) << line;
    EXPECT_NE(line.find("app-trace=e-"), std::string::npos) << line;
  }
  EXPECT_EQ(total, 690);
  EXPECT_EQ(copied, 90);
}

}  // namespace
