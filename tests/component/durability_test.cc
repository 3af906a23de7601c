// What the embedded bus and the projection store do when the disk lets them down: a full disk
// (a fault-injecting RocksDB file system), a damaged write-ahead log, and a projection that holds
// positions the bus no longer has.
#include <atomic>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include "core/bus/embedded.h"
#include "core/projection/projection.h"
#include "tests/support/support.h"

namespace {

using namespace nf;
using namespace std::chrono_literals;
using bus::record;
namespace fs = std::filesystem;

// Every append to a file fails with ENOSPC while `full` is set, as on a full disk (creating a
// file still works: it needs no data blocks).
class full_disk_fs final : public rocksdb::FileSystemWrapper {
 public:
  full_disk_fs() : rocksdb::FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "full_disk_fs"; }
  std::atomic<bool> full{false};

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o, std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok()) *r = std::make_unique<file>(std::move(*r), full);
    return s;
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o, std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    auto s = target()->ReopenWritableFile(f, o, r, dbg);
    if (s.ok()) *r = std::make_unique<file>(std::move(*r), full);
    return s;
  }

 private:
  class file final : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    file(std::unique_ptr<rocksdb::FSWritableFile>&& f, std::atomic<bool>& full) : FSWritableFileOwnerWrapper(std::move(f)), full_(full) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (full_) return rocksdb::IOStatus::NoSpace("full_disk_fs: append");
      return FSWritableFileOwnerWrapper::Append(data, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o, const rocksdb::DataVerificationInfo& v,
                             rocksdb::IODebugContext* dbg) override {
      if (full_) return rocksdb::IOStatus::NoSpace("full_disk_fs: append");
      return FSWritableFileOwnerWrapper::Append(data, o, v, dbg);
    }

   private:
    std::atomic<bool>& full_;
  };
};

bus::embedded_options options(const std::string& path) {
  bus::embedded_options o;
  o.path = path;
  o.sync = true;
  o.retention_check_ms = 0;
  return o;
}

record rec(int i) { return record{"k" + std::to_string(i), "value-" + std::to_string(i), 0, {}, std::nullopt}; }

std::vector<std::string> values(bus::event_bus& b, const topic_partition& tp) {
  auto c = b.make_consumer({});
  EXPECT_TRUE(c && (*c)->assign({{tp, offset{0}}}));
  std::vector<std::string> out;
  const auto end = b.end_offset(tp).value().get();
  while (static_cast<std::int64_t>(out.size()) < end) {
    auto got = (*c)->poll(500ms, 1000);
    if (!got || got->empty()) break;
    for (const auto& m : *got) out.push_back(m.value);
  }
  return out;
}

TEST(Durability, AFullDiskFailsAppendsWithNoSpaceKeepsReadsAndWritesAgainOnceSpaceIsFreed) {
  test::temp_dir dir;
  auto fs_ = std::make_shared<full_disk_fs>();
  std::shared_ptr<rocksdb::Env> env(rocksdb::NewCompositeEnv(fs_).release());
  const topic_partition tp{topic_name{"t"}, partition_id{0}};
  std::vector<std::string> acked;
  {
    auto o = options((dir.path() / "bus").string());
    o.env = env;
    auto b = bus::open_embedded(o);
    ASSERT_TRUE(b) << b.error().message;
    ASSERT_TRUE((*b)->create_topic(topic_name{"t"}, {1, -1, -1}));
    int n = 0;
    for (; n < 10; ++n) {
      const auto r = rec(n);
      ASSERT_TRUE((*b)->append(tp.topic, std::span<const record>(&r, 1)));
      acked.push_back(r.value);
    }

    fs_->full = true;
    for (int i = 0; i < 5; ++i, ++n) {
      const auto r = rec(n);
      auto refused = (*b)->append(tp.topic, std::span<const record>(&r, 1));
      ASSERT_FALSE(refused);
      EXPECT_EQ(refused.error().code, errc::no_space) << refused.error().message;
      EXPECT_NE(refused.error().message.find(o.path), std::string::npos) << "names the data directory: " << refused.error().message;
    }
    // Reads go on while writes cannot.
    EXPECT_EQ(values(**b, tp), acked);
    EXPECT_EQ((*b)->end_offset(tp).value().get(), 10);

    fs_->full = false;
    // Writes resume once the store has recovered (at most a few seconds of RocksDB's own polling).
    ASSERT_TRUE(test::wait_until(
        [&] {
          const auto r = rec(n++);
          if (!(*b)->append(tp.topic, std::span<const record>(&r, 1))) return false;
          acked.push_back(r.value);
          return true;
        },
        30s));
    for (int i = 0; i < 10; ++i, ++n) {
      const auto r = rec(n);
      ASSERT_TRUE((*b)->append(tp.topic, std::span<const record>(&r, 1)));
      acked.push_back(r.value);
    }
    EXPECT_EQ(values(**b, tp), acked);
  }
  // Every acknowledged append survives a reopen, at dense offsets, in order.
  auto b = bus::open_embedded(options((dir.path() / "bus").string()));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(values(**b, tp), acked);
  EXPECT_EQ((*b)->end_offset(tp).value().get(), static_cast<std::int64_t>(acked.size()));
}

// Flips one bit in the middle of the largest write-ahead log of `dir`; false when there is none.
bool flip_wal_bit(const fs::path& dir) {
  fs::path biggest;
  std::uintmax_t size = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".log" && e.file_size() > size) biggest = e.path(), size = e.file_size();
  if (size == 0) return false;
  std::fstream f(biggest, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(size / 2));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x10);
  f.seekp(static_cast<std::streamoff>(size / 2));
  f.write(&c, 1);
  return true;
}

// A copy of the store as a crash leaves it: the WAL holds what the memtables had not flushed.
fs::path crashed_copy(const fs::path& from, const fs::path& to) {
  fs::copy(from, to, fs::copy_options::recursive);
  return to;
}

TEST(Durability, ADamagedWalFailsTheOpenNamingTheFileInsteadOfDroppingRecords) {
  test::temp_dir dir;
  const topic_partition tp{topic_name{"t"}, partition_id{0}};
  const auto live = dir.path() / "live";
  std::unique_ptr<bus::embedded_bus> b = std::move(bus::open_embedded(options(live.string())).value());
  ASSERT_TRUE(b->create_topic(topic_name{"t"}, {1, -1, -1}));
  for (int i = 0; i < 200; ++i) {
    const auto r = rec(i);
    ASSERT_TRUE(b->append(tp.topic, std::span<const record>(&r, 1)));
  }
  // Copied while open: exactly what a SIGKILL would leave on disk.
  const auto crashed = crashed_copy(live, dir.path() / "crashed");
  b.reset();
  ASSERT_TRUE(flip_wal_bit(crashed));
  auto opened = bus::open_embedded(options(crashed.string()));
  ASSERT_FALSE(opened) << "a damaged WAL must not open as if nothing happened";
  EXPECT_EQ(opened.error().code, errc::corruption);
  EXPECT_NE(opened.error().message.find(".log"), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find("doctor"), std::string::npos) << opened.error().message;

  // Recovery to the last consistent point happens only when asked for, and keeps a dense prefix.
  auto pit = options(crashed.string());
  pit.recovery = bus::wal_recovery::point_in_time;
  {
    auto repaired = bus::open_embedded(pit);
    ASSERT_TRUE(repaired) << repaired.error().message;
    const auto kept = values(**repaired, tp);
    EXPECT_LT(kept.size(), 200u);
    for (std::size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i], rec(static_cast<int>(i)).value);
    auto v = (*repaired)->verify();
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->problems.empty()) << v->problems.front();
  }
  EXPECT_TRUE(bus::open_embedded(options(crashed.string()))) << "after the repair the store opens normally";
}

TEST(Durability, ACleanCloseLeavesNothingOnlyInTheWalSoADamagedWalCostsNothing) {
  test::temp_dir dir;
  const topic_partition tp{topic_name{"t"}, partition_id{0}};
  std::vector<std::string> acked;
  {
    auto b = bus::open_embedded(options(dir.str()));
    ASSERT_TRUE(b);
    ASSERT_TRUE((*b)->create_topic(topic_name{"t"}, {1, -1, -1}));
    for (int i = 0; i < 200; ++i) {
      const auto r = rec(i);
      ASSERT_TRUE((*b)->append(tp.topic, std::span<const record>(&r, 1)));
      acked.push_back(r.value);
    }
  }
  flip_wal_bit(dir.path());  // an empty WAL has nothing to flip, which is the point
  auto b = bus::open_embedded(options(dir.str()));
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(values(**b, tp), acked);
}

class counting final : public projection::projection {
 public:
  std::string name() const override { return "counting"; }
  std::vector<std::string> topics() const override { return {"t"}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override { return w.put("v/" + m.value, "1"); }
};

TEST(Durability, AProjectionAheadOfTheBusRefusesToStartInsteadOfReusingOffsets) {
  test::temp_dir dir;
  const topic_partition tp{topic_name{"t"}, partition_id{0}};
  auto st = projection::store::open({(dir.path() / "proj").string(), false});
  ASSERT_TRUE(st);
  counting p;
  {
    auto b = bus::open_embedded(options((dir.path() / "a").string()));
    ASSERT_TRUE((*b)->create_topic(topic_name{"t"}, {1, -1, -1}));
    for (int i = 0; i < 20; ++i) {
      const auto r = rec(i);
      ASSERT_TRUE((*b)->append(tp.topic, std::span<const record>(&r, 1)));
    }
    projection::feed f(**st, p, **b);
    ASSERT_TRUE(f.start());
    ASSERT_TRUE(f.wait_applied(tp, offset{19}, 10s));
    f.stop();
  }
  // The same projection store next to a bus that holds fewer records (as after a lost WAL).
  auto shorter = bus::open_embedded(options((dir.path() / "b").string()));
  ASSERT_TRUE((*shorter)->create_topic(topic_name{"t"}, {1, -1, -1}));
  for (int i = 0; i < 5; ++i) {
    const auto r = rec(i);
    ASSERT_TRUE((*shorter)->append(tp.topic, std::span<const record>(&r, 1)));
  }
  projection::feed f(**st, p, **shorter);
  auto started = f.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, errc::corruption);
  EXPECT_NE(started.error().message.find("but the bus ends at 5"), std::string::npos) << started.error().message;
  // After a rebuild from the bus it holds, it starts.
  ASSERT_TRUE((*st)->rebuild(p, **shorter));
  projection::feed again(**st, p, **shorter);
  EXPECT_TRUE(again.start());
}

}  // namespace
