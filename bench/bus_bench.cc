// Hot-path benchmarks, each against a raw RocksDB baseline measured in the same process:
//   embedded append          vs raw WriteBatch puts (same bytes, same WAL/sync setting)
//   embedded sequential read vs raw iterator scan
//   projection rebuild apply vs raw WAL-off WriteBatch puts
//   expected-version appends vs plain embedded appends
//   bus backup (BackupEngine) vs a raw copy of the same files
//   event::from_message (version check, upcast) vs a raw envelope parse
// Run: build/bench/nf_bench (see docs/performance.md).
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "bench/log_reader.h"
#include "bench/ratio_reporter.h"
#include "actors/missions/events.h"
#include "core/bus/embedded.h"
#include "core/event/codec.h"
#include "envelope.pb.h"
#include "missions.pb.h"
#include "core/log/log.h"
#include "core/projection/projection.h"

namespace {

namespace fs = std::filesystem;
using namespace nf;

constexpr std::size_t kPayload = 256;
// Size of one stored embedded record with a 256-byte payload and an 8-byte key: the raw
// baselines write values of this size so both sides move the same bytes.
constexpr std::size_t kStoredRecord = 1 + 8 * 3 + 4 + 4 + 8 + kPayload;

struct scratch {
  fs::path path;
  scratch() {
    static int n = 0;
    path = fs::temp_directory_path() / ("nf-bench-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
  }
  ~scratch() { fs::remove_all(path); }
};

rocksdb::Options raw_options() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.IncreaseParallelism(2);
  o.write_buffer_size = 64 << 20;
  o.compression = rocksdb::kLZ4Compression;
  return o;
}

std::string be_key(std::uint64_t i) {
  std::string k(8, '\0');
  k.append(8, '\0');
  for (int b = 7; b >= 0; --b) k[static_cast<std::size_t>(8 + 7 - b)] = static_cast<char>((i >> (8 * b)) & 0xff);
  return k;
}

std::string key_of(std::uint64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "k%07llu", static_cast<unsigned long long>(i % 10'000'000));
  return buf;
}

void BM_RawWriteBatch(benchmark::State& st) {
  const auto batch = static_cast<std::size_t>(st.range(0));
  const bool sync = st.range(1) != 0;
  scratch dir;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(raw_options(), dir.path.string(), &raw).ok()) st.SkipWithError("open");
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string value(kStoredRecord, 'v');
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  std::uint64_t i = 0;
  for (auto _ : st) {
    rocksdb::WriteBatch wb;
    for (std::size_t j = 0; j < batch; ++j) (void)wb.Put(be_key(i++), value);
    if (!db->Write(wo, &wb).ok()) st.SkipWithError("write");
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(i));
  st.SetBytesProcessed(static_cast<std::int64_t>(i * (kStoredRecord + 16)));
}

// An embedded bus in `dir` with one topic "bench" of one partition; null after SkipWithError.
std::unique_ptr<bus::embedded_bus> append_bus(benchmark::State& st, const fs::path& dir, const bus::topic_config& cfg) {
  bus::embedded_options o;
  o.path = dir.string();
  o.sync = st.range(1) != 0;
  o.retention_check_ms = 0;
  auto b = bus::open_embedded(o);
  if (!b || !(*b)->create_topic(topic_name{"bench"}, cfg)) {
    st.SkipWithError("open");
    return nullptr;
  }
  return std::move(*b);
}

void BM_EmbeddedAppend(benchmark::State& st) {
  const auto batch = static_cast<std::size_t>(st.range(0));
  scratch dir;
  auto b = append_bus(st, dir.path, {.partitions = 1});
  if (!b) return;
  std::vector<bus::record> recs(batch);
  for (auto& r : recs) r.value.assign(kPayload, 'p');
  std::uint64_t i = 0;
  for (auto _ : st) {
    for (auto& r : recs) r.key = key_of(i++);
    if (!b->append(topic_name{"bench"}, recs)) st.SkipWithError("append");
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(i));
  st.SetBytesProcessed(static_cast<std::int64_t>(i * (kStoredRecord + 16)));
}

// Appends that each expect their key's current version, on a topic with key versions: the cost
// of optimistic concurrency (a version read and write per record in the group commit) against
// BM_EmbeddedAppend's plain appends of the same records.
void BM_ExpectedVersionAppend(benchmark::State& st) {
  const auto batch = static_cast<std::size_t>(st.range(0));
  scratch dir;
  auto b = append_bus(st, dir.path, {.partitions = 1, .key_versions = true});
  if (!b) return;
  std::vector<bus::record> recs(batch);
  for (auto& r : recs) r.value.assign(kPayload, 'p');
  // 100,000 keys, each appended again every 100,000 records: most checks find a stored version.
  constexpr std::uint64_t kKeys = 100'000;
  std::vector<std::int64_t> versions(kKeys, 0);
  std::uint64_t i = 0;
  for (auto _ : st) {
    for (auto& r : recs) {
      const auto k = (i++ * 7919) % kKeys;
      r.key = key_of(k);
      r.expected_version = versions[k]++;
    }
    if (!b->append(topic_name{"bench"}, recs)) st.SkipWithError("append");
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(i));
  st.SetBytesProcessed(static_cast<std::int64_t>(i * (kStoredRecord + 16)));
}

constexpr std::int64_t kScan = 200'000;

// An embedded bus with one partition of `n` events of kPayload bytes on topic "bench".
std::unique_ptr<bus::embedded_bus> filled_bus(const fs::path& path, std::int64_t n) {
  bus::embedded_options o;
  o.path = path.string();
  o.sync = false;
  o.retention_check_ms = 0;
  auto b = bus::open_embedded(o);
  if (!b || !(*b)->create_topic(topic_name{"bench"}, {1, -1, -1})) return nullptr;
  std::vector<bus::record> recs(1000);
  for (std::int64_t i = 0; i < n;) {
    for (auto& r : recs) {
      r.key = key_of(static_cast<std::uint64_t>(i++));
      r.value.assign(kPayload, 'p');
    }
    if (!(*b)->append(topic_name{"bench"}, recs)) return nullptr;
  }
  return std::move(*b);
}

void BM_RawIteratorScan(benchmark::State& st) {
  scratch dir;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(raw_options(), dir.path.string(), &raw).ok()) st.SkipWithError("open");
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string value(kStoredRecord, 'v');
  for (std::int64_t i = 0; i < kScan;) {
    rocksdb::WriteBatch wb;
    for (int j = 0; j < 1000; ++j, ++i) (void)wb.Put(be_key(static_cast<std::uint64_t>(i)), value);
    (void)db->Write(rocksdb::WriteOptions(), &wb);
  }
  std::int64_t total = 0;
  for (auto _ : st) {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    std::size_t bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string v = it->value().ToString();  // copy out, as a consumer must
      bytes += v.size();
      ++total;
    }
    benchmark::DoNotOptimize(bytes);
  }
  st.SetItemsProcessed(total);
}

void BM_EmbeddedSequentialRead(benchmark::State& st) {
  scratch dir;
  auto b = filled_bus(dir.path, kScan);
  if (!b) {
    st.SkipWithError("open");
    return;
  }
  const topic_partition tp{topic_name{"bench"}, partition_id{0}};
  std::int64_t total = 0;
  for (auto _ : st) total += nf::bench::read_events(*b, {{tp, offset{0}}}, kScan, st);
  st.SetItemsProcessed(total);
}

// The cleaner of a compacted topic against a raw scan of as many records: each iteration fills a
// fresh compacted topic with kScan records over kScan/10 keys (untimed), then times compact(),
// which reads the log twice (latest offset per key, then what to remove) and deletes the 90% that
// later records supersede. items = records examined.
void BM_Compaction(benchmark::State& st) {
  std::int64_t total = 0;
  for (auto _ : st) {
    st.PauseTiming();
    scratch dir;
    bus::embedded_options o;
    o.path = dir.path.string();
    o.sync = false;
    o.retention_check_ms = 0;
    auto b = bus::open_embedded(o);
    if (!b || !(*b)->create_topic(topic_name{"bench"}, {.partitions = 1, .compact = true})) {
      st.SkipWithError("open");
      return;
    }
    std::vector<bus::record> recs(1000);
    for (std::int64_t i = 0; i < kScan;) {
      for (auto& r : recs) {
        r.key = key_of(static_cast<std::uint64_t>(i++ % (kScan / 10)));
        r.value.assign(kPayload, 'p');
      }
      if (!(*b)->append(topic_name{"bench"}, recs)) st.SkipWithError("append");
    }
    st.ResumeTiming();
    auto removed = (*b)->compact();
    if (!removed || *removed != static_cast<std::uint64_t>(kScan - kScan / 10)) {
      st.SkipWithError(removed ? "removed an unexpected count" : removed.error().message.c_str());
      return;
    }
    total += kScan;
    st.PauseTiming();
    b->reset();
    st.ResumeTiming();
  }
  st.SetItemsProcessed(total);
}

// Backup of a bus (BackupEngine: copy, checksum, fsync) against a raw copy of the same directory's
// files, both of a store holding kScan events; items are bytes, so the ratio is bytes/s against
// bytes/s. Each iteration backs up into a fresh directory (a full backup, nothing shared).
std::uint64_t dir_size(const fs::path& p) {
  std::uint64_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(p))
    if (e.is_regular_file()) n += e.file_size();
  return n;
}

void BM_RawDirectoryCopy(benchmark::State& st) {
  scratch dir, copies;
  {
    auto b = filled_bus(dir.path, kScan);
    if (!b) {
      st.SkipWithError("open");
      return;
    }
  }
  const auto bytes = dir_size(dir.path);
  std::int64_t total = 0, n = 0;
  for (auto _ : st) {
    const auto to = copies.path / std::to_string(n++);
    fs::create_directories(to);
    fs::copy(dir.path, to, fs::copy_options::recursive);
    ::sync();  // the backup fsyncs what it writes: so does the baseline
    total += static_cast<std::int64_t>(bytes);
    st.PauseTiming();
    fs::remove_all(to);
    st.ResumeTiming();
  }
  st.SetItemsProcessed(total);
  st.SetBytesProcessed(total);
}

void BM_BusBackup(benchmark::State& st) {
  scratch dir, backups;
  // Closed once (a clean close flushes into table files) and reopened: the files the raw copy
  // copies, not a write-ahead log.
  if (!filled_bus(dir.path, kScan)) {
    st.SkipWithError("fill");
    return;
  }
  bus::embedded_options o;
  o.path = dir.path.string();
  o.retention_check_ms = 0;
  auto opened = bus::open_embedded(o);
  if (!opened) {
    st.SkipWithError("open");
    return;
  }
  auto& b = *opened;
  std::int64_t total = 0, n = 0;
  for (auto _ : st) {
    const auto to = backups.path / std::to_string(n++);
    auto r = b->backup(to.string(), "");
    if (!r) {
      st.SkipWithError("backup");
      return;
    }
    total += static_cast<std::int64_t>(r->size);
    st.PauseTiming();
    fs::remove_all(to);
    st.ResumeTiming();
  }
  st.SetItemsProcessed(total);
  st.SetBytesProcessed(total);
}

// Decoding what consumers read: event::from_message (parse plus the schema-version check, and for
// an old event the upcast) against a raw protobuf parse of the same bytes.
std::string prompt_bytes(std::uint32_t version, bool with_created_at) {
  events::MissionPrompt p;
  p.set_id("01900000-0000-7000-8000-000000000001");
  p.set_objective(std::string(200, 'o'));
  p.set_priority(events::P1);
  p.set_originating_spec("https://spec/x");
  if (with_created_at) p.mutable_created_at()->set_seconds(1'700'000'000);
  events::Envelope env;
  env.set_id(std::string(16, 'i'));
  env.set_type("mission.prompted");
  env.set_schema_version(version);
  env.set_tenant_id("acme");
  env.set_key("01900000-0000-7000-8000-000000000001");
  env.set_occurred_at(1'700'000'000'000);
  env.mutable_payload()->PackFrom(p);
  return env.SerializeAsString();
}

void BM_RawEnvelopeParse(benchmark::State& st) {
  const auto bytes = prompt_bytes(2, true);
  std::int64_t n = 0;
  for (auto _ : st) {
    events::Envelope env;
    benchmark::DoNotOptimize(env.ParseFromString(bytes));
    ++n;
  }
  st.SetItemsProcessed(n);
}

void decode_bench(benchmark::State& st, std::uint32_t version) {
  missions::register_events(event::type_registry::global());
  bus::message m{topic_name{"mission.prompts"}, partition_id{0}, offset{0}, 0, "k", prompt_bytes(version, version >= 2), {}};
  std::int64_t n = 0;
  for (auto _ : st) {
    auto env = event::from_message(m);
    if (!env || env->schema_version() != 2) st.SkipWithError("decode");
    benchmark::DoNotOptimize(env);
    ++n;
  }
  st.SetItemsProcessed(n);
}
void BM_FromMessageAsStored(benchmark::State& st) {
  bus::message m{topic_name{"mission.prompts"}, partition_id{0}, offset{0}, 0, "k", prompt_bytes(2, true), {}};
  std::int64_t n = 0;
  for (auto _ : st) {
    auto env = event::from_message_as_stored(m);
    benchmark::DoNotOptimize(env);
    ++n;
  }
  st.SetItemsProcessed(n);
}
void BM_FromMessageCurrent(benchmark::State& st) { decode_bench(st, 2); }
void BM_FromMessageUpcastV1(benchmark::State& st) { decode_bench(st, 1); }

constexpr std::int64_t kRebuild = 200'000;

void BM_RawWalOffWriteBatch(benchmark::State& st) {
  scratch dir;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(raw_options(), dir.path.string(), &raw).ok()) st.SkipWithError("open");
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  const std::string value(kPayload, 'v');
  std::int64_t total = 0;
  for (auto _ : st) {
    for (std::int64_t i = 0; i < kRebuild;) {
      rocksdb::WriteBatch wb;
      for (int j = 0; j < 4096 && i < kRebuild; ++j, ++i) (void)wb.Put("k/" + key_of(static_cast<std::uint64_t>(i)), value);
      (void)db->Write(wo, &wb);
    }
    total += kRebuild;
  }
  st.SetItemsProcessed(total);
}

// Last value per key: one put per event, like the raw baseline.
class last_value final : public projection::projection {
 public:
  std::string name() const override { return "last_value"; }
  std::vector<std::string> topics() const override { return {"bench"}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override { return w.put("k/" + m.key, m.value); }
};

void BM_ProjectionRebuild(benchmark::State& st) {
  scratch dir;
  auto b = filled_bus(dir.path / "bus", kRebuild);
  if (!b) {
    st.SkipWithError("open");
    return;
  }
  auto s = projection::store::open({(dir.path / "proj").string(), false});
  last_value p;
  if (!s || !(*s)->attach(p)) {
    st.SkipWithError("store");
    return;
  }
  std::int64_t total = 0;
  for (auto _ : st) {
    auto n = (*s)->rebuild(p, *b);
    if (!n) st.SkipWithError("rebuild");
    else total += static_cast<std::int64_t>(*n);
  }
  st.SetItemsProcessed(total);
}

// The digest GET /projections?digest=true and `rebuild` report: every key and value of a state
// of kRebuild keys, in key order, through SHA-256 (against BM_RawIteratorScan: the scan alone).
void BM_ProjectionDigest(benchmark::State& st) {
  scratch dir;
  auto b = filled_bus(dir.path / "bus", kRebuild);
  auto s = b ? projection::store::open({(dir.path / "proj").string(), false}) : result<std::unique_ptr<projection::store>>(error{errc::internal, "bus"});
  last_value p;
  if (!s || !(*s)->attach(p) || !(*s)->rebuild(p, *b)) {
    st.SkipWithError("setup");
    return;
  }
  std::int64_t total = 0;
  for (auto _ : st) {
    auto d = (*s)->digest(p);
    if (!d) st.SkipWithError("digest");
    benchmark::DoNotOptimize(d);
    total += kRebuild;
  }
  st.SetItemsProcessed(total);
}

}  // namespace

BENCHMARK(BM_RawIteratorScan)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_EmbeddedSequentialRead)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_RawWalOffWriteBatch)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_ProjectionRebuild)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_ProjectionDigest)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_RawEnvelopeParse)->MinTime(0.5);
BENCHMARK(BM_FromMessageAsStored)->MinTime(0.5);
BENCHMARK(BM_FromMessageCurrent)->MinTime(0.5);
BENCHMARK(BM_FromMessageUpcastV1)->MinTime(0.5);
BENCHMARK(BM_RawDirectoryCopy)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_BusBackup)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_Compaction)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
// Appends last: they leave gigabytes of dirty pages whose writeback would slow what follows.
BENCHMARK(BM_RawWriteBatch)->ArgNames({"batch", "sync"})->ArgsProduct({{1, 100}, {0, 1}})->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_EmbeddedAppend)->ArgNames({"batch", "sync"})->ArgsProduct({{1, 100}, {0, 1}})->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_ExpectedVersionAppend)->ArgNames({"batch", "sync"})->ArgsProduct({{1, 100}, {0, 1}})->UseRealTime()->MinTime(1.0);

int main(int argc, char** argv) {
  nf::log::set_level("warn");
  benchmark::Initialize(&argc, argv);
  nf::bench::ratio_reporter reporter(
      {{"BM_EmbeddedAppend", "BM_RawWriteBatch"},
       {"BM_EmbeddedSequentialRead", "BM_RawIteratorScan"},
       {"BM_ProjectionRebuild", "BM_RawWalOffWriteBatch"},
       {"BM_ProjectionDigest", "BM_RawIteratorScan"},
       {"BM_ExpectedVersionAppend", "BM_EmbeddedAppend"},
       {"BM_BusBackup", "BM_RawDirectoryCopy"},
       {"BM_Compaction", "BM_RawIteratorScan"},
       {"BM_FromMessageAsStored", "BM_RawEnvelopeParse"},
       {"BM_FromMessageCurrent", "BM_RawEnvelopeParse"},
       {"BM_FromMessageUpcastV1", "BM_RawEnvelopeParse"}},
      {{"BM_EmbeddedAppend", 0.8}, {"BM_EmbeddedSequentialRead", 0.7}, {"BM_ProjectionRebuild", 0.7}});
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
