// Embedded bus behaviour beyond the shared conformance suite: durability across reopen,
// ownership, read-only readers, group commit, retention, and bad data directories.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "core/bus/embedded.h"
#include "core/metrics/metrics.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using bus::record;

std::unique_ptr<bus::embedded_bus> open_bus(const std::string& path, bool sync = true, const nf::clock* clk = nullptr,
                                            bool read_only = false) {
  bus::embedded_options o;
  o.path = path;
  o.sync = sync;
  o.clock = clk;
  o.read_only = read_only;
  o.retention_check_ms = 0;
  auto b = bus::open_embedded(o);
  EXPECT_TRUE(b) << (b ? "" : b.error().message);
  return b ? std::move(*b) : nullptr;
}

std::vector<record> records(int n, const std::string& prefix = "k", std::int64_t ts = 0) {
  std::vector<record> out;
  for (int i = 0; i < n; ++i) out.push_back(record{prefix + std::to_string(i), "value-" + std::to_string(i), ts, {{"h", "v"}}, std::nullopt});
  return out;
}

std::vector<bus::message> read_all(bus::event_bus& b, const topic_partition& tp, std::int64_t from = 0) {
  auto c = b.make_consumer({});
  EXPECT_TRUE(c);
  EXPECT_TRUE((*c)->assign({{tp, offset{from}}}));
  std::vector<bus::message> out;
  auto end = b.end_offset(tp);
  while (!out.empty() ? out.back().off.get() + 1 < end->get() : from < end->get()) {
    auto got = (*c)->poll(std::chrono::milliseconds(500), 1000);
    EXPECT_TRUE(got);
    if (!got || got->empty()) break;
    for (auto& m : *got) out.push_back(std::move(m));
  }
  return out;
}

TEST(EmbeddedLog, ReopenKeepsEveryAckedEventWithHeadersAndOffsets) {
  test::temp_dir dir;
  topic_partition tp{topic_name{"t"}, partition_id{0}};
  {
    auto b = open_bus(dir.str());
    ASSERT_TRUE(b->create_topic(topic_name{"t"}, {1, -1, -1}));
    auto recs = records(100);
    auto r = b->append(topic_name{"t"}, recs);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->back().off.get(), 99);
  }
  auto b = open_bus(dir.str());
  EXPECT_EQ(b->end_offset(tp)->get(), 100);
  auto msgs = read_all(*b, tp);
  ASSERT_EQ(msgs.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(msgs[static_cast<std::size_t>(i)].off.get(), i);
    EXPECT_EQ(msgs[static_cast<std::size_t>(i)].value, "value-" + std::to_string(i));
    ASSERT_EQ(msgs[static_cast<std::size_t>(i)].headers.size(), 1u);
  }
  auto more = records(1);
  EXPECT_EQ(b->append(topic_name{"t"}, more)->front().off.get(), 100);
}

TEST(EmbeddedLog, SecondWriterGetsAnErrorNamingTheOwner) {
  test::temp_dir dir;
  auto owner = open_bus(dir.str());
  bus::embedded_options o;
  o.path = dir.str();
  auto second = bus::open_embedded(o);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, errc::locked);
  EXPECT_NE(second.error().message.find("pid " + std::to_string(::getpid())), std::string::npos) << second.error().message;
}

TEST(EmbeddedLog, TheClusterIdIsMadeOnceAndKeptAcrossReopensAndReaders) {
  test::temp_dir dir, other;
  std::string id;
  {
    auto owner = open_bus(dir.str());
    ASSERT_NE(owner, nullptr);
    id = *owner->cluster_id();
    EXPECT_TRUE(id.starts_with("embedded-")) << id;
  }
  auto again = open_bus(dir.str());
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*again->cluster_id(), id);
  auto reader = open_bus(dir.str(), true, nullptr, true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(*reader->cluster_id(), id) << "a read-only instance names the same cluster";
  auto elsewhere = open_bus(other.str());
  EXPECT_NE(*elsewhere->cluster_id(), id) << "another store is another cluster";
}

// A reader beside a log that is set aside and rebuilt at the same path (as `region recover`
// does while the peer's link reads it) stops reading and says so. Before, it caught up with the
// new store's files as if they were the old one's, and RocksDB's own assertion took the process
// down (a peer region's server crashed in the sanitized recovery test).
TEST(EmbeddedLog, AReaderWhoseLogWasReplacedStopsAndANewReaderReadsTheNewLog) {
  test::temp_dir dir;
  const auto path = (dir.path() / "bus").string();
  const topic_partition tp{topic_name{"t"}, partition_id{0}};
  {
    auto owner = open_bus(path);
    ASSERT_TRUE(owner->create_topic(tp.topic, {1, -1, -1}));
    ASSERT_TRUE(owner->append(tp.topic, records(3)));
  }
  auto reader = open_bus(path, true, nullptr, true);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(read_all(*reader, tp).size(), 3u);
  ASSERT_TRUE(reader->catch_up());
  EXPECT_FALSE(reader->replaced());
  // The log is set aside and a new one written in its place.
  std::filesystem::rename(path, (dir.path() / "aside").string());
  {
    auto owner = open_bus(path);
    ASSERT_TRUE(owner->create_topic(tp.topic, {1, -1, -1}));
    ASSERT_TRUE(owner->append(tp.topic, records(1, "new")));
    for (int i = 0; i < 3; ++i) {
      auto again = reader->catch_up();
      ASSERT_FALSE(again);
      EXPECT_EQ(again.error().code, errc::unavailable);
      EXPECT_NE(again.error().message.find("was replaced since this reader opened it"), std::string::npos) << again.error().message;
      EXPECT_TRUE(reader->replaced());
    }
    auto fresh = open_bus(path, true, nullptr, true);
    ASSERT_NE(fresh, nullptr);
    const auto now = read_all(*fresh, tp);
    ASSERT_EQ(now.size(), 1u);
    EXPECT_EQ(now[0].key, "new0");
    EXPECT_TRUE(fresh->catch_up());
    EXPECT_FALSE(fresh->replaced());
  }
  // The path gone altogether: the same answer, no crash.
  std::filesystem::remove_all(path);
  EXPECT_FALSE(reader->catch_up());
}

// A store without an IDENTITY file (as a restored backup can be) is read as before: a reader
// cannot tell it from another, so it never calls it replaced.
TEST(EmbeddedLog, AReaderOfAStoreWithoutAnIdentityFileCatchesUpAsBefore) {
  test::temp_dir dir;
  const auto path = (dir.path() / "bus").string();
  const topic_partition tp{topic_name{"t"}, partition_id{0}};
  auto owner = open_bus(path);
  ASSERT_TRUE(owner->create_topic(tp.topic, {1, -1, -1}));
  ASSERT_TRUE(owner->append(tp.topic, records(2)));
  std::filesystem::remove(std::filesystem::path(path) / "IDENTITY");
  auto reader = open_bus(path, true, nullptr, true);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(owner->append(tp.topic, records(1, "more")));
  ASSERT_TRUE(reader->catch_up());
  EXPECT_FALSE(reader->replaced());
  EXPECT_EQ(read_all(*reader, tp).size(), 3u);
}

TEST(EmbeddedLog, ReadOnlyReaderSeesTheOwnersNewEvents) {
  test::temp_dir dir;
  auto owner = open_bus(dir.str());
  ASSERT_TRUE(owner->create_topic(topic_name{"t"}, {2, -1, -1}));
  auto first = records(10);
  ASSERT_TRUE(owner->append(topic_name{"t"}, first));
  auto reader = open_bus(dir.str(), true, nullptr, true);
  ASSERT_NE(reader, nullptr);
  auto topics = reader->list_topics();
  ASSERT_TRUE(topics);
  ASSERT_EQ(topics->size(), 1u);
  auto c = reader->make_consumer({});
  ASSERT_TRUE((*c)->assign({{{topic_name{"t"}, partition_id{0}}, offset{0}}, {{topic_name{"t"}, partition_id{1}}, offset{0}}}));
  std::size_t seen = 0;
  ASSERT_TRUE(test::wait_until([&] {
    auto m = (*c)->poll(std::chrono::milliseconds(50), 100);
    if (m) seen += m->size();
    return seen == 10;
  }));
  auto second = records(5, "z");
  ASSERT_TRUE(owner->append(topic_name{"t"}, second));
  ASSERT_TRUE(test::wait_until([&] {
    auto m = (*c)->poll(std::chrono::milliseconds(50), 100);
    if (m) seen += m->size();
    return seen == 15;
  }));
  auto write = reader->append(topic_name{"t"}, second);
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code, errc::unsupported);
}

TEST(EmbeddedLog, ConcurrentSyncAppendersShareFsyncs) {
  test::temp_dir dir;
  auto b = open_bus(dir.str(), true);
  ASSERT_TRUE(b->create_topic(topic_name{"t"}, {4, -1, -1}));
  auto& groups = metrics::registry::global().get_counter("nf_bus_write_groups_total", "");
  const auto groups_before = groups.value();
  constexpr int kThreads = 8, kPerThread = 100;
  std::vector<std::thread> ts;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        record r{"k" + std::to_string(t), "v", 0, {}, std::nullopt};
        if (!b->append(topic_name{"t"}, std::span<const record>(&r, 1))) ++failures;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures, 0);
  std::int64_t total = 0;
  for (int p = 0; p < 4; ++p) total += b->end_offset({topic_name{"t"}, partition_id{p}})->get();
  EXPECT_EQ(total, kThreads * kPerThread);
  const auto writes = groups.value() - groups_before;
  EXPECT_LT(writes, static_cast<std::uint64_t>(kThreads * kPerThread)) << "every append paid its own fsync";
}

TEST(EmbeddedLog, OversizedEventIsRejectedAndNothingIsAppended) {
  test::temp_dir dir;
  bus::embedded_options o;
  o.path = dir.str();
  o.max_event_bytes = 1000;
  o.retention_check_ms = 0;
  auto b = bus::open_embedded(o);
  ASSERT_TRUE(b);
  ASSERT_TRUE((*b)->create_topic(topic_name{"t"}, {1, -1, -1}));
  std::vector<record> batch{{"k", "small", 0, {}, std::nullopt}, {"k", std::string(2000, 'x'), 0, {}, std::nullopt}};
  auto r = (*b)->append(topic_name{"t"}, batch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::too_large);
  EXPECT_NE(r.error().message.find("1000"), std::string::npos);
  EXPECT_EQ((*b)->end_offset({topic_name{"t"}, partition_id{0}})->get(), 0);
}

TEST(EmbeddedLog, RetentionByAgeDropsOldEventsOnly) {
  test::temp_dir dir;
  manual_clock clk(1'000'000);
  auto b = open_bus(dir.str(), false, &clk);
  ASSERT_TRUE(b->create_topic(topic_name{"t"}, {1, 60'000, -1}));
  auto old_recs = records(10);
  ASSERT_TRUE(b->append(topic_name{"t"}, old_recs));
  clk.advance(std::chrono::milliseconds(50'000));
  auto new_recs = records(5, "n");
  ASSERT_TRUE(b->append(topic_name{"t"}, new_recs));
  EXPECT_EQ(*b->enforce_retention(), 0u);
  clk.advance(std::chrono::milliseconds(20'000));  // the first ten are now 70 s old
  EXPECT_EQ(*b->enforce_retention(), 10u);
  topic_partition tp{topic_name{"t"}, partition_id{0}};
  EXPECT_EQ(b->begin_offset(tp)->get(), 10);
  auto msgs = read_all(*b, tp, 0);
  ASSERT_EQ(msgs.size(), 5u);
  EXPECT_EQ(msgs.front().off.get(), 10);
  b.reset();
  b = open_bus(dir.str(), false, &clk);
  EXPECT_EQ(b->begin_offset(tp)->get(), 10);
  EXPECT_EQ(b->end_offset(tp)->get(), 15);
}

TEST(EmbeddedLog, RetentionBySizeKeepsTheNewestBytes) {
  test::temp_dir dir;
  auto b = open_bus(dir.str(), false);
  // Each record is key "kN" (2-3 bytes) + "value-N" (7-8) + header "h"/"v" (2): about 12 bytes.
  ASSERT_TRUE(b->create_topic(topic_name{"t"}, {1, -1, 120}));
  auto recs = records(50);
  ASSERT_TRUE(b->append(topic_name{"t"}, recs));
  EXPECT_GT(*b->enforce_retention(), 30u);
  topic_partition tp{topic_name{"t"}, partition_id{0}};
  const auto begin = b->begin_offset(tp)->get();
  std::size_t kept = 0;
  for (auto i = static_cast<std::size_t>(begin); i < 50; ++i) kept += bus::record_size(recs[i]);
  EXPECT_LE(kept, 120u);
  EXPECT_GT(kept + bus::record_size(recs[static_cast<std::size_t>(begin - 1)]), 120u);
}

TEST(EmbeddedLog, CorruptRecordGivesAPreciseErrorAtOpen) {
  test::temp_dir dir;
  {
    auto b = open_bus(dir.str());
    ASSERT_TRUE(b->create_topic(topic_name{"t"}, {1, -1, -1}));
    auto recs = records(3);
    ASSERT_TRUE(b->append(topic_name{"t"}, recs));
  }
  {
    // Damage the last record behind the bus's back.
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs{{"default", {}}, {"log", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> hs;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.str(), cfs, &hs, &db).ok());
    std::string key("\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02", 16);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), hs[1], key, "\x07garbage").ok());
    for (auto* h : hs) (void)db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  bus::embedded_options o;
  o.path = dir.str();
  auto b = bus::open_embedded(o);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, errc::corruption);
  EXPECT_NE(b.error().message.find("t/0@2"), std::string::npos) << b.error().message;
}

TEST(EmbeddedLog, ForeignDirectoryIsRefusedUntouched) {
  test::temp_dir dir;
  std::ofstream(dir.path() / "notes.txt") << "mine";
  bus::embedded_options o;
  o.path = dir.str();
  auto b = bus::open_embedded(o);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, errc::invalid_argument);
  EXPECT_NE(b.error().message.find("notes.txt"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "notes.txt"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "CURRENT"));
}

TEST(EmbeddedLog, UnknownTopicAndBadPartitionAreNotFound) {
  test::temp_dir dir;
  auto b = open_bus(dir.str());
  auto recs = records(1);
  auto r = b->append(topic_name{"nope"}, recs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::not_found);
  ASSERT_TRUE(b->create_topic(topic_name{"t"}, {2, -1, -1}));
  EXPECT_EQ(b->end_offset({topic_name{"t"}, partition_id{2}}).error().code, errc::not_found);
  EXPECT_EQ(b->create_topic(topic_name{"t"}, {2, -1, -1}).error().code, errc::already_exists);
  EXPECT_EQ(b->create_topic(topic_name{"bad name"}, {2, -1, -1}).error().code, errc::invalid_argument);
}

// Both tests block a poll with a 30 s timeout and act from another thread 100 ms later (a
// delay that puts the consumer in its wait, not a wait for a result): a wake-up that did not
// reach a blocked consumer would hold the poll for 30 s and fail the 2 s bound.
TEST(EmbeddedLog, BlockedConsumerIsWokenByAnAppend) {
  test::temp_dir dir;
  auto b = open_bus(dir.str(), false);
  ASSERT_TRUE(b->create_topic(topic_name{"t"}, {1, -1, -1}));
  auto c = b->make_consumer({});
  ASSERT_TRUE((*c)->assign({{{topic_name{"t"}, partition_id{0}}, offset{0}}}));
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto recs = records(1);
    (void)b->append(topic_name{"t"}, recs);
  });
  const auto start = std::chrono::steady_clock::now();
  auto got = (*c)->poll(std::chrono::seconds(30), 10);
  const auto waited = std::chrono::steady_clock::now() - start;
  producer.join();
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_GE(waited, std::chrono::milliseconds(90)) << "the poll did not block; the test did not exercise the wake-up";
  EXPECT_LT(waited, std::chrono::seconds(2)) << "the append did not wake the blocked poll";
}

// A group commit wakes only the consumers reading a topic it wrote: a consumer of another topic
// sleeps through a stream of appends (every sleeper woken by every append cost each request a
// dozen context switches), and still wakes for its own topic and for new topics it subscribes to.
TEST(EmbeddedLog, AConsumerSleepsThroughAppendsToTopicsItDoesNotRead) {
  test::temp_dir dir;
  auto b = open_bus(dir.str(), false);
  ASSERT_TRUE(b->create_topic(topic_name{"busy"}, {2, -1, -1}));
  ASSERT_TRUE(b->create_topic(topic_name{"quiet"}, {1, -1, -1}));
  auto c = b->make_consumer({});
  ASSERT_TRUE((*c)->assign({{{topic_name{"quiet"}, partition_id{0}}, offset{0}}}));
  auto& wakeups = metrics::registry::global().get_counter("nf_bus_poll_wakeups_total", "");
  std::atomic<bool> polling{false};
  std::uint64_t before = 0;
  std::thread producer([&] {
    while (!polling) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    before = wakeups.value();
    for (int i = 0; i < 200; ++i) {
      auto recs = records(1, "busy");
      ASSERT_TRUE(b->append(topic_name{"busy"}, recs));
    }
    // Only now the consumer's own topic.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(wakeups.value(), before) << "appends to a topic the consumer does not read woke it";
    auto mine = records(1, "quiet");
    ASSERT_TRUE(b->append(topic_name{"quiet"}, mine));
  });
  polling = true;
  auto got = (*c)->poll(std::chrono::seconds(30), 10);
  producer.join();
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].topic.get(), "quiet");

  // A group member subscribed to a pattern still wakes for a topic created after it slept.
  bus::consumer_options g;
  g.group = "g";
  g.subscriptions = {"later.*"};
  auto gc = b->make_consumer(g);
  ASSERT_TRUE(gc);
  std::thread creator([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(b->create_topic(topic_name{"later.one"}, {1, -1, -1}));
    auto recs = records(3, "later");
    ASSERT_TRUE(b->append(topic_name{"later.one"}, recs));
  });
  std::vector<bus::message> seen;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen.size() < 3 && std::chrono::steady_clock::now() < until) {
    auto more = (*gc)->poll(std::chrono::seconds(5), 10);
    ASSERT_TRUE(more);
    for (auto& m : *more) seen.push_back(std::move(m));
  }
  creator.join();
  EXPECT_EQ(seen.size(), 3u);
}

// The leader of a group waits for more appends only while others are appending: one appender
// alone is never delayed, and many still finish when the wait is long.
TEST(EmbeddedLog, AGroupWaitsForOthersOnlyWhenOthersAreAppending) {
  test::temp_dir dir;
  bus::embedded_options o;
  o.path = dir.str();
  o.sync = true;
  o.retention_check_ms = 0;
  o.group_commit_wait_us = 100'000;  // 100 ms: a wait would show
  auto b = bus::open_embedded(o);
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_TRUE((*b)->create_topic(topic_name{"t"}, {2, -1, -1}));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    auto recs = records(1);
    ASSERT_TRUE((*b)->append(topic_name{"t"}, recs));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "a lone appender waited for company";
  std::vector<std::thread> ts;
  for (int t = 0; t < 6; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        record r{"k" + std::to_string(t), "v", 0, {}, std::nullopt};
        EXPECT_TRUE((*b)->append(topic_name{"t"}, std::span<const record>(&r, 1)));
      }
    });
  for (auto& t : ts) t.join();
  std::int64_t total = 0;
  for (int p = 0; p < 2; ++p) total += (*b)->end_offset({topic_name{"t"}, partition_id{p}})->get();
  EXPECT_EQ(total, 20 + 6 * 20);
}

TEST(EmbeddedLog, QueuedAndWaitingAppendsShareGroupsAndEachIsAnsweredOnceInOrder) {
  test::temp_dir dir;
  auto b = open_bus(dir.str());
  ASSERT_TRUE(b->appends_async());
  ASSERT_TRUE(b->create_topic(topic_name{"t"}, {2, -1, -1}));
  constexpr int kThreads = 4, kEach = 50;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0;
  std::map<std::pair<int, std::int64_t>, std::string> placed;  // (partition, offset) -> value
  std::atomic<int> duplicates{0}, failures{0};
  auto note = [&](const std::string& value, const result<std::vector<bus::append_result>>& at) {
    std::lock_guard lk(mu);
    if (!at || at->size() != 1) ++failures;
    else if (!placed.emplace(std::make_pair(at->front().partition.get(), at->front().off.get()), value).second) ++duplicates;
    ++answered;
    cv.notify_all();
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string value = "t" + std::to_string(t) + "-" + std::to_string(i);
        record r{"k" + std::to_string(i % 5), value, 0, {}, std::nullopt};
        if ((t + i) % 2 == 0) {
          auto at = b->append(topic_name{"t"}, std::span<const record>(&r, 1));
          note(value, at);
        } else {
          b->append_async(topic_name{"t"}, {r}, [&, value](result<std::vector<bus::append_result>> at) { note(value, at); });
        }
      }
    });
  for (auto& t : ts) t.join();
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(20), [&] { return answered == kThreads * kEach; })) << answered << " answered";
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(duplicates.load(), 0) << "two appends were given one offset";
  // What each answer named is in the log at that place, and nothing else is.
  std::size_t in_log = 0;
  for (int p = 0; p < 2; ++p) {
    for (const auto& m : read_all(*b, {topic_name{"t"}, partition_id{p}})) {
      ++in_log;
      auto it = placed.find({p, m.off.get()});
      ASSERT_NE(it, placed.end()) << "unanswered record at " << p << "@" << m.off.get();
      EXPECT_EQ(it->second, m.value);
    }
  }
  EXPECT_EQ(in_log, placed.size());
  // A refusal is answered at once, on the caller's thread.
  bool refused = false;
  b->append_async(topic_name{"missing"}, records(1), [&](result<std::vector<bus::append_result>> at) {
    refused = !at && at.error().code == errc::not_found;
  });
  EXPECT_TRUE(refused);
}

TEST(EmbeddedLog, QueuedAppendsAreWrittenBeforeTheBusCloses) {
  test::temp_dir dir;
  std::atomic<int> ok{0};
  {
    auto b = open_bus(dir.str());
    ASSERT_TRUE(b->create_topic(topic_name{"t"}, {1, -1, -1}));
    for (int i = 0; i < 200; ++i)
      b->append_async(topic_name{"t"}, records(1, "k" + std::to_string(i)), [&](result<std::vector<bus::append_result>> at) {
        if (at) ++ok;
      });
  }  // closes with appends still queued
  EXPECT_EQ(ok.load(), 200) << "an accepted append was never answered";
  auto b = open_bus(dir.str());
  EXPECT_EQ(b->end_offset({topic_name{"t"}, partition_id{0}})->get(), 200);
}

TEST(EmbeddedLog, WakeupInterruptsABlockedPoll) {
  test::temp_dir dir;
  auto b = open_bus(dir.str(), false);
  ASSERT_TRUE(b->create_topic(topic_name{"t"}, {1, -1, -1}));
  auto c = b->make_consumer({});
  ASSERT_TRUE((*c)->assign({{{topic_name{"t"}, partition_id{0}}, offset{0}}}));
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (*c)->wakeup();
  });
  const auto start = std::chrono::steady_clock::now();
  auto got = (*c)->poll(std::chrono::seconds(30), 10);
  const auto waited = std::chrono::steady_clock::now() - start;
  waker.join();
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->empty());
  EXPECT_GE(waited, std::chrono::milliseconds(90)) << "the poll did not block; the test did not exercise the wake-up";
  EXPECT_LT(waited, std::chrono::seconds(2)) << "wakeup() did not interrupt the blocked poll";
}

}  // namespace
