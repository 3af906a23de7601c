// Projections: exactly-once effect across SIGKILL, atomic batches, and rebuild == live.
#include <signal.h>

#include <atomic>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "core/bus/embedded.h"
#include "tests/component/ledger_projection.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using namespace std::chrono_literals;

std::unique_ptr<bus::embedded_bus> open_bus(const std::string& path) {
  bus::embedded_options o;
  o.path = path;
  o.sync = false;
  o.retention_check_ms = 0;
  auto b = bus::open_embedded(o);
  EXPECT_TRUE(b) << (b ? "" : b.error().message);
  return b ? std::move(*b) : nullptr;
}

// Appends `n` events spread over 100 keys; each key's values are its sequence 0, 1, 2, ...
// Returns the reference fold.
std::map<std::string, test::account> append_ledger(bus::event_bus& b, int n, std::map<std::string, test::account> ref = {},
                                                   const std::string& topic = "ledger") {
  std::map<std::string, std::int64_t> seq;
  for (const auto& [k, a] : ref) seq[k] = a.last_seq + 1;
  std::vector<bus::record> batch;
  for (int i = 0; i < n; ++i) {
    const std::string key = "acct-" + std::to_string((i * 7919) % 100);
    const std::string value = std::to_string(seq[key]++);
    ref[key].fold(value, nullptr, key);
    batch.push_back({key, value, 0, {}, std::nullopt});
    if (batch.size() == 1000 || i == n - 1) {
      EXPECT_TRUE(b.append(topic_name{topic}, batch));
      batch.clear();
    }
  }
  return ref;
}

void expect_state_equals(projection::store& s, projection::projection& p, const std::map<std::string, test::account>& ref) {
  auto r = s.reader(p);
  ASSERT_TRUE(r);
  std::map<std::string, std::string> got;
  ASSERT_TRUE((*r)->scan("", [&](std::string_view k, std::string_view v) {
    got[std::string(k)] = std::string(v);
    return true;
  }));
  std::map<std::string, std::string> expected;
  for (const auto& [k, a] : ref) expected["acct/" + k] = a.encode();
  EXPECT_EQ(got, expected) << "state differs from the reference fold (violation/ keys mean a double apply or a skip)";
}

TEST(Projection, SurvivesTwentySigkillsWithoutDoubleApplyingOrSkipping) {
  test::temp_dir dir;
  const auto bus_dir = (dir.path() / "bus").string();
  const auto store_dir = (dir.path() / "store").string();
  constexpr int kEvents = 50'000;
  std::map<std::string, test::account> ref;
  {
    auto b = open_bus(bus_dir);
    ASSERT_TRUE(b->create_topic(topic_name{"ledger"}, {4, -1, -1}));
    ref = append_ledger(*b, kEvents);
  }
  std::mt19937 rng(20261129);
  std::vector<std::int64_t> targets;
  std::uniform_int_distribution<std::int64_t> pick(1, kEvents - 1);
  for (int i = 0; i < 20; ++i) targets.push_back(pick(rng));
  std::sort(targets.begin(), targets.end());
  int kills = 0;
  std::int64_t last_seen = 0;
  for (auto target : targets) {
    if (target <= last_seen) target = last_seen + 1;
    test::child c({NF_CRASH_CHILD, bus_dir, store_dir});
    std::string line;
    bool killed = false;
    while (c.read_line(line, 30s)) {
      if (line == "done") break;
      ASSERT_EQ(line.rfind("applied ", 0), 0u) << line;
      last_seen = std::stoll(line.substr(8));
      if (last_seen >= target) {
        c.signal(SIGKILL);
        killed = true;
        break;
      }
    }
    const int rc = c.wait(30s);
    if (killed) {
      EXPECT_EQ(rc, 128 + SIGKILL);
      ++kills;
    } else {
      ASSERT_EQ(rc, 0) << c.stderr_text();
      break;
    }
  }
  EXPECT_GE(kills, 15) << "the child finished too fast to be killed at most points";
  test::child last({NF_CRASH_CHILD, bus_dir, store_dir});
  std::string line;
  while (last.read_line(line, 60s) && line != "done") {
  }
  ASSERT_EQ(line, "done") << last.stderr_text();
  ASSERT_EQ(last.wait(30s), 0);

  auto s = projection::store::open({store_dir, false});
  ASSERT_TRUE(s) << s.error().message;
  test::ledger_projection p;
  ASSERT_TRUE((*s)->attach(p));
  expect_state_equals(**s, p, ref);
  auto applied = (*s)->last_applied(p);
  std::int64_t total = 0;
  for (const auto& [tp, off] : *applied) total += off.get();
  EXPECT_EQ(total, kEvents);
}

TEST(Projection, BatchIsAtomicAndRetriesAreHarmless) {
  test::temp_dir dir;
  auto b = open_bus((dir.path() / "bus").string());
  ASSERT_TRUE(b->create_topic(topic_name{"ledger"}, {1, -1, -1}));
  auto s = projection::store::open({(dir.path() / "store").string(), false});
  ASSERT_TRUE(s);
  test::ledger_projection p;
  ASSERT_TRUE((*s)->attach(p));
  auto mk = [](std::int64_t off, const std::string& key, const std::string& v) {
    return bus::message{topic_name{"ledger"}, partition_id{0}, offset{off}, 0, key, v, {}};
  };
  std::vector<bus::message> batch{mk(0, "a", "0"), mk(1, "a", "1"), mk(2, "b", "0")};
  ASSERT_EQ(*(*s)->apply(p, batch), 3u);
  const auto digest = *(*s)->digest(p);
  EXPECT_EQ(*(*s)->apply(p, batch), 0u) << "a retried batch must not apply again";
  EXPECT_EQ(*(*s)->digest(p), digest);
  std::vector<bus::message> bad{mk(3, "a", "2"), mk(4, "b", "poison")};
  auto r = (*s)->apply(p, bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("ledger/0@4"), std::string::npos) << r.error().message;
  EXPECT_EQ(*(*s)->digest(p), digest) << "a failed batch must leave no partial state";
  const topic_partition tp0{topic_name{"ledger"}, partition_id{0}};
  EXPECT_EQ((*s)->last_applied(p)->at(tp0).get(), 3);
}

TEST(Projection, ADigestReportsItsProgressAndIsTheSameWithoutIt) {
  test::temp_dir dir;
  auto s = projection::store::open({(dir.path() / "store").string(), false});
  ASSERT_TRUE(s);
  test::ledger_projection p;
  ASSERT_TRUE((*s)->attach(p));
  constexpr std::int64_t kKeys = 140'000;
  for (std::int64_t off = 0; off < kKeys;) {
    std::vector<bus::message> batch;
    for (int i = 0; i < 10'000; ++i, ++off)
      batch.push_back(bus::message{topic_name{"ledger"}, partition_id{0}, offset{off}, 0, "k" + std::to_string(off), "1", {}});
    ASSERT_TRUE((*s)->apply(p, batch));
  }
  std::vector<std::uint64_t> told;
  auto with = (*s)->digest(p, [&](std::uint64_t keys) { told.push_back(keys); });
  ASSERT_TRUE(with);
  // Every 65,536 keys of the state (its projection writes more than one key per event).
  std::uint64_t keys = 0;
  ASSERT_TRUE((*(*s)->reader(p))->scan("", [&](std::string_view, std::string_view) { return ++keys, true; }));
  std::vector<std::uint64_t> expected;
  for (std::uint64_t k = 65'536; k <= keys; k += 65'536) expected.push_back(k);
  ASSERT_GE(expected.size(), 2u);
  EXPECT_EQ(told, expected);
  EXPECT_EQ(*with, *(*s)->digest(p));
  EXPECT_EQ(with->size(), 64u);
}

TEST(Projection, GetManyReadsWhatTheReaderReadsAndRefusesReservedKeys) {
  test::temp_dir dir;
  auto s = projection::store::open({(dir.path() / "store").string(), false});
  ASSERT_TRUE(s);
  test::ledger_projection p;
  ASSERT_TRUE((*s)->attach(p));
  auto mk = [](std::int64_t off, const std::string& key, const std::string& v) {
    return bus::message{topic_name{"ledger"}, partition_id{0}, offset{off}, 0, key, v, {}};
  };
  std::vector<bus::message> batch{mk(0, "a", "5"), mk(1, "b", "7")};
  ASSERT_EQ(*(*s)->apply(p, batch), 2u);
  auto r = (*s)->reader(p);
  ASSERT_TRUE(r);
  const std::vector<std::string> keys{"acct/b", "acct/none", "acct/a"};
  auto got = (*s)->get_many(p, keys);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->size(), 3u);
  for (std::size_t i = 0; i < keys.size(); ++i) EXPECT_EQ((*got)[i], *(*r)->get(keys[i])) << keys[i];
  EXPECT_TRUE((*got)[0].has_value());
  EXPECT_FALSE((*got)[1].has_value());
  // The offsets the store keeps beside the state are not readable through it.
  const std::vector<std::string> reserved{std::string(projection::kReservedPrefix) + "offset/ledger/0"};
  EXPECT_FALSE((*s)->get_many(p, reserved));
  EXPECT_TRUE((*s)->get_many(p, std::span<const std::string>{})->empty());
}

TEST(Projection, RebuildEqualsLiveByteForByteAndQueriesUseTheOldStateMeanwhile) {
  test::temp_dir dir;
  auto b = open_bus((dir.path() / "bus").string());
  ASSERT_TRUE(b->create_topic(topic_name{"ledger"}, {3, -1, -1}));
  auto s = projection::store::open({(dir.path() / "store").string(), false});
  ASSERT_TRUE(s);
  test::ledger_projection p;
  projection::runner live(**s, p, *b, {64});
  std::map<std::string, test::account> ref;
  for (int round = 0; round < 5; ++round) {
    ref = append_ledger(*b, 4000, ref);
    ASSERT_TRUE(live.catch_up());
  }
  expect_state_equals(**s, p, ref);
  const auto live_digest = *(*s)->digest(p);

  bool checked_midway = false;
  auto rebuilt = (*s)->rebuild(p, *b, [&](const projection::rebuild_progress& prog) {
    if (!checked_midway && prog.applied >= prog.total / 2 && prog.applied < prog.total) {
      auto d = (*s)->digest(p);
      ASSERT_TRUE(d);
      EXPECT_EQ(*d, live_digest) << "queries during a rebuild must see the old, complete state";
      checked_midway = true;
    }
  });
  ASSERT_TRUE(rebuilt) << rebuilt.error().message;
  EXPECT_EQ(*rebuilt, 20'000u);
  EXPECT_TRUE(checked_midway);
  EXPECT_EQ(*(*s)->digest(p), live_digest);
  // The live runner keeps working on the new generation without re-applying anything.
  ref = append_ledger(*b, 500, ref);
  ASSERT_TRUE(live.catch_up());
  expect_state_equals(**s, p, ref);
  // And the swap survives a reopen.
  const auto after = *(*s)->digest(p);
  s->reset();
  auto again = projection::store::open({(dir.path() / "store").string(), false});
  ASSERT_TRUE(again);
  ASSERT_TRUE((*again)->attach(p));
  EXPECT_EQ(*(*again)->digest(p), after);
}

}  // namespace

namespace {

// A read model that counts the events it folds.
class counting_projection final : public nf::projection::projection {
 public:
  explicit counting_projection(std::string name) : name_(std::move(name)) {}
  std::string name() const override { return name_; }
  std::vector<std::string> topics() const override { return {"trickle"}; }
  result<void> apply(const bus::message&, nf::projection::state_writer& w) override { return w.put("seen", "1"); }

 private:
  std::string name_;
};

TEST(Projection, ALingeringFeedFoldsATrickleOfAppendsInFewBatches) {
  test::temp_dir dir;
  auto b = open_bus((dir.path() / "bus").string());
  ASSERT_TRUE(b->create_topic(topic_name{"trickle"}, {1, -1, -1}));
  auto s = projection::store::open({(dir.path() / "store").string(), false});
  ASSERT_TRUE(s);
  counting_projection eager("eager"), lingering("lingering");
  projection::feed eager_feed(**s, eager, *b);
  projection::feed lingering_feed(**s, lingering, *b, projection::runner_options{.linger = 400ms});
  std::atomic<int> eager_batches{0}, lingering_batches{0};
  eager_feed.on_applied([&] { ++eager_batches; });
  lingering_feed.on_applied([&] { ++lingering_batches; });
  ASSERT_TRUE(eager_feed.start());
  ASSERT_TRUE(lingering_feed.start());
  const int start_eager = eager_batches, start_lingering = lingering_batches;
  // 20 appends of one event, 10 ms apart: 200 ms, within one linger.
  offset last{0};
  for (int i = 0; i < 20; ++i) {
    bus::record r{"k", std::to_string(i), 0, {}, std::nullopt};
    auto at = b->append(topic_name{"trickle"}, std::span<const bus::record>(&r, 1));
    ASSERT_TRUE(at);
    last = at->front().off;
    std::this_thread::sleep_for(10ms);
  }
  const topic_partition tp{topic_name{"trickle"}, partition_id{0}};
  ASSERT_TRUE(eager_feed.wait_applied(tp, last, 10s));
  ASSERT_TRUE(lingering_feed.wait_applied(tp, last, 10s)) << "a lingering feed must still apply everything";
  EXPECT_GE(eager_batches - start_eager, 10) << "the eager feed should fold appends as they come";
  EXPECT_LE(lingering_batches - start_lingering, 3) << "the lingering feed should gather the trickle into few batches";
}

}  // namespace
