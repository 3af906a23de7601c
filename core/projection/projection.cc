// Projection store on RocksDB: one column family per projection generation, state and consumed
// offsets committed together, rebuild into a fresh generation with an atomic swap.
#include "core/projection/projection.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <thread>
#include <mutex>
#include <shared_mutex>

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <unordered_map>

#include "core/base/hex.h"
#include "core/bus/fence.h"
#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/store/logger.h"
#include "core/store/status.h"

namespace nf::projection {
namespace {

const std::string kOffsetPrefix = std::string(kReservedPrefix) + "offset/";
// The latest owner claim read in a fenced partition (core/bus/fence.h), kept with the offsets.
const std::string kClaimPrefix = std::string(kReservedPrefix) + "claim/";

std::string tp_key(const std::string& prefix, const topic_partition& tp) {
  std::string k = prefix + tp.topic.get();
  k.push_back('\0');
  const auto p = static_cast<std::uint32_t>(tp.partition.get());
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((p >> (8 * i)) & 0xff));
  return k;
}
// Key versions (projection::counts_key_versions): prefix, topic, NUL, key.
const std::string kVersionPrefix = std::string(kReservedPrefix) + "kver/";
// Present in a generation that has counted key versions since its first event: one folded by
// code that did not count them lacks it, and is rebuilt before it is used (feed::start).
const std::string kCountingMarker = std::string(kReservedPrefix) + "kver-counting";
std::string offset_key(const topic_partition& tp) { return tp_key(kOffsetPrefix, tp); }
std::string claim_key(const topic_partition& tp) { return tp_key(kClaimPrefix, tp); }

std::string be64(std::int64_t v) {
  std::string s;
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff));
  return s;
}

std::int64_t read_be64(std::string_view s) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[static_cast<std::size_t>(i)]);
  return static_cast<std::int64_t>(v);
}

std::string cf_name(const std::string& proj, std::uint64_t gen) { return "p." + proj + "." + std::to_string(gen); }

using cf_ptr = std::shared_ptr<rocksdb::ColumnFamilyHandle>;

// Collects one batch's writes in a plain WriteBatch. Reads see earlier writes of the same batch
// through an overlay that is only built once the projection first reads, so write-only
// projections pay nothing for it.
bool has_pattern(const projection& p) {
  for (const auto& t : p.topics())
    if (t.find('*') != std::string::npos) return true;
  return false;
}

// The topics a projection reads: its names, or every topic its patterns match.
result<std::vector<bus::topic_info>> topics_of(bus::event_bus& bus, const projection& p) {
  std::vector<bus::topic_info> out;
  if (has_pattern(p)) {
    NF_TRY_ASSIGN(auto all, bus.list_topics());
    for (auto& t : all)
      if (bus::subscribed_by(p.topics(), t.name.get())) out.push_back(std::move(t));
    return out;
  }
  for (const auto& t : p.topics()) {
    NF_TRY_ASSIGN(auto info, bus.describe_topic(topic_name{t}));
    out.push_back(std::move(info));
  }
  return out;
}

// Writes go straight into the WriteBatch while the projection only writes. Once it reads, the
// batch so far moves into an ordered overlay that answers its reads, takes every later write
// (the last write of a key wins) and is written out in key order by finish(): memtable inserts
// in key order are cheaper, and a key written per event (a counter, a size) is written once.
class batch_writer final : public state_writer {
 public:
  batch_writer(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, rocksdb::WriteBatch& wb) : db_(db), cf_(cf), wb_(wb) {}
  result<std::optional<std::string>> get(std::string_view key) override {
    if (!reading_) start_reading();
    if (auto it = overlay_.find(key); it != overlay_.end()) return it->second;
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), cf_, rocksdb::Slice(key.data(), key.size()), &v);
    if (s.IsNotFound()) return std::optional<std::string>{};
    if (!s.ok()) return nf::store::to_error(s, "projection read");
    return std::optional<std::string>{std::move(v)};
  }
  result<void> put(std::string_view key, std::string_view value) override {
    NF_TRY(check(key));
    if (reading_) {
      remember(key, std::optional<std::string>(std::in_place, value));
      return ok();
    }
    return nf::store::check(wb_.Put(cf_, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size())),
                            "projection write");
  }
  result<void> del(std::string_view key) override {
    NF_TRY(check(key));
    if (reading_) {
      remember(key, std::nullopt);
      return ok();
    }
    return nf::store::check(wb_.Delete(cf_, rocksdb::Slice(key.data(), key.size())), "projection delete");
  }
  // Moves the overlay into the WriteBatch, in key order.
  result<void> finish() {
    if (!reading_) return ok();
    for (const auto& [k, v] : overlay_) {
      auto s = v ? wb_.Put(cf_, k, *v) : wb_.Delete(cf_, k);
      NF_TRY(nf::store::check(s, "projection write"));
    }
    overlay_.clear();
    reading_ = false;
    return ok();
  }

 private:
  // Moves the batch so far into the overlay; from then on every write goes there.
  void start_reading() {
    struct replay : rocksdb::WriteBatch::Handler {
      batch_writer* w;
      rocksdb::Status PutCF(std::uint32_t, const rocksdb::Slice& k, const rocksdb::Slice& v) override {
        w->remember(std::string_view(k.data(), k.size()), std::optional<std::string>(std::in_place, v.data(), v.size()));
        return rocksdb::Status::OK();
      }
      rocksdb::Status DeleteCF(std::uint32_t, const rocksdb::Slice& k) override {
        w->remember(std::string_view(k.data(), k.size()), std::nullopt);
        return rocksdb::Status::OK();
      }
    } h;
    h.w = this;
    (void)wb_.Iterate(&h);
    wb_.Clear();
    reading_ = true;
  }
  void remember(std::string_view key, std::optional<std::string> v) {
    if (auto it = overlay_.find(key); it != overlay_.end()) it->second = std::move(v);
    else overlay_.emplace(std::string(key), std::move(v));
  }
  static result<void> check(std::string_view key) {
    if (key.starts_with(kReservedPrefix))
      return error{errc::invalid_argument, "projection keys must not start with the reserved bytes ff ff"};
    return ok();
  }
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  rocksdb::WriteBatch& wb_;
  bool reading_ = false;
  std::map<std::string, std::optional<std::string>, std::less<>> overlay_;
};

class snapshot_reader final : public state_reader {
 public:
  snapshot_reader(std::shared_ptr<rocksdb::DB> db, cf_ptr cf) : db_(std::move(db)), cf_(std::move(cf)) {
    snap_ = db_->GetSnapshot();
    ro_.snapshot = snap_;
  }
  ~snapshot_reader() override { db_->ReleaseSnapshot(snap_); }
  result<std::optional<std::string>> get(std::string_view key) override {
    std::string v;
    auto s = db_->Get(ro_, cf_.get(), rocksdb::Slice(key.data(), key.size()), &v);
    if (s.IsNotFound()) return std::optional<std::string>{};
    if (!s.ok()) return nf::store::to_error(s, "projection read");
    return std::optional<std::string>{std::move(v)};
  }
  result<void> scan(std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn) override {
    // The iterator stops at the prefix's end: deleted keys after it are never stepped over.
    std::string upper(prefix);
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
    rocksdb::Slice bound;
    rocksdb::ReadOptions ro = ro_;
    if (!upper.empty()) {
      upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
      bound = rocksdb::Slice(upper);
      ro.iterate_upper_bound = &bound;
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_.get()));
    for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
      const auto k = it->key();
      if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size())) || k.starts_with(kReservedPrefix)) break;
      if (!fn(std::string_view(k.data(), k.size()), std::string_view(it->value().data(), it->value().size()))) break;
    }
    return nf::store::check(it->status(), "projection scan");
  }
  result<std::optional<std::pair<std::string, std::string>>> floor(std::string_view prefix, std::string_view key) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro_, cf_.get()));
    it->SeekForPrev(rocksdb::Slice(key.data(), key.size()));
    using found = std::optional<std::pair<std::string, std::string>>;
    if (!it->Valid()) {
      NF_TRY(nf::store::check(it->status(), "projection floor"));
      return found{};
    }
    const auto k = it->key();
    if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size())) || k.starts_with(kReservedPrefix)) return found{};
    return found{std::make_pair(k.ToString(), it->value().ToString())};
  }

 private:
  std::shared_ptr<rocksdb::DB> db_;
  cf_ptr cf_;
  const rocksdb::Snapshot* snap_;
  rocksdb::ReadOptions ro_;
};

// Reads ahead on its own thread so a rebuild decodes the log while it applies.
class prefetcher {
 public:
  explicit prefetcher(bus::consumer& c) : c_(c), t_([this] { run(); }) {}
  ~prefetcher() { stop(); }

  void stop() {
    {
      std::lock_guard lk(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    c_.wakeup();
    if (t_.joinable()) t_.join();
  }

  // The next batch, an empty one after `timeout`, or the reader's error.
  result<std::vector<bus::message>> next(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return !q_.empty() || err_; });
    if (!q_.empty()) {
      auto b = std::move(q_.front());
      q_.pop_front();
      cv_.notify_all();
      return b;
    }
    if (err_) return *err_;
    return std::vector<bus::message>{};
  }

 private:
  void run() {
    for (;;) {
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return q_.size() < 4 || stop_; });
        if (stop_) return;
      }
      auto r = c_.poll(std::chrono::milliseconds(200), 4096);
      std::lock_guard lk(mu_);
      if (!r) {
        err_ = r.error();
        cv_.notify_all();
        return;
      }
      if (!r->empty()) q_.push_back(std::move(*r));
      cv_.notify_all();
    }
  }

  bus::consumer& c_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<bus::message>> q_;
  std::optional<error> err_;
  bool stop_ = false;
  std::thread t_;
};

struct proj_state {
  std::mutex apply_mu;                       // one writer at a time (live apply or rebuild swap)
  std::shared_mutex cf_mu;                   // guards cf and gen
  cf_ptr cf;
  std::uint64_t gen = 0;
  std::map<topic_partition, std::int64_t> next;  // committed offsets of the active generation
  std::map<topic_partition, std::int64_t> claims;  // latest owner claim per fenced partition
};

class store_impl final : public store {
 public:
  explicit store_impl(store_options o) : opts_(std::move(o)), log_(nf::log::get("projection")) {}
  std::shared_ptr<rocksdb::Cache> cache_;

  ~store_impl() override {
    // Every column family handle must be gone before the database closes.
    if (!db_) {
      states_.clear();
      handles_.clear();
    }
    if (db_) {
      // Nothing applied may live only in a WAL after a clean stop.
      rocksdb::FlushOptions fo;
      fo.wait = true;
      std::vector<rocksdb::ColumnFamilyHandle*> all;
      if (meta_) all.push_back(meta_);
      for (auto& [name, h] : handles_) all.push_back(h.get());
      if (auto s = db_->Flush(fo, all); !s.ok()) log_->error("flush at close failed ({}); the WAL keeps the changes", s.ToString());
      states_.clear();
      handles_.clear();
      if (meta_) (void)db_->DestroyColumnFamilyHandle(meta_);
      (void)db_->Close();
    }
  }

  // Point reads dominate queries and the fold's own lookups (proof nodes, "seen before?" keys that
  // are mostly absent): a shared block cache, and Bloom filters so absent keys cost no block read.
  rocksdb::ColumnFamilyOptions cf_options() {
    if (!cache_) cache_ = rocksdb::NewLRUCache(256 << 20);
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache_;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Index and filter blocks stay with the open table files, outside the cache: a large file's
    // filter can exceed a cache shard, and re-reading it per lookup costs more than the lookup.
    t.cache_index_and_filter_blocks = false;
    rocksdb::ColumnFamilyOptions o;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    return o;
  }

  // Projections that read while they fold also get a memtable Bloom filter, so a lookup of an
  // absent key skips the skip list (it costs a hash per write, which write-only folds skip).
  result<void> tune_for(const projection& p, rocksdb::ColumnFamilyHandle* cf) {
    if (!p.reads_while_folding()) return ok();
    return nf::store::check(db_->SetOptions(cf, {{"memtable_whole_key_filtering", "true"}, {"memtable_prefix_bloom_size_ratio", "0.02"}}),
                            "tune column family for " + p.name());
  }

  result<void> open() {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    options.paranoid_checks = true;
    // A damaged WAL fails the open; only a torn last record (a crash) is tolerated.
    options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    options.info_log = nf::store::make_logger("projections");
    options.IncreaseParallelism(2);
    std::vector<std::string> names;
    auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), opts_.path, &names);
    if (!s.ok()) names = {rocksdb::kDefaultColumnFamilyName};
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const auto& n : names) descs.emplace_back(n, cf_options());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    s = rocksdb::DB::Open(options, opts_.path, descs, &handles, &raw);
    if (!s.ok()) return nf::store::to_error(s, "cannot open projection store '" + opts_.path + "'");
    db_.reset(raw);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == rocksdb::kDefaultColumnFamilyName) {
        meta_ = handles[i];
        continue;
      }
      handles_[names[i]] = wrap(handles[i]);
    }
    return ok();
  }

  result<void> verify_checksums() override {
    return nf::store::check(db_->VerifyChecksum(), "projection store '" + opts_.path + "'");
  }

  result<nf::store::db_backup> backup(const std::string& engine_dir, const std::string& metadata,
                                      const nf::store::copy_progress& progress) override {
    return nf::store::backup_db(*db_, engine_dir, metadata, progress);
  }

  result<void> attach(projection& p) override {
    std::lock_guard lk(mu_);
    if (states_.count(p.name())) return ok();
    auto st = std::make_unique<proj_state>();
    std::string gen;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, "active/" + p.name(), &gen);
    if (s.ok()) st->gen = std::stoull(gen);
    else if (!s.IsNotFound()) return nf::store::to_error(s, "cannot read projection catalogue");
    const auto name = cf_name(p.name(), st->gen);
    if (auto it = handles_.find(name); it != handles_.end()) {
      st->cf = it->second;
    } else {
      NF_TRY_ASSIGN(st->cf, create_cf_locked(name));
      rocksdb::WriteOptions wo;
      wo.sync = true;
      NF_TRY(nf::store::check(db_->Put(wo, meta_, "active/" + p.name(), std::to_string(st->gen)), "projection catalogue"));
    }
    // Generations other than the active one are leftovers of an interrupted rebuild.
    const std::string prefix = "p." + p.name() + ".";
    for (auto it = handles_.begin(); it != handles_.end();) {
      if (it->first.starts_with(prefix) && it->first != name && it->first.substr(prefix.size()).find('.') == std::string::npos) {
        log_->warn("dropping unfinished rebuild {} of projection {}", it->first, p.name());
        NF_TRY(nf::store::check(db_->DropColumnFamily(it->second.get()), "drop column family " + it->first));
        it = handles_.erase(it);
      } else {
        ++it;
      }
    }
    NF_TRY(tune_for(p, st->cf.get()));
    NF_TRY(load_offsets(st->cf.get(), kOffsetPrefix, st->next));
    NF_TRY(load_offsets(st->cf.get(), kClaimPrefix, st->claims));
    // A generation that has applied nothing yet counts from its first event.
    if (p.counts_key_versions() && st->next.empty())
      NF_TRY(nf::store::check(db_->Put(rocksdb::WriteOptions(), st->cf.get(), kCountingMarker, ""), "projection " + p.name()));
    states_[p.name()] = std::move(st);
    return ok();
  }

  // True when `p` counts key versions but its generation was folded without counting them.
  result<bool> lacks_version_counts(const projection& p) {
    if (!p.counts_key_versions()) return false;
    NF_TRY_ASSIGN(auto* st, state_of(p));
    std::shared_lock rl(st->cf_mu);
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), st->cf.get(), kCountingMarker, &v);
    if (s.IsNotFound()) return true;
    NF_TRY(nf::store::check(s, "projection " + p.name()));
    return false;
  }

  result<std::size_t> apply(projection& p, std::span<const bus::message> batch) override {
    NF_TRY_ASSIGN(auto* st, state_of(p));
    std::lock_guard lk(st->apply_mu);
    cf_ptr cf;
    {
      std::shared_lock rl(st->cf_mu);
      cf = st->cf;
    }
    return apply_into(p, cf.get(), st->next, st->claims, batch, false);
  }

  result<std::map<topic_partition, offset>> last_applied(const projection& p) override {
    NF_TRY_ASSIGN(auto* st, state_of(p));
    std::lock_guard lk(st->apply_mu);
    std::map<topic_partition, offset> out;
    for (const auto& [tp, off] : st->next) out[tp] = offset{off};
    return out;
  }

  result<std::optional<offset>> latest_claim(const projection& p, const topic_partition& tp) override {
    NF_TRY_ASSIGN(auto* st, state_of(p));
    std::lock_guard lk(st->apply_mu);
    auto it = st->claims.find(tp);
    if (it == st->claims.end()) return std::optional<offset>();
    return std::optional<offset>(offset{it->second});
  }

  result<std::unique_ptr<state_reader>> reader(const projection& p) override {
    NF_TRY_ASSIGN(auto* st, state_of(p));
    std::shared_lock rl(st->cf_mu);
    return std::unique_ptr<state_reader>(std::make_unique<snapshot_reader>(db_, st->cf));
  }

  result<std::vector<std::optional<std::string>>> get_many(const projection& p, std::span<const std::string> keys) override {
    NF_TRY_ASSIGN(auto* st, state_of(p));
    std::vector<std::optional<std::string>> out(keys.size());
    if (keys.empty()) return out;
    std::vector<rocksdb::Slice> slices;
    slices.reserve(keys.size());
    for (const auto& k : keys) {
      if (std::string_view(k).starts_with(kReservedPrefix) && !std::string_view(k).starts_with(kVersionPrefix))
        return error{errc::invalid_argument, "reserved key '" + k + "'"};
      slices.emplace_back(k);
    }
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> statuses(keys.size());
    {
      std::shared_lock rl(st->cf_mu);
      db_->MultiGet(rocksdb::ReadOptions(), st->cf.get(), keys.size(), slices.data(), values.data(), statuses.data());
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound()) continue;
      if (!statuses[i].ok()) return nf::store::to_error(statuses[i], "projection read");
      out[i] = values[i].ToString();
    }
    return out;
  }

  result<std::uint64_t> generation(const projection& p) override {
    NF_TRY_ASSIGN(auto* st, state_of(p));
    std::shared_lock rl(st->cf_mu);
    return st->gen;
  }

  result<std::string> digest(const projection& p, const std::function<void(std::uint64_t keys)>& progress) override {
    NF_TRY_ASSIGN(auto r, reader(p));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    auto feed = [&](std::string_view s) {
      const std::string len = be64(static_cast<std::int64_t>(s.size()));
      EVP_DigestUpdate(ctx, len.data(), len.size());
      EVP_DigestUpdate(ctx, s.data(), s.size());
    };
    std::uint64_t keys = 0;
    auto res = r->scan("", [&](std::string_view k, std::string_view v) {
      feed(k);
      feed(v);
      if (progress && (++keys & 0xffff) == 0) progress(keys);
      return true;
    });
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    if (!res) return std::move(res).error();
    return to_hex(std::string_view(reinterpret_cast<const char*>(md), n));
  }

  result<std::uint64_t> rebuild(projection& p, bus::event_bus& bus,
                                const std::function<void(const rebuild_progress&)>& progress) override {
    NF_TRY_ASSIGN(auto* st, state_of(p));
    std::uint64_t new_gen;
    {
      std::shared_lock rl(st->cf_mu);
      new_gen = st->gen + 1;
    }
    const auto name = cf_name(p.name(), new_gen);
    cf_ptr cf;
    {
      std::lock_guard g(mu_);
      NF_TRY_ASSIGN(cf, create_cf_locked(name));
    }
    NF_TRY(tune_for(p, cf.get()));
    if (p.counts_key_versions())
      NF_TRY(nf::store::check(db_->Put(rocksdb::WriteOptions(), cf.get(), kCountingMarker, ""), "projection " + p.name()));
    std::map<topic_partition, std::int64_t> next, claims;

    // Plan: every partition of every topic, from its first stored offset to the current end.
    std::map<topic_partition, std::int64_t> ends, starts;
    rebuild_progress prog;
    std::vector<std::pair<topic_partition, offset>> assign;
    NF_TRY_ASSIGN(auto topics, topics_of(bus, p));
    for (const auto& info : topics) {
      for (std::int32_t i = 0; i < info.config.partitions; ++i) {
        topic_partition tp{info.name, partition_id{i}};
        NF_TRY_ASSIGN(auto b, bus.begin_offset(tp));
        NF_TRY_ASSIGN(auto e, bus.end_offset(tp));
        assign.emplace_back(tp, b);
        ends[tp] = e.get();
        starts[tp] = b.get();
        prog.total += static_cast<std::uint64_t>(e.get() - b.get());
      }
    }
    NF_TRY_ASSIGN(auto consumer, bus.make_consumer(bus::consumer_options{}));
    NF_TRY(consumer->assign(assign));
    prefetcher reader(*consumer);
    auto reached = [&](const std::map<topic_partition, std::int64_t>& targets) {
      for (const auto& [tp, end] : targets) {
        auto it = next.find(tp);
        const std::int64_t at = it == next.end() ? starts[tp] : it->second;
        if (at < end) return false;
      }
      return true;
    };
    auto replay_until = [&](const std::map<topic_partition, std::int64_t>& targets) -> result<void> {
      while (!reached(targets)) {
        NF_TRY_ASSIGN(auto msgs, reader.next(std::chrono::milliseconds(1000)));
        if (msgs.empty()) continue;
        NF_TRY_ASSIGN(auto n, apply_into(p, cf.get(), next, claims, msgs, true));
        prog.applied += n;
        if (progress) progress(prog);
      }
      return ok();
    };
    NF_TRY(replay_until(ends));

    // Swap: block live applies, replay the tail they added meanwhile, make it durable, switch.
    std::lock_guard lk(st->apply_mu);
    for (auto& [tp, end] : ends) {
      NF_TRY_ASSIGN(auto e, bus.end_offset(tp));
      end = e.get();
    }
    NF_TRY(replay_until(ends));
    reader.stop();
    NF_TRY(nf::store::check(db_->Flush(rocksdb::FlushOptions(), cf.get()), "flush rebuilt projection"));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    NF_TRY(nf::store::check(db_->Put(wo, meta_, "active/" + p.name(), std::to_string(new_gen)), "projection catalogue"));
    cf_ptr old;
    {
      std::unique_lock wl(st->cf_mu);
      old = st->cf;
      st->cf = cf;
      st->gen = new_gen;
      st->next = next;
      st->claims = claims;
    }
    {
      std::lock_guard g(mu_);
      handles_.erase(old->GetName());
    }
    NF_TRY(nf::store::check(db_->DropColumnFamily(old.get()), "drop old projection generation"));
    log_->info("rebuilt projection {} into generation {} ({} events)", p.name(), new_gen, prog.applied);
    return prog.applied;
  }

 private:
  cf_ptr wrap(rocksdb::ColumnFamilyHandle* h) {
    std::weak_ptr<rocksdb::DB> weak = db_;
    return cf_ptr(h, [weak](rocksdb::ColumnFamilyHandle* x) {
      if (auto db = weak.lock()) (void)db->DestroyColumnFamilyHandle(x);
      else delete x;
    });
  }

  // Caller holds mu_.
  result<cf_ptr> create_cf_locked(const std::string& name) {
    rocksdb::ColumnFamilyHandle* h = nullptr;
    NF_TRY(nf::store::check(db_->CreateColumnFamily(cf_options(), name, &h), "create column family " + name));
    auto p = wrap(h);
    handles_[name] = p;
    return p;
  }

  result<proj_state*> state_of(const projection& p) {
    std::lock_guard lk(mu_);
    auto it = states_.find(p.name());
    if (it == states_.end()) return error{errc::not_found, "projection '" + p.name() + "' is not attached to the store"};
    return it->second.get();
  }

  result<void> load_offsets(rocksdb::ColumnFamilyHandle* cf, const std::string& prefix, std::map<topic_partition, std::int64_t>& out) {
    out.clear();
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const auto k = it->key().ToString().substr(prefix.size());
      const auto nul = k.find('\0');
      if (nul == std::string::npos || k.size() != nul + 5 || it->value().size() != 8)
        return error{errc::corruption, "corrupt offset entry in projection store"};
      std::uint32_t part = 0;
      for (std::size_t i = 0; i < 4; ++i) part = (part << 8) | static_cast<unsigned char>(k[nul + 1 + i]);
      out[{topic_name{k.substr(0, nul)}, partition_id{static_cast<std::int32_t>(part)}}] =
          read_be64(std::string_view(it->value().data(), 8));
    }
    return nf::store::check(it->status(), "read projection offsets");
  }

  // One WriteBatch: the state changes of every new event plus the new offsets. `next` is only
  // updated once the write succeeded.
  result<std::size_t> apply_into(projection& p, rocksdb::ColumnFamilyHandle* cf, std::map<topic_partition, std::int64_t>& next,
                                 std::map<topic_partition, std::int64_t>& claims, std::span<const bus::message> batch, bool rebuilding) {
    rocksdb::WriteBatch wb;
    batch_writer w(db_.get(), cf, wb);
    std::map<topic_partition, std::int64_t> moved;
    std::map<topic_partition, std::optional<std::int64_t>> claimed;  // claims of this batch
    std::size_t applied = 0, fenced = 0, marks = 0;  // marks: claims and refused records, consumed not applied
    std::map<std::string, std::int64_t> versions;     // counts_key_versions: as this batch leaves them
    for (const auto& m : batch) {
      topic_partition tp{m.topic, m.partition};
      auto mit = moved.find(tp);
      std::int64_t at;
      if (mit != moved.end()) at = mit->second;
      else {
        auto nit = next.find(tp);
        at = nit == next.end() ? 0 : nit->second;
      }
      if (m.off.get() < at) continue;  // applied before: retries and overlaps are harmless
      if (!m.key.empty() && p.counts_key_versions()) {
        auto k = key_version_key(m.topic.get(), m.key);
        auto vit = versions.find(k);
        if (vit == versions.end()) {
          std::string v;
          auto s = db_->Get(rocksdb::ReadOptions(), cf, k, &v);
          if (!s.ok() && !s.IsNotFound()) return nf::store::to_error(s, "projection " + p.name() + ": reading a key version");
          NF_TRY_ASSIGN(auto current, parse_key_version(s.ok() ? std::optional<std::string>(std::move(v)) : std::nullopt));
          vit = versions.emplace(std::move(k), current).first;
        }
        ++vit->second;
      }
      if (m.find_header(bus::kClaimHeader) || m.find_header(bus::kEpochHeader)) {
        auto cit = claimed.find(tp);
        if (cit == claimed.end()) {
          auto known = claims.find(tp);
          cit = claimed.emplace(tp, known == claims.end() ? std::nullopt : std::optional<std::int64_t>(known->second)).first;
        }
        const auto verdict = bus::judge(m, cit->second);
        if (verdict != bus::fence_verdict::current) {
          // A claim is the framework's record, not the projection's; a stale write is refused.
          if (verdict == bus::fence_verdict::stale) {
            ++fenced;
            log_->warn("projection {} refuses {}@{}: written by a deposed owner (epoch {}, the partition's owner claimed at {})",
                       p.name(), to_string(tp), m.off.get(), *m.find_header(bus::kEpochHeader),
                       cit->second ? std::to_string(*cit->second) : std::string("?"));
          }
          moved[tp] = m.off.get() + 1;
          ++marks;
          continue;
        }
      }
      auto r = p.apply(m, w);
      if (!r)
        return error{r.error().code, "projection " + p.name() + " failed on " + to_string(tp) + "@" +
                                         std::to_string(m.off.get()) + ": " + r.error().message};
      moved[tp] = m.off.get() + 1;
      ++applied;
    }
    for (const auto& [tp, c] : claimed)
      if (c) (void)wb.Put(cf, claim_key(tp), be64(*c));
    for (const auto& [k, v] : versions) (void)wb.Put(cf, k, be64(v));
    if (moved.empty()) return applied;
    NF_TRY(w.finish());
    for (const auto& [tp, off] : moved) (void)wb.Put(cf, offset_key(tp), be64(off));
    rocksdb::WriteOptions wo;
    wo.sync = opts_.sync && !rebuilding;
    wo.disableWAL = rebuilding;  // a rebuild is flushed before it is swapped in
    // After a failed write (a full disk) the store takes writes again once resumed.
    rocksdb::Status s = rocksdb::Status::OK();
    if (needs_resume_) {
      s = db_->Resume();
      if (s.ok()) needs_resume_ = false;
    }
    if (s.ok()) s = db_->Write(wo, &wb);
    if (!s.ok()) needs_resume_ = true;
    NF_TRY(nf::store::check(s, "commit projection " + p.name()));
    for (const auto& [tp, off] : moved) next[tp] = off;
    for (const auto& [tp, c] : claimed)
      if (c) claims[tp] = *c;
    if (fenced && !rebuilding)
      metrics::registry::global()
          .get_counter("nf_projection_fenced_events_total", "Events refused because a deposed owner wrote them", {{"projection", p.name()}})
          .inc(fenced);
    if (!rebuilding)
      metrics::registry::global()
          .get_counter("nf_projection_applied_events_total", "Events applied by projections", {{"projection", p.name()}})
          .inc(applied);
    return applied + marks;
  }

  store_options opts_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> needs_resume_{false};
  std::shared_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  std::mutex mu_;
  std::map<std::string, cf_ptr> handles_;
  std::map<std::string, std::unique_ptr<proj_state>> states_;
};

}  // namespace

std::string key_version_key(std::string_view topic, std::string_view key) {
  std::string k = kVersionPrefix;
  k.append(topic);
  k.push_back('\0');
  k.append(key);
  return k;
}

result<std::int64_t> parse_key_version(const std::optional<std::string>& value) {
  if (!value) return std::int64_t{0};
  if (value->size() != 8) return error{errc::corruption, "a key version of " + std::to_string(value->size()) + " bytes (expected 8)"};
  return read_be64(*value);
}

result<std::unique_ptr<store>> store::open(const store_options& opts) {
  auto s = std::make_unique<store_impl>(opts);
  NF_TRY(s->open());
  return std::unique_ptr<store>(std::move(s));
}

// ---- runner -----------------------------------------------------------------------------------

runner::runner(store& s, projection& p, bus::event_bus& bus, runner_options o)
    : store_(s), proj_(p), bus_(bus), opts_(o) {}

runner::~runner() = default;



result<void> runner::ensure_consumer() {
  if (consumer_) return ok();
  NF_TRY(store_.attach(proj_));
  NF_TRY_ASSIGN(auto applied, store_.last_applied(proj_));
  std::vector<std::pair<topic_partition, offset>> assign;
  NF_TRY_ASSIGN(auto topics, topics_of(bus_, proj_));
  matched_ = topics.size();
  checked_ = std::chrono::steady_clock::now();
  for (const auto& info : topics) {
    for (std::int32_t i = 0; i < info.config.partitions; ++i) {
      topic_partition tp{info.name, partition_id{i}};
      auto it = applied.find(tp);
      offset from{0};
      if (it != applied.end()) from = it->second;
      else {
        NF_TRY_ASSIGN(from, bus_.begin_offset(tp));
      }
      assign.emplace_back(tp, from);
    }
  }
  NF_TRY_ASSIGN(consumer_, bus_.make_consumer(bus::consumer_options{}));
  return consumer_->assign(assign);
}

result<void> runner::verify_positions() {
  NF_TRY_ASSIGN(auto applied, store_.last_applied(proj_));
  for (const auto& [tp, off] : applied) {
    auto end = bus_.end_offset(tp);
    if (!end && end.error().code == errc::not_found) continue;  // topic deleted: nothing to resume
    if (!end) return end.error();
    if (off.get() > end->get())
      return error{errc::corruption, "projection " + proj_.name() + " has applied " + to_string(tp) + " up to offset " +
                                         std::to_string(off.get()) + " but the bus ends at " + std::to_string(end->get()) +
                                         ": the bus lost records this projection holds. Run 'nexus-forge doctor --config <file>'; "
                                         "'doctor --repair' rebuilds projections that are ahead of the bus"};
  }
  return ok();
}

result<std::size_t> runner::step(std::chrono::milliseconds timeout) {
  if (consumer_ && has_pattern(proj_) && std::chrono::steady_clock::now() - checked_ > std::chrono::seconds(1)) {
    NF_TRY_ASSIGN(auto topics, topics_of(bus_, proj_));
    checked_ = std::chrono::steady_clock::now();
    if (topics.size() != matched_) consumer_.reset();  // reassigned below, from the committed offsets
  }
  NF_TRY(ensure_consumer());
  NF_TRY_ASSIGN(auto msgs, consumer_->poll(timeout, opts_.batch_size));
  if (msgs.empty()) return std::size_t{0};
  auto applied = store_.apply(proj_, msgs);
  // Nothing of a failed batch was committed: read it again from the committed offsets.
  if (!applied) consumer_.reset();
  return applied;
}

result<std::uint64_t> runner::catch_up() {
  NF_TRY(ensure_consumer());
  std::map<topic_partition, std::int64_t> ends, starts;
  for (const auto& tp : consumer_->assignment()) {
    NF_TRY_ASSIGN(auto e, bus_.end_offset(tp));
    NF_TRY_ASSIGN(auto b, bus_.begin_offset(tp));
    ends[tp] = e.get();
    starts[tp] = b.get();
  }
  std::uint64_t total = 0;
  for (;;) {
    NF_TRY_ASSIGN(auto applied, store_.last_applied(proj_));
    bool done = true;
    for (const auto& [tp, end] : ends) {
      auto it = applied.find(tp);
      if ((it == applied.end() ? starts[tp] : it->second.get()) < end) done = false;
    }
    if (done) return total;
    NF_TRY_ASSIGN(auto n, step(std::chrono::milliseconds(1000)));
    total += n;
  }
}

result<std::uint64_t> runner::lag() {
  NF_TRY(ensure_consumer());
  NF_TRY_ASSIGN(auto applied, store_.last_applied(proj_));
  std::uint64_t lag = 0;
  for (const auto& tp : consumer_->assignment()) {
    NF_TRY_ASSIGN(auto e, bus_.end_offset(tp));
    NF_TRY_ASSIGN(auto b, bus_.begin_offset(tp));
    auto it = applied.find(tp);
    const auto at = it == applied.end() ? b.get() : it->second.get();
    if (e.get() > at) lag += static_cast<std::uint64_t>(e.get() - at);
  }
  return lag;
}

// ---- feed -------------------------------------------------------------------------------------

struct feed::impl {
  store& st;
  projection& proj;
  bus::event_bus& bus;
  runner_options opts;
  runner run;
  std::thread thread;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<topic_partition, std::int64_t> applied;
  std::atomic<bool> stopping{false};
  std::atomic<bool> caught_up{false};
  std::atomic<std::uint64_t> lag{0};
  std::shared_ptr<spdlog::logger> log = nf::log::get("projection");
  metrics::gauge* lag_gauge;
  std::function<void()> listener;

  impl(store& s, projection& p, bus::event_bus& b, runner_options o)
      : st(s), proj(p), bus(b), opts(o), run(s, p, b, o),
        lag_gauge(&metrics::registry::global().get_gauge("nf_projection_lag_events", "Events not yet applied by a projection",
                                                         {{"projection", p.name()}})) {}

  void refresh() {
    auto a = st.last_applied(proj);
    if (!a) return;
    std::lock_guard lk(mu);
    for (const auto& [tp, off] : *a) applied[tp] = off.get();
  }

  void loop() {
    while (!nf::log::guarded("projection-feed", [&] { loop_once(); }) && !stopping) {
      std::unique_lock lk(mu);
      cv.wait_for(lk, std::chrono::seconds(1), [&] { return stopping.load(); });
    }
  }

  void loop_once() {
    auto last_lag_check = std::chrono::steady_clock::now() - std::chrono::seconds(10);
    while (!stopping) {
      auto n = run.step(std::chrono::milliseconds(200));
      if (!n) {
        log->error("projection {} stopped applying: {}", proj.name(), describe(n.error()));
        std::unique_lock lk(mu);
        cv.wait_for(lk, std::chrono::seconds(1), [&] { return stopping.load(); });
        continue;
      }
      if (*n > 0) {
        if (listener) listener();  // before waiters learn of the new positions
        refresh();
      }
      if (*n > 0 && *n < opts.batch_size / 4 && opts.linger.count() > 0) {
        cv.notify_all();
        std::unique_lock lk(mu);
        cv.wait_for(lk, opts.linger, [&] { return stopping.load(); });
      }
      const auto now = std::chrono::steady_clock::now();
      if (*n == 0 || now - last_lag_check > std::chrono::milliseconds(500)) {
        last_lag_check = now;
        auto l = run.lag();
        if (l) {
          lag = *l;
          lag_gauge->set(static_cast<double>(*l));
          if (*l == 0) caught_up = true;
        }
      }
      cv.notify_all();
    }
  }
};

feed::feed(store& s, projection& p, bus::event_bus& bus, runner_options o) : impl_(std::make_unique<impl>(s, p, bus, o)) {}

feed::~feed() { stop(); }

void feed::on_applied(std::function<void()> fn) { impl_->listener = std::move(fn); }

result<void> feed::start() {
  NF_TRY(impl_->st.attach(impl_->proj));
  // Folded by code that did not count key versions (a data dir from before they existed): the
  // counts must cover every event, so the read model is rebuilt once, before it serves.
  if (auto* s = dynamic_cast<store_impl*>(&impl_->st)) {
    NF_TRY_ASSIGN(const bool lacks, s->lacks_version_counts(impl_->proj));
    if (lacks) {
      nf::log::get("projection")->warn("projection {} starts counting key versions: rebuilding it from the log first", impl_->proj.name());
      NF_TRY(impl_->st.rebuild(impl_->proj, impl_->bus));
    }
  }
  NF_TRY(impl_->run.verify_positions());
  if (impl_->listener) impl_->listener();
  impl_->refresh();
  impl_->thread = std::thread([this] { impl_->loop(); });
  return ok();
}

void feed::stop() {
  impl_->stopping = true;
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

bool feed::caught_up() const { return impl_->caught_up; }
bool feed::consumes(std::string_view topic) const { return bus::subscribed_by(impl_->proj.topics(), topic); }
std::uint64_t feed::lag() const { return impl_->lag; }

bool feed::wait_applied(const topic_partition& tp, offset off, std::chrono::milliseconds timeout) {
  std::unique_lock lk(impl_->mu);
  return impl_->cv.wait_for(lk, timeout, [&] {
    auto it = impl_->applied.find(tp);
    return it != impl_->applied.end() && it->second > off.get();
  });
}

}  // namespace nf::projection
