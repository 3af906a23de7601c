// The embedded bus's cleaner for compacted topics: it keeps every key's latest record at its
// offset, removes tombstones after their delete retention (never a partition's last record),
// survives a reopen, leaves key versions and verify() intact, and readers, groups and timestamp
// lookups step over the gaps it leaves. Its map is bounded: a topic of more keys is cleaned over
// several passes.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "core/base/clock.h"
#include "core/bus/embedded.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using namespace std::chrono_literals;

std::unique_ptr<bus::embedded_bus> open_bus(const std::string& path, const nf::clock* clk = nullptr, std::size_t max_keys = 1'000'000) {
  bus::embedded_options o;
  o.path = path;
  o.compaction_max_keys = max_keys;
  o.sync = false;
  o.clock = clk;
  o.retention_check_ms = 0;
  auto b = bus::open_embedded(o);
  EXPECT_TRUE(b) << (b ? "" : b.error().message);
  return b ? std::move(*b) : nullptr;
}

// Everything a fresh reader gets from `from` to the partition's end.
std::vector<bus::message> read_all(bus::event_bus& b, const topic_partition& tp, std::int64_t from = 0) {
  std::vector<bus::message> out;
  auto c = b.make_consumer({});
  EXPECT_TRUE(c && (*c)->assign({{tp, offset{from}}}));
  const auto end = b.end_offset(tp).value().get();
  test::wait_until([&] {
    auto got = (*c)->poll(100ms, 1000);
    if (got)
      for (auto& m : *got) out.push_back(std::move(m));
    return !out.empty() && out.back().off.get() == end - 1;
  }, 10s);
  return out;
}

const topic_partition kTp{topic_name{"dir"}, partition_id{0}};

TEST(Compaction, EveryKeysLatestRecordStaysAtItsOffsetAcrossAReopenWithVersionsAndVerifyIntact) {
  test::temp_dir dir;
  std::map<std::string, std::pair<std::int64_t, std::string>> latest;  // key -> offset, value
  {
    auto b = open_bus(dir.str());
    ASSERT_TRUE(b->create_topic(kTp.topic, {.partitions = 1, .key_versions = true, .compact = true}));
    for (int i = 0; i < 1000; ++i) {
      const auto key = "tenant-" + std::to_string(i % 10);
      std::vector<bus::record> r{{.key = key, .value = "v" + std::to_string(i)}};
      auto placed = b->append(kTp.topic, r);
      ASSERT_TRUE(placed);
      latest[key] = {(*placed)[0].off.get(), "v" + std::to_string(i)};
    }
    auto removed = b->compact();
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_EQ(*removed, 990u);
    EXPECT_EQ(b->compact().value(), 0u) << "nothing left to remove";
    auto v = b->verify();
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->problems.empty()) << v->problems.front();
    EXPECT_EQ(v->records, 10u);
  }
  auto b = open_bus(dir.str());
  EXPECT_EQ(b->begin_offset(kTp)->get(), 0);
  EXPECT_EQ(b->end_offset(kTp)->get(), 1000);
  auto msgs = read_all(*b, kTp);
  ASSERT_EQ(msgs.size(), 10u);
  for (const auto& m : msgs) {
    EXPECT_EQ(m.off.get(), latest[m.key].first) << m.key;
    EXPECT_EQ(m.value, latest[m.key].second) << m.key;
  }
  // Versions count every record ever appended, compacted or not: tenant-3 has 100.
  std::vector<bus::record> stale{{.key = "tenant-3", .value = "x", .expected_version = 99}};
  auto refused = b->append(kTp.topic, stale);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::wrong_expected_version);
  std::vector<bus::record> current{{.key = "tenant-3", .value = "x", .expected_version = 100}};
  auto accepted = b->append(kTp.topic, current);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ((*accepted)[0].version, 101);
}

TEST(Compaction, ATombstoneHidesItsKeyAndIsRemovedOnceOlderThanTheDeleteRetention) {
  test::temp_dir dir;
  manual_clock clk;
  auto b = open_bus(dir.str(), &clk);
  ASSERT_TRUE(b->create_topic(kTp.topic, {.partitions = 1, .compact = true, .delete_retention_ms = 60'000}));
  std::vector<bus::record> recs{{.key = "a", .value = "1"}, {.key = "b", .value = "1"}, {.key = "a", .value = ""}, {.key = "c", .value = "1"}};
  ASSERT_TRUE(b->append(kTp.topic, recs));
  EXPECT_EQ(b->compact().value(), 1u) << "a@0 is superseded by its tombstone";
  auto msgs = read_all(*b, kTp);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[1].off.get(), 2);
  EXPECT_EQ(msgs[1].value, "") << "the tombstone is still there within its delete retention";
  clk.advance(59s);
  EXPECT_EQ(b->compact().value(), 0u);
  clk.advance(2s);
  EXPECT_EQ(b->compact().value(), 1u) << "the tombstone is past its delete retention";
  msgs = read_all(*b, kTp);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].key, "b");
  EXPECT_EQ(msgs[1].key, "c");
  // A tombstone that is the partition's last record stays, so readers waiting for the end get it.
  std::vector<bus::record> last{{.key = "c", .value = ""}};
  ASSERT_TRUE(b->append(kTp.topic, last));
  clk.advance(120s);
  EXPECT_EQ(b->compact().value(), 1u) << "c@3 goes; its tombstone at the end stays";
  msgs = read_all(*b, kTp);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs.back().off.get(), 4);
  EXPECT_EQ(msgs.back().value, "");
}

TEST(Compaction, ReadersGroupsAndTimestampLookupsStepOverTheGaps) {
  test::temp_dir dir;
  manual_clock clk;
  auto b = open_bus(dir.str(), &clk);
  ASSERT_TRUE(b->create_topic(kTp.topic, {.partitions = 1, .compact = true}));
  // Offsets 0..99 on key "k" (all but 99 go), then "x"@100 and "y"@101.
  for (int i = 0; i < 100; ++i) {
    std::vector<bus::record> r{{.key = "k", .value = std::to_string(i)}};
    ASSERT_TRUE(b->append(kTp.topic, r));
    clk.advance(1s);
  }
  std::vector<bus::record> tail{{.key = "x", .value = "x"}, {.key = "y", .value = "y"}};
  ASSERT_TRUE(b->append(kTp.topic, tail));
  EXPECT_EQ(b->compact().value(), 99u);

  // A reader placed inside the gap reads on from the next record there is.
  auto msgs = read_all(*b, kTp, 40);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[0].off.get(), 99);
  // A poll whose whole range the cleaner emptied still moves the position on.
  auto c = b->make_consumer({});
  ASSERT_TRUE(c && (*c)->assign({{kTp, offset{10}}}));
  auto first = (*c)->poll(1s, 1);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].off.get(), 99);

  // A group that committed an offset inside the gap resumes at the next record.
  auto g = b->make_consumer({.group = "readers", .subscriptions = {"dir"}});
  ASSERT_TRUE(g);
  ASSERT_TRUE((*g)->commit({{kTp, offset{50}}}));
  std::vector<bus::message> got;
  ASSERT_TRUE(test::wait_until([&] {
    auto m = (*g)->poll(100ms, 10);
    if (m)
      for (auto& x : *m) got.push_back(std::move(x));
    return got.size() >= 3;
  }));
  EXPECT_EQ(got.front().off.get(), 99);

  // Timestamps: k@i was appended at start + i s; everything before 99 is gone.
  const std::int64_t start = clk.now_ms() - 100'000;
  EXPECT_EQ(b->offset_for_time(kTp, start + 50'000)->get(), 99) << "the first record there is at or after the time: k@99";
  auto from = read_all(*b, kTp, b->offset_for_time(kTp, start + 50'000)->get());
  ASSERT_FALSE(from.empty());
  EXPECT_EQ(from.front().off.get(), 99);
  EXPECT_EQ(b->offset_for_time(kTp, start + 99'500)->get(), 100);
  EXPECT_EQ(b->offset_for_time(kTp, clk.now_ms() + 1)->get(), 102);
}

TEST(Compaction, AMapOfBoundedSizeCleansATopicOfManyKeysOverSeveralPassesAndNeverBringsAKeyBack) {
  test::temp_dir dir;
  manual_clock clk;
  auto b = open_bus(dir.str(), &clk, 8);  // a pass maps at most 8 keys
  ASSERT_TRUE(b->create_topic(kTp.topic, {.partitions = 1, .compact = true, .delete_retention_ms = 1'000}));
  // 40 keys written 5 times each, round-robin; then tombstones for the first 10 keys and a last record.
  std::map<std::string, std::string> expected;
  for (int round = 0; round < 5; ++round)
    for (int k = 0; k < 40; ++k) {
      const auto key = "k" + std::to_string(k);
      std::vector<bus::record> r{{.key = key, .value = std::to_string(round)}};
      ASSERT_TRUE(b->append(kTp.topic, r));
      expected[key] = std::to_string(round);
    }
  for (int k = 0; k < 10; ++k) {
    std::vector<bus::record> r{{.key = "k" + std::to_string(k), .value = ""}};
    ASSERT_TRUE(b->append(kTp.topic, r));
    expected.erase("k" + std::to_string(k));
  }
  std::vector<bus::record> last{{.key = "end", .value = "1"}};
  ASSERT_TRUE(b->append(kTp.topic, last));
  expected["end"] = "1";
  clk.advance(5s);  // every tombstone is past its delete retention

  // The state read from the start is the same after every pass (no key comes back), and
  // after enough passes only every live key's latest record is left (and the last record).
  auto fold = [&] {
    std::map<std::string, std::string> seen;
    for (const auto& m : read_all(*b, kTp)) {
      if (m.value.empty()) seen.erase(m.key);
      else seen[m.key] = m.value;
    }
    return seen;
  };
  std::uint64_t total = 0;
  int passes = 0;
  for (; passes < 40; ++passes) {
    auto n = b->compact();
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(fold(), expected) << "after pass " << passes;
    total += *n;
    if (read_all(*b, kTp).size() == 31u && *n == 0) break;
  }
  EXPECT_GT(passes, 3) << "one pass cannot map 41 keys";
  EXPECT_EQ(read_all(*b, kTp).size(), 31u) << "30 live keys and the last record";
  EXPECT_EQ(total, 211u - 31u);
}

TEST(Compaction, ASigkillInTheMiddleOfAPassLeavesALogThatReadsTheSame) {
  test::temp_dir dir;
  std::map<std::string, std::string> expected;
  {
    auto b = open_bus(dir.str());
    ASSERT_TRUE(b->create_topic(kTp.topic, {.partitions = 1, .compact = true, .delete_retention_ms = 0}));
    std::vector<bus::record> batch;
    for (int i = 0; i < 200'000; ++i) {
      const auto key = "k" + std::to_string(i % 5'000);
      // Every 7th write of a key deletes it (a tombstone, past its retention at once).
      const std::string value = i % 7 == 3 ? "" : std::to_string(i);
      batch.push_back({.key = key, .value = value});
      if (value.empty()) expected.erase(key);
      else expected[key] = value;
      if (batch.size() == 1000) {
        ASSERT_TRUE(b->append(kTp.topic, batch));
        batch.clear();
      }
    }
  }
  // A child runs the cleaner on the store and is killed 150 ms in: here that lands in the middle of
  // its deletes (10,000 of them per write), and wherever it lands the log must read the same.
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    bus::embedded_options o;
    o.path = dir.str();
    o.sync = false;
    o.retention_check_ms = 0;
    auto b = bus::open_embedded(o);
    if (b) (void)(*b)->compact();
    _exit(0);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  // Reopened (the WAL replays what the child wrote): every key reads as before, and verify holds.
  auto fold = [&](bus::embedded_bus& b) {
    std::map<std::string, std::string> seen;
    for (const auto& m : read_all(b, kTp)) {
      if (m.value.empty()) seen.erase(m.key);
      else seen[m.key] = m.value;
    }
    return seen;
  };
  auto b = open_bus(dir.str());
  ASSERT_TRUE(b);
  EXPECT_EQ(fold(*b), expected);
  auto v = b->verify();
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->problems.empty()) << v->problems.front();
  // A full pass afterwards finishes the work and still reads the same.
  ASSERT_TRUE(b->compact());
  EXPECT_EQ(fold(*b), expected);
  EXPECT_LE(read_all(*b, kTp).size(), expected.size() + 1);
}

}  // namespace
