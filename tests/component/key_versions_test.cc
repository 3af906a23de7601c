// Expected-version appends (optimistic concurrency) on the embedded bus: checked inside the group
// commit, a mismatch appends nothing of its call and names key, expected and actual version,
// versions survive a reopen, a topic that starts tracking counts what it already holds, and the
// Kafka bus refuses what it cannot check.
#include <atomic>
#include <barrier>
#include <thread>

#include <gtest/gtest.h>

#include "core/bus/embedded.h"
#include "core/bus/kafka.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using bus::record;

std::unique_ptr<bus::embedded_bus> open_bus(const std::string& path) {
  bus::embedded_options o;
  o.path = path;
  o.retention_check_ms = 0;
  auto b = bus::open_embedded(o);
  EXPECT_TRUE(b) << (b ? "" : b.error().message);
  return b ? std::move(*b) : nullptr;
}

record rec(const std::string& key, std::optional<std::int64_t> expected, const std::string& value = "v") {
  record r;
  r.key = key;
  r.value = value;
  r.expected_version = expected;
  return r;
}

result<std::vector<bus::append_result>> put(bus::event_bus& b, const std::string& topic, std::vector<record> rs) {
  return b.append(topic_name{topic}, rs);
}

std::int64_t total_end(bus::event_bus& b, const std::string& topic, int parts) {
  std::int64_t n = 0;
  for (int p = 0; p < parts; ++p) n += b.end_offset({topic_name{topic}, partition_id{p}})->get();
  return n;
}

TEST(KeyVersions, AnAppendLandsOnlyAtTheExpectedVersionAndAMismatchNamesBoth) {
  test::temp_dir dir;
  auto b = open_bus(dir.path());
  ASSERT_TRUE(b->create_topic(topic_name{"orders"}, {.partitions = 3, .key_versions = true}));
  auto first = put(*b, "orders", {rec("o-1", bus::kNoStream)});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ((*first)[0].version, 1);
  // Without an expectation it lands whatever the version, and still counts.
  auto any = put(*b, "orders", {rec("o-1", std::nullopt)});
  ASSERT_TRUE(any);
  EXPECT_EQ((*any)[0].version, 2);
  auto stale = put(*b, "orders", {rec("o-1", 1)});
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, errc::wrong_expected_version);
  const auto& msg = stale.error().message;
  EXPECT_NE(msg.find("'o-1'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("version 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 1"), std::string::npos) << msg;
  auto again = put(*b, "orders", {rec("o-1", bus::kNoStream)});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, errc::wrong_expected_version);
  EXPECT_EQ(total_end(*b, "orders", 3), 2);
  auto next = put(*b, "orders", {rec("o-1", 2)});
  ASSERT_TRUE(next);
  EXPECT_EQ((*next)[0].version, 3);
}

TEST(KeyVersions, RecordsEarlierInTheSameAppendCountAndOneMismatchAppendsNothing) {
  test::temp_dir dir;
  auto b = open_bus(dir.path());
  ASSERT_TRUE(b->create_topic(topic_name{"orders"}, {.partitions = 2, .key_versions = true}));
  auto chain = put(*b, "orders", {rec("a", 0), rec("a", 1), rec("b", 0), rec("a", 2)});
  ASSERT_TRUE(chain) << chain.error().message;
  EXPECT_EQ((*chain)[3].version, 3);
  EXPECT_EQ((*chain)[2].version, 1);
  // The third record's expectation fails: the first two are not appended either.
  auto mixed = put(*b, "orders", {rec("c", 0), rec("a", 3), rec("b", 7)});
  ASSERT_FALSE(mixed);
  EXPECT_EQ(mixed.error().code, errc::wrong_expected_version);
  EXPECT_NE(mixed.error().message.find("'b'"), std::string::npos);
  EXPECT_EQ(total_end(*b, "orders", 2), 4);
  auto c = put(*b, "orders", {rec("c", 0)});
  ASSERT_TRUE(c) << c.error().message;  // "c" was not counted by the refused append
}

TEST(KeyVersions, OnlyOneOfManyConcurrentAppendersExpectingTheSameVersionWins) {
  test::temp_dir dir;
  auto b = open_bus(dir.path());
  ASSERT_TRUE(b->create_topic(topic_name{"docs"}, {.partitions = 1, .key_versions = true}));
  constexpr int kThreads = 12, kRounds = 40;
  std::atomic<int> wins{0}, refused{0}, other{0};
  std::barrier sync(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        sync.arrive_and_wait();  // every thread expects version r of the same key at once
        auto a = b->append(topic_name{"docs"}, std::vector<record>{rec("doc", r, std::to_string(t))});
        if (a) ++wins;
        else if (a.error().code == errc::wrong_expected_version) ++refused;
        else ++other;
        sync.arrive_and_wait();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(wins.load(), kRounds);
  EXPECT_EQ(refused.load(), kRounds * (kThreads - 1));
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(total_end(*b, "docs", 1), kRounds);
}

TEST(KeyVersions, QueuedAppendsAreCheckedInTheirGroupAndReportTheMismatch) {
  test::temp_dir dir;
  auto b = open_bus(dir.path());
  ASSERT_TRUE(b->create_topic(topic_name{"docs"}, {.partitions = 1, .key_versions = true}));
  std::mutex mu;
  std::condition_variable cv;
  std::vector<result<std::vector<bus::append_result>>> got;
  for (int i = 0; i < 5; ++i)
    b->append_async(topic_name{"docs"}, {rec("k", 0)}, [&](result<std::vector<bus::append_result>> r) {
      std::lock_guard lk(mu);
      got.push_back(std::move(r));
      cv.notify_all();
    });
  std::unique_lock lk(mu);
  ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(10), [&] { return got.size() == 5; }));
  int ok = 0;
  for (const auto& r : got) {
    if (r) ++ok;
    else EXPECT_EQ(r.error().code, errc::wrong_expected_version);
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(total_end(*b, "docs", 1), 1);
}

TEST(KeyVersions, VersionsSurviveAReopenAndATopicThatStartsTrackingCountsWhatItHolds) {
  test::temp_dir dir;
  {
    auto b = open_bus(dir.path());
    ASSERT_TRUE(b->create_topic(topic_name{"tracked"}, {.partitions = 2, .key_versions = true}));
    ASSERT_TRUE(b->create_topic(topic_name{"plain"}, {.partitions = 2}));
    ASSERT_TRUE(put(*b, "tracked", {rec("x", 0), rec("x", 1), rec("y", 0)}));
    ASSERT_TRUE(put(*b, "plain", {rec("k", std::nullopt), rec("k", std::nullopt), rec("k", std::nullopt), rec("j", std::nullopt),
                                   rec("", std::nullopt)}));
    auto untracked = put(*b, "plain", {rec("k", 3)});
    ASSERT_FALSE(untracked);
    EXPECT_EQ(untracked.error().code, errc::invalid_argument);
    EXPECT_NE(untracked.error().message.find("does not track key versions"), std::string::npos);
    auto keyless = put(*b, "tracked", {rec("", 0)});
    ASSERT_FALSE(keyless);
    EXPECT_EQ(keyless.error().code, errc::invalid_argument);
  }
  auto b = open_bus(dir.path());
  EXPECT_TRUE(b->describe_topic(topic_name{"tracked"})->config.key_versions);
  EXPECT_FALSE(put(*b, "tracked", {rec("x", 1)}));
  auto x = put(*b, "tracked", {rec("x", 2)});
  ASSERT_TRUE(x);
  EXPECT_EQ((*x)[0].version, 3);
  ASSERT_TRUE(b->track_key_versions(topic_name{"plain"}));
  EXPECT_TRUE(b->describe_topic(topic_name{"plain"})->config.key_versions);
  EXPECT_FALSE(put(*b, "plain", {rec("k", 2)}));
  auto k = put(*b, "plain", {rec("k", 3), rec("j", 1)});
  ASSERT_TRUE(k) << k.error().message;
  EXPECT_EQ((*k)[0].version, 4);
  EXPECT_EQ((*k)[1].version, 2);
  // Counted once: tracking again changes nothing, and so does a reopen.
  ASSERT_TRUE(b->track_key_versions(topic_name{"plain"}));
  b.reset();
  b = open_bus(dir.path());
  ASSERT_TRUE(put(*b, "plain", {rec("k", 4)}));
}

TEST(KeyVersions, TheKafkaBusRefusesAnExpectationItCannotCheck) {
  auto mc = bus::kafka_mock_cluster::start(1);
  ASSERT_TRUE(mc);
  bus::kafka_options o;
  o.bootstrap_servers = (*mc)->bootstrap_servers();
  o.mock = mc->get();
  auto b = bus::open_kafka(o);
  ASSERT_TRUE(b) << b.error().message;
  auto tracked = (*b)->create_topic(topic_name{"tracked"}, {.partitions = 1, .key_versions = true});
  ASSERT_FALSE(tracked);
  EXPECT_EQ(tracked.error().code, errc::unsupported);
  ASSERT_TRUE((*b)->create_topic(topic_name{"docs"}, {.partitions = 1}));
  auto r = put(**b, "docs", {rec("doc", 0)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unsupported);
  EXPECT_NE(r.error().message.find("owner"), std::string::npos);
  EXPECT_EQ((*b)->end_offset({topic_name{"docs"}, partition_id{0}})->get(), 0);
  EXPECT_EQ((*b)->track_key_versions(topic_name{"docs"}).error().code, errc::unsupported);
}

}  // namespace
