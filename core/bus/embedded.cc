// Embedded bus implementation: RocksDB-backed log, group commit, in-process consumer groups.
#include "core/bus/embedded.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "core/log/guard.h"
#include "core/log/log.h"
#include "core/metrics/metrics.h"
#include "core/store/logger.h"
#include "core/store/status.h"

namespace nf::bus {
namespace {

namespace fs = std::filesystem;
constexpr const char* kFormat = "nexus-forge-log/1";
constexpr const char* kLogCf = "log";
constexpr std::uint8_t kRecordMagic = 0x01;
constexpr std::size_t kCompactionMaxKeyBytes = 64 << 20;  // key bytes one pass of the cleaner maps at most

// ---- key and value encoding -------------------------------------------------------------------

void put_be32(std::string& s, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
void put_be64(std::string& s, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) s.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
std::uint64_t get_be64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::string log_key(std::uint32_t topic_id, std::int32_t part, std::int64_t off) {
  std::string k;
  k.reserve(16);
  put_be32(k, topic_id);
  put_be32(k, static_cast<std::uint32_t>(part));
  put_be64(k, static_cast<std::uint64_t>(off));
  return k;
}

template <class T>
void put_raw(std::string& s, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  s.append(buf, sizeof(T));
}

// Value layout: magic u8 | ts i64 | max_ts i64 | pos i64 | key_len u32 | n_headers u32 | key |
// (name_len u32 | name | value_len u32 | value)* | value. Integers are host order (little endian).
// max_ts (the largest timestamp so far) and pos (bytes before this record) are monotonic, so
// timestamp lookup and size retention are binary searches.
void encode_record(std::string& out, const record& r, std::int64_t ts, std::int64_t max_ts, std::int64_t pos) {
  out.clear();
  out.reserve(1 + 8 * 3 + 8 + r.key.size() + r.value.size() + r.headers.size() * 16);
  out.push_back(static_cast<char>(kRecordMagic));
  put_raw(out, ts);
  put_raw(out, max_ts);
  put_raw(out, pos);
  put_raw(out, static_cast<std::uint32_t>(r.key.size()));
  put_raw(out, static_cast<std::uint32_t>(r.headers.size()));
  out.append(r.key);
  for (const auto& h : r.headers) {
    put_raw(out, static_cast<std::uint32_t>(h.name.size()));
    out.append(h.name);
    put_raw(out, static_cast<std::uint32_t>(h.value.size()));
    out.append(h.value);
  }
  out.append(r.value);
}

struct record_meta {
  std::int64_t ts, max_ts, pos;
};

class cursor {
 public:
  cursor(const char* p, std::size_t n) : p_(p), end_(p + n) {}
  template <class T>
  bool raw(T& v) {
    if (static_cast<std::size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool bytes(std::string& s, std::uint32_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    s.assign(p_, n);
    p_ += n;
    return true;
  }
  void rest(std::string& s) {
    s.assign(p_, static_cast<std::size_t>(end_ - p_));
    p_ = end_;
  }

 private:
  const char* p_;
  const char* end_;
};

// `where` renders the record's position; it is only called to build an error message.
template <class Where>
result<void> decode_meta(rocksdb::Slice v, record_meta& m, const Where& where) {
  if (v.size() < 25 || static_cast<std::uint8_t>(v[0]) != kRecordMagic)
    return error{errc::corruption, "corrupt log record at " + where() + ": bad header (size " + std::to_string(v.size()) + ")"};
  std::memcpy(&m.ts, v.data() + 1, 8);
  std::memcpy(&m.max_ts, v.data() + 9, 8);
  std::memcpy(&m.pos, v.data() + 17, 8);
  return ok();
}

template <class Where>
result<void> decode_record(rocksdb::Slice v, message& msg, const Where& where) {
  record_meta m{};
  NF_TRY(decode_meta(v, m, where));
  cursor c(v.data() + 25, v.size() - 25);
  std::uint32_t klen = 0, nh = 0;
  if (!c.raw(klen) || !c.raw(nh) || !c.bytes(msg.key, klen))
    return error{errc::corruption, "corrupt log record at " + where() + ": truncated key"};
  msg.headers.clear();
  msg.headers.reserve(nh);
  for (std::uint32_t i = 0; i < nh; ++i) {
    header h;
    std::uint32_t n = 0;
    if (!c.raw(n) || !c.bytes(h.name, n) || !c.raw(n) || !c.bytes(h.value, n))
      return error{errc::corruption, "corrupt log record at " + where() + ": truncated header " + std::to_string(i)};
    msg.headers.push_back(std::move(h));
  }
  c.rest(msg.value);
  msg.timestamp_ms = m.ts;
  return ok();
}

std::string meta_topic_key(const std::string& name) { return std::string("topic\x00", 6) + name; }
std::string meta_begin_key(std::uint32_t id, std::int32_t part) {
  std::string k("begin\x00", 6);
  put_be32(k, id);
  put_be32(k, static_cast<std::uint32_t>(part));
  return k;
}
// A key's version on a topic with key_versions (see bus.h): big-endian u64.
std::string meta_version_key(std::uint32_t id, std::string_view key) {
  std::string k("kver\x00", 5);
  put_be32(k, id);
  k.append(key);
  return k;
}
std::string meta_group_key(const std::string& group, const topic_partition& tp) {
  std::string k("group\x00", 6);
  k += group;
  k.push_back('\0');
  k += tp.topic.get();
  k.push_back('\0');
  put_be32(k, static_cast<std::uint32_t>(tp.partition.get()));
  return k;
}

// ---- ownership --------------------------------------------------------------------------------

class owner_lock {
 public:
  static result<std::unique_ptr<owner_lock>> acquire(const fs::path& dir) {
    const auto path = dir / "OWNER";
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return error{errc::io_error, "cannot open " + path.string() + ": " + std::strerror(errno)};
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      std::string owner;
      char buf[512];
      ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
      if (n > 0) owner.assign(buf, static_cast<std::size_t>(n));
      ::close(fd);
      while (!owner.empty() && (owner.back() == '\n' || owner.back() == '\0')) owner.pop_back();
      return error{errc::locked, "data directory '" + dir.string() + "' is owned by another process (" +
                                     (owner.empty() ? std::string("unknown owner") : owner) +
                                     "); stop it, or open the directory read-only"};
    }
    std::string cmd;
    {
      std::ifstream in("/proc/self/cmdline", std::ios::binary);
      std::getline(in, cmd, '\0');
      std::string arg;
      if (std::getline(in, arg, '\0')) cmd += " " + arg;
    }
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    const std::string text = "pid " + std::to_string(::getpid()) + ", " + cmd + ", host " + host + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      ::close(fd);
      return error{errc::io_error, "cannot write " + path.string()};
    }
    auto lock = std::make_unique<owner_lock>();
    lock->fd_ = fd;
    return lock;
  }
  ~owner_lock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_ = -1;
};

// ---- state ------------------------------------------------------------------------------------

struct partition_state {
  std::int64_t begin = 0;     // first stored offset
  std::int64_t end = 0;       // visible end: every offset below it is durable and readable
  std::int64_t next = 0;      // next offset to assign (== end outside a write)
  std::int64_t max_ts = 0;    // largest timestamp so far
  std::int64_t next_pos = 0;  // bytes appended before `next`
};

struct topic_state {
  std::string name;
  std::uint32_t id = 0;
  topic_config cfg;
  std::vector<partition_state> parts;
  std::uint64_t round_robin = 0;
  metrics::counter* appended = nullptr;
  metrics::counter* compacted = nullptr;
};

struct append_request {
  topic_state* topic = nullptr;
  std::span<const record> records;
  std::vector<append_result> results;
  std::optional<error> err;
  bool done = false;
  // Its appender waits here (with the bus mutex): woken when its group is written, or to lead the
  // next group. One per request, so a write wakes only the appenders it finished.
  std::condition_variable cv;
  // An append_async: nobody waits; the records are owned here and `finished` is called once the
  // group is written (or failed), outside the bus mutex.
  std::vector<record> owned;
  event_bus::append_done finished;
  std::chrono::steady_clock::time_point started{};
};

class embedded_consumer;

struct group_member {
  std::uint64_t id;
  std::vector<std::string> subscriptions;
};

std::string topic_json(const topic_state& t) {
  nlohmann::json j{{"id", t.id},
                   {"partitions", t.cfg.partitions},
                   {"retention_ms", t.cfg.retention_ms},
                   {"retention_bytes", t.cfg.retention_bytes},
                   {"key_versions", t.cfg.key_versions}};
  if (t.cfg.compact) {
    j["compact"] = true;
    j["delete_retention_ms"] = t.cfg.delete_retention_ms;
  }
  return j.dump();
}


// ---- the bus ----------------------------------------------------------------------------------

class embedded_bus_impl final : public embedded_bus {
 public:
  // A consumer waiting in poll for data on the topics it reads (their ids).
  struct sleeper {
    std::condition_variable cv;
    std::vector<std::uint32_t> topics;
  };

  explicit embedded_bus_impl(embedded_options o)
      : opts_(std::move(o)), clock_(opts_.clock ? opts_.clock : &system_clock::instance()), log_(nf::log::get("bus")) {}

  ~embedded_bus_impl() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
      wake_all_locked();
    }
    retention_cv_.notify_all();
    committer_cv_.notify_all();
    if (retention_thread_.joinable()) retention_thread_.join();
    // Queued appends were accepted: the committer writes them before it ends.
    if (committer_.joinable()) committer_.join();
    if (db_) {
      if (!opts_.read_only) {
        // Nothing acknowledged may live only in a WAL after a clean stop: a damaged WAL found at
        // the next open can then cost nothing.
        rocksdb::FlushOptions fo;
        fo.wait = true;
        if (auto s = db_->Flush(fo, handles_); !s.ok())
          log_->error("flush at close failed ({}); the records stay in the write-ahead log", s.ToString());
        if (auto s = db_->SyncWAL(); !s.ok()) {
          log_->error("syncing the write-ahead log at close failed ({}); records acknowledged without fsync may be lost", s.ToString());
          metrics::registry::global().get_counter("nf_bus_close_errors_total", "Flush or WAL sync failures when the embedded bus closed").inc();
        }
      }
      for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
      handles_.clear();
      (void)db_->Close();
      db_.reset();
    }
    if (!secondary_path_.empty()) {
      std::error_code ec;
      fs::remove_all(secondary_path_, ec);
    }
  }

  result<void> open() {
    const fs::path dir(opts_.path);
    std::error_code ec;
    const bool exists = fs::exists(dir, ec);
    if (opts_.read_only && !exists)
      return error{errc::not_found, "data directory '" + opts_.path + "' does not exist"};
    if (exists && !fs::is_directory(dir, ec))
      return error{errc::invalid_argument, "'" + opts_.path + "' is not a directory"};
    const bool has_db = exists && fs::exists(dir / "CURRENT", ec);
    if (exists && !has_db) {
      for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const auto name = entry.path().filename().string();
        if (name != "OWNER")
          return error{errc::invalid_argument, "'" + opts_.path + "' is not a nexus-forge bus directory: it holds '" +
                                                   name + "' but no RocksDB store; choose an empty or new directory"};
      }
    }
    if (opts_.read_only && !has_db)
      return error{errc::not_found, "'" + opts_.path + "' holds no bus data yet"};
    if (!opts_.read_only) {
      fs::create_directories(dir, ec);
      if (ec) return error{errc::io_error, "cannot create '" + opts_.path + "': " + ec.message()};
      NF_TRY_ASSIGN(lock_, owner_lock::acquire(dir));
    }
    if (has_db) {
      std::vector<std::string> cfs;
      auto s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), opts_.path, &cfs);
      if (!s.ok()) return store::to_error(s, "cannot read '" + opts_.path + "'");
      if (std::find(cfs.begin(), cfs.end(), kLogCf) == cfs.end())
        return error{errc::invalid_argument, "'" + opts_.path +
                                                 "' is a RocksDB store of another application (no 'log' column family)"};
    }

    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    options.paranoid_checks = true;
    // Only a torn last record (a crash mid-write) is tolerated; a damaged record anywhere else
    // fails the open instead of silently ending the log there (kPointInTimeRecovery would).
    options.wal_recovery_mode = opts_.recovery == wal_recovery::point_in_time   ? rocksdb::WALRecoveryMode::kPointInTimeRecovery
                                : opts_.recovery == wal_recovery::skip_damaged ? rocksdb::WALRecoveryMode::kSkipAnyCorruptedRecords
                                                                               : rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
    if (opts_.env) options.env = opts_.env.get();
    options.info_log = store::make_logger("bus");
    options.IncreaseParallelism(2);
    options.max_open_files = 512;
    rocksdb::ColumnFamilyOptions log_opts;
    log_opts.write_buffer_size = 64 << 20;
    log_opts.compression = rocksdb::kLZ4Compression;
    std::vector<rocksdb::ColumnFamilyDescriptor> descs{
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}, {kLogCf, log_opts}};
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s;
    if (opts_.read_only) {
      static std::atomic<int> counter{0};
      secondary_path_ = (fs::temp_directory_path() /
                         ("nf-reader-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                            .string();
      options.max_open_files = -1;  // required by secondary instances
      // The store's identity, read before the open: if the store is replaced in between, the
      // first catch_up() finds another identity and this reader stops (never the other way).
      identity_ = read_identity();
      s = rocksdb::DB::OpenAsSecondary(options, opts_.path, secondary_path_, descs, &handles_, &raw);
    } else {
      s = rocksdb::DB::Open(options, opts_.path, descs, &handles_, &raw);
    }
    if (!s.ok() && s.IsCorruption() && !opts_.read_only) return corrupt_at_open(s);
    if (!s.ok()) return store::to_error(s, "cannot open bus store '" + opts_.path + "'");
    db_.reset(raw);
    meta_ = handles_[0];
    logcf_ = handles_[1];

    std::string format;
    s = db_->Get(rocksdb::ReadOptions(), meta_, "format", &format);
    if (s.IsNotFound()) {
      if (opts_.read_only) return error{errc::not_found, "'" + opts_.path + "' holds no bus data yet"};
      rocksdb::WriteOptions wo;
      wo.sync = true;
      s = db_->Put(wo, meta_, "format", kFormat);
      if (!s.ok()) return store::to_error(s, "cannot initialise '" + opts_.path + "'");
    } else if (!s.ok()) {
      return store::to_error(s, "cannot read format marker");
    } else if (format != kFormat) {
      return error{errc::invalid_argument, "'" + opts_.path + "' has unsupported format '" + format + "', expected '" + kFormat + "'"};
    }
    s = db_->Get(rocksdb::ReadOptions(), meta_, "cluster_id", &cluster_id_);
    if (s.IsNotFound() && !opts_.read_only) {
      // Stores made before cluster ids existed get theirs at the next open.
      std::random_device rd;
      cluster_id_ = "embedded-";
      static const char* hex = "0123456789abcdef";
      for (int i = 0; i < 32; ++i) cluster_id_.push_back(hex[rd() % 16]);
      rocksdb::WriteOptions wo;
      wo.sync = true;
      s = db_->Put(wo, meta_, "cluster_id", cluster_id_);
      if (!s.ok()) return store::to_error(s, "cannot initialise '" + opts_.path + "'");
    } else if (s.IsNotFound()) {
      cluster_id_.clear();
    } else if (!s.ok()) {
      return store::to_error(s, "cannot read the cluster id");
    }
    {
      std::lock_guard lk(mu_);
      NF_TRY(load_topics_locked());
    }
    if (!opts_.read_only && opts_.retention_check_ms > 0)
      retention_thread_ = std::thread([this] {
        while (!nf::log::guarded("bus-retention", [this] { retention_loop(); })) {
          std::lock_guard lk(mu_);
          if (stopping_) break;
        }
      });
    log_->info("opened {} bus at {} ({} topics, durability {})", opts_.read_only ? "read-only" : "embedded", opts_.path,
               topics_.size(), opts_.sync ? "sync" : "async");
    return ok();
  }

  // A store that fails its checksums at open: what is damaged and what to do, never a silent
  // recovery to an earlier point.
  error corrupt_at_open(const rocksdb::Status& s) const {
    std::string wals;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(opts_.path, ec))
      if (entry.path().extension() == ".log") wals += (wals.empty() ? "" : ", ") + entry.path().string();
    return error{errc::corruption,
                 "the bus store '" + opts_.path + "' is damaged: " + s.ToString() +
                     (wals.empty() ? "" : " (write-ahead logs: " + wals + ")") +
                     ". Nothing was opened and nothing was dropped. Run 'nexus-forge doctor --config <file>' to see what is "
                     "damaged, restore the directory from a backup, or run 'nexus-forge doctor --repair --config <file>' to "
                     "recover to the last consistent point (it reports every offset that is lost)"};
  }

  std::string_view kind() const override { return "embedded"; }
  result<std::string> cluster_id() override {
    if (cluster_id_.empty()) return error{errc::not_found, "'" + opts_.path + "' has no cluster id yet (serve gives it one)"};
    return cluster_id_;
  }

  // ---- topics ----

  result<void> create_topic(const topic_name& name, const topic_config& cfg) override {
    NF_TRY(writable());
    NF_TRY(validate_topic_name(name.get()));
    if (cfg.partitions < 1 || cfg.partitions > 10'000)
      return error{errc::invalid_argument, "partitions must be between 1 and 10000, got " + std::to_string(cfg.partitions)};
    NF_TRY(check_cleanup(name, cfg));
    std::lock_guard lk(mu_);
    if (auto it = topics_.find(name.get()); it != topics_.end())
      return error{errc::already_exists, "topic '" + name.get() + "' already exists"};
    auto t = std::make_unique<topic_state>();
    t->name = name.get();
    t->id = next_topic_id_;
    t->cfg = cfg;
    t->parts.resize(static_cast<std::size_t>(cfg.partitions));
    rocksdb::WriteBatch wb;
    (void)wb.Put(meta_, meta_topic_key(t->name), topic_json(*t));
    (void)wb.Put(meta_, "next_topic_id", std::to_string(next_topic_id_ + 1));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Write(wo, &wb);
    if (!s.ok()) return store::to_error(s, "cannot create topic '" + name.get() + "'");
    ++next_topic_id_;
    attach_metrics(*t);
    topics_.emplace(t->name, std::move(t));
    ++generation_;
    wake_all_locked();
    log_->info("created topic {} with {} partitions", name.get(), cfg.partitions);
    return ok();
  }

  result<void> track_key_versions(const topic_name& name) override {
    NF_TRY(writable());
    std::unique_lock lk(mu_);
    NF_TRY_ASSIGN(auto* t, find_topic_locked(name));
    if (t->cfg.key_versions) return ok();
    // Become the writer, so no append lands between the count and the switch.
    while (writer_active_) {
      lk.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      lk.lock();
    }
    writer_active_ = true;
    const std::uint32_t id = t->id;
    std::vector<std::pair<std::int64_t, std::int64_t>> ranges;  // [begin, end) per partition
    for (const auto& p : t->parts) ranges.emplace_back(p.begin, p.end);
    lk.unlock();
    auto counted = [&]() -> result<std::size_t> {
      std::unordered_map<std::string, std::int64_t> counts;
      for (std::size_t part = 0; part < ranges.size(); ++part) {
        const auto pi = static_cast<std::int32_t>(part);
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), logcf_));
        const std::string end_key = log_key(id, pi, ranges[part].second);
        for (it->Seek(log_key(id, pi, ranges[part].first)); it->Valid() && it->key().compare(end_key) < 0; it->Next()) {
          message m;
          const auto off = static_cast<std::int64_t>(get_be64(it->key().data() + 8));
          NF_TRY(decode_record(it->value(), m, [&] { return name.get() + "/" + std::to_string(part) + "@" + std::to_string(off); }));
          if (!m.key.empty()) ++counts[m.key];
        }
        if (!it->status().ok()) return store::to_error(it->status(), "cannot read topic '" + name.get() + "'");
      }
      rocksdb::WriteBatch wb;
      for (const auto& [key, n] : counts) {
        std::string v;
        put_be64(v, static_cast<std::uint64_t>(n));
        (void)wb.Put(meta_, meta_version_key(id, key), v);
      }
      topic_state changed = {};
      changed.name = t->name;
      changed.id = id;
      changed.cfg = t->cfg;
      changed.cfg.key_versions = true;
      (void)wb.Put(meta_, meta_topic_key(changed.name), topic_json(changed));
      rocksdb::WriteOptions wo;
      wo.sync = true;
      if (auto st = db_->Write(wo, &wb); !st.ok()) return store::to_error(st, "cannot start key versions on topic '" + name.get() + "'");
      return counts.size();
    }();
    lk.lock();
    if (counted) t->cfg.key_versions = true;
    version_cache_.clear();
    writer_active_ = false;
    if (!pending_.empty()) {
      if (pending_.front()->finished) committer_cv_.notify_one();
      else pending_.front()->cv.notify_one();
    }
    if (!counted) return std::move(counted).error();
    log_->info("topic {} tracks key versions now ({} keys counted)", name.get(), *counted);
    return ok();
  }

  result<std::vector<topic_info>> list_topics() override {
    if (opts_.read_only) NF_TRY(catch_up());
    std::lock_guard lk(mu_);
    std::vector<topic_info> out;
    for (const auto& [n, t] : topics_) out.push_back({topic_name{n}, t->cfg});
    return out;
  }

  result<topic_info> describe_topic(const topic_name& name) override {
    if (opts_.read_only) NF_TRY(catch_up());
    std::lock_guard lk(mu_);
    NF_TRY_ASSIGN(auto* t, find_topic_locked(name));
    return topic_info{name, t->cfg};
  }

  // ---- append (group commit) ----

  result<std::vector<append_result>> append(const topic_name& topic, std::span<const record> records) override {
    NF_TRY(writable());
    if (records.empty()) return std::vector<append_result>{};
    NF_TRY(check_record_sizes(records, opts_.max_event_bytes));
    append_request req;
    req.records = records;
    const auto started = std::chrono::steady_clock::now();
    std::unique_lock lk(mu_);
    NF_TRY(enqueue_locked(req, topic));
    while (!req.done) {
      if (writer_active_) {
        req.cv.wait(lk);
        continue;
      }
      lead_group(lk);
    }
    lk.unlock();
    append_seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (req.err) return *req.err;
    return std::move(req.results);
  }

  void append_async(const topic_name& topic, std::vector<record> records, append_done done) override {
    if (auto w = writable(); !w) return done(w.error());
    if (records.empty()) return done(std::vector<append_result>{});
    if (auto c = check_record_sizes(records, opts_.max_event_bytes); !c) return done(c.error());
    auto req = std::make_unique<append_request>();
    req->owned = std::move(records);
    req->records = req->owned;
    req->finished = std::move(done);
    req->started = std::chrono::steady_clock::now();
    std::unique_lock lk(mu_);
    auto queued = stopping_ ? result<void>(error{errc::unavailable, "the bus is stopping"}) : enqueue_locked(*req, topic);
    if (!queued) {
      lk.unlock();
      return req->finished(queued.error());
    }
    if (!committer_.joinable())
      committer_ = std::thread([this] {
        while (!nf::log::guarded("bus-committer", [this] { commit_queued(); })) {
        }
      });
    if (!writer_active_ && pending_.front() == req.get()) committer_cv_.notify_one();
    req.release();  // owned by pending_ until its group is written
  }

  bool appends_async() const override { return !opts_.read_only; }

  // ---- offsets ----

  result<offset> begin_offset(const topic_partition& tp) override {
    std::lock_guard lk(mu_);
    NF_TRY_ASSIGN(auto* p, find_partition_locked(tp));
    return offset{p->begin};
  }

  result<offset> end_offset(const topic_partition& tp) override {
    std::lock_guard lk(mu_);
    NF_TRY_ASSIGN(auto* p, find_partition_locked(tp));
    return offset{p->end};
  }

  result<offset> offset_for_time(const topic_partition& tp, std::int64_t ts_ms) override {
    std::uint32_t id;
    std::int64_t lo, hi;
    bool compact;
    {
      std::lock_guard lk(mu_);
      NF_TRY_ASSIGN(auto* p, find_partition_locked(tp));
      const auto& t = *topics_.at(tp.topic.get());
      id = t.id;
      compact = t.cfg.compact;
      lo = p->begin;
      hi = p->end;
    }
    // First offset in [lo, hi) whose max_ts >= ts_ms; max_ts is monotonic so this is exact:
    // it is the first record whose own timestamp reaches ts_ms. On a compacted topic an offset
    // the cleaner emptied stands for the next record that is there.
    const std::int64_t end = hi;
    while (lo < hi) {
      const std::int64_t mid = lo + (hi - lo) / 2;
      record_meta m{};
      if (compact) {
        NF_TRY_ASSIGN(const bool found, read_meta_from(id, tp, mid, end, m));
        if (!found) {
          hi = mid;
          continue;
        }
      } else {
        NF_TRY(read_meta(id, tp, mid, m));
      }
      if (m.max_ts >= ts_ms) hi = mid;
      else lo = mid + 1;
    }
    if (compact && lo < end) {  // the record itself, as Kafka answers
      record_meta m{};
      std::int64_t at = lo;
      NF_TRY_ASSIGN(const bool found, read_meta_from(id, tp, lo, end, m, &at));
      if (found) lo = at;
    }
    return offset{lo};
  }

  result<std::optional<offset>> committed(const std::string& group, const topic_partition& tp) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, meta_group_key(group, tp), &v);
    if (s.IsNotFound()) return std::optional<offset>{};
    if (!s.ok()) return store::to_error(s, "cannot read committed offset");
    if (v.size() != 8) return error{errc::corruption, "corrupt committed offset for group '" + group + "' on " + to_string(tp)};
    return std::optional<offset>{offset{static_cast<std::int64_t>(get_be64(v.data()))}};
  }

  result<std::unique_ptr<consumer>> make_consumer(const consumer_options& opts) override;

  // ---- retention ----

  result<verify_report> verify() override {
    verify_report rep;
    if (auto s = db_->VerifyChecksum(); !s.ok()) rep.problems.push_back("table files of '" + opts_.path + "': " + s.ToString());
    std::vector<std::pair<std::string, std::uint32_t>> topics;
    std::map<std::string, std::vector<std::int64_t>> begins;
    std::set<std::string> compacted;  // gaps there are records the cleaner removed
    {
      std::lock_guard lk(mu_);
      for (const auto& [name, t] : topics_) {
        topics.emplace_back(name, t->id);
        if (t->cfg.compact) compacted.insert(name);
        for (const auto& p : t->parts) begins[name].push_back(p.begin);
      }
    }
    for (const auto& [name, id] : topics) {
      for (std::size_t part = 0; part < begins[name].size(); ++part) {
        const auto p = static_cast<std::int32_t>(part);
        std::int64_t expect = begins[name][part];
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), logcf_));
        const std::string prefix = log_key(id, p, 0).substr(0, 8);
        std::size_t reported = 0;
        for (it->Seek(log_key(id, p, expect)); it->Valid() && it->key().starts_with(prefix); it->Next()) {
          const auto off = static_cast<std::int64_t>(get_be64(it->key().data() + 8));
          const std::string where = name + "/" + std::to_string(part) + "@" + std::to_string(off);
          if (off != expect && !compacted.count(name) && reported++ < 10)
            rep.problems.push_back(name + "/" + std::to_string(part) + ": offsets " + std::to_string(expect) + ".." +
                                   std::to_string(off - 1) + " are missing");
          message m;
          if (auto d = decode_record(it->value(), m, [&] { return where; }); !d && reported++ < 10) rep.problems.push_back(d.error().message);
          expect = off + 1;
          ++rep.records;
        }
        if (!it->status().ok()) rep.problems.push_back(name + "/" + std::to_string(part) + ": " + it->status().ToString());
      }
    }
    return rep;
  }

  result<nf::store::db_backup> backup(const std::string& engine_dir, const std::string& metadata,
                                      const nf::store::copy_progress& progress) override {
    if (opts_.read_only) return error{errc::unsupported, "a read-only bus is not backed up; its owner backs it up"};
    return nf::store::backup_db(*db_, engine_dir, metadata, progress);
  }

  result<std::vector<std::string>> clamp_committed_offsets() override {
    std::vector<std::string> changed;
    std::map<std::string, std::int64_t> ends;  // "topic\0partition" -> end
    {
      std::lock_guard lk(mu_);
      for (const auto& [name, t] : topics_)
        for (std::size_t i = 0; i < t->parts.size(); ++i) ends[name + '\0' + std::to_string(i)] = t->parts[i].end;
    }
    rocksdb::WriteBatch wb;
    const std::string prefix("group\x00", 6);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      // group\0<group>\0<topic>\0<partition be32> -> offset be64
      const std::string k = it->key().ToString();
      const auto g_end = k.find('\0', prefix.size());
      const auto t_end = g_end == std::string::npos ? g_end : k.find('\0', g_end + 1);
      if (t_end == std::string::npos || k.size() != t_end + 5 || it->value().size() != 8) continue;
      std::uint32_t part = 0;
      for (int i = 0; i < 4; ++i) part = (part << 8) | static_cast<unsigned char>(k[t_end + 1 + static_cast<std::size_t>(i)]);
      const std::string topic = k.substr(g_end + 1, t_end - g_end - 1);
      auto e = ends.find(topic + '\0' + std::to_string(part));
      const auto committed = static_cast<std::int64_t>(get_be64(it->value().data()));
      if (e == ends.end() || committed <= e->second) continue;
      std::string v;
      put_be64(v, static_cast<std::uint64_t>(e->second));
      (void)wb.Put(meta_, k, v);
      changed.push_back("group '" + k.substr(prefix.size(), g_end - prefix.size()) + "' on " + topic + "/" + std::to_string(part) +
                        ": committed offset " + std::to_string(committed) + " set back to the end, " + std::to_string(e->second));
    }
    if (!it->status().ok()) return store::to_error(it->status(), "cannot read committed offsets");
    if (changed.empty()) return changed;
    rocksdb::WriteOptions wo;
    wo.sync = true;
    NF_TRY(store::check(db_->Write(wo, &wb), "cannot reset committed offsets"));
    return changed;
  }

  result<std::uint64_t> enforce_retention() override {
    NF_TRY(writable());
    struct work {
      std::uint32_t id;
      topic_partition tp;
      topic_config cfg;
      std::int64_t begin, end, end_pos;
    };
    std::vector<work> todo;
    {
      std::lock_guard lk(mu_);
      for (const auto& [n, t] : topics_) {
        if (t->cfg.retention_ms < 0 && t->cfg.retention_bytes < 0) continue;
        for (std::size_t i = 0; i < t->parts.size(); ++i) {
          const auto& p = t->parts[i];
          if (p.end > p.begin)
            todo.push_back({t->id, {topic_name{n}, partition_id{static_cast<std::int32_t>(i)}}, t->cfg, p.begin, p.end, p.next_pos});
        }
      }
    }
    const std::int64_t now = clock_->now_ms();
    std::uint64_t removed = 0;
    for (const auto& w : todo) {
      std::int64_t cutoff = w.begin;
      if (w.cfg.retention_ms >= 0) {
        std::int64_t lo = w.begin, hi = w.end;
        while (lo < hi) {
          const std::int64_t mid = lo + (hi - lo) / 2;
          record_meta m{};
          NF_TRY(read_meta(w.id, w.tp, mid, m));
          if (m.max_ts >= now - w.cfg.retention_ms) hi = mid;
          else lo = mid + 1;
        }
        cutoff = std::max(cutoff, lo);
      }
      if (w.cfg.retention_bytes >= 0) {
        std::int64_t lo = w.begin, hi = w.end;
        while (lo < hi) {
          const std::int64_t mid = lo + (hi - lo) / 2;
          record_meta m{};
          NF_TRY(read_meta(w.id, w.tp, mid, m));
          if (w.end_pos - m.pos <= w.cfg.retention_bytes) hi = mid;
          else lo = mid + 1;
        }
        cutoff = std::max(cutoff, lo);
      }
      if (cutoff <= w.begin) continue;
      rocksdb::WriteBatch wb;
      (void)wb.DeleteRange(logcf_, log_key(w.id, w.tp.partition.get(), w.begin), log_key(w.id, w.tp.partition.get(), cutoff));
      std::string v;
      put_be64(v, static_cast<std::uint64_t>(cutoff));
      (void)wb.Put(meta_, meta_begin_key(w.id, w.tp.partition.get()), v);
      rocksdb::WriteOptions wo;
      wo.sync = opts_.sync;
      auto s = db_->Write(wo, &wb);
      if (!s.ok()) return store::to_error(s, "retention on " + to_string(w.tp));
      {
        std::lock_guard lk(mu_);
        auto& p = topics_.at(w.tp.topic.get())->parts[static_cast<std::size_t>(w.tp.partition.get())];
        p.begin = std::max(p.begin, cutoff);
      }
      removed += static_cast<std::uint64_t>(cutoff - w.begin);
      log_->info("retention removed offsets [{}, {}) of {}", w.begin, cutoff, to_string(w.tp));
    }
    return removed;
  }

  // ---- compaction ----

  result<std::uint64_t> compact() override {
    NF_TRY(writable());
    std::lock_guard one(compact_mu_);  // one cleaner at a time: the sweep, or a caller
    struct work {
      std::uint32_t id;
      topic_partition tp;
      std::int64_t delete_retention_ms;
      std::int64_t begin, end;
      metrics::counter* removed;
    };
    std::vector<work> todo;
    {
      std::lock_guard lk(mu_);
      for (const auto& [n, t] : topics_) {
        if (!t->cfg.compact) continue;
        for (std::size_t i = 0; i < t->parts.size(); ++i) {
          const auto& p = t->parts[i];
          if (p.end - p.begin > 1)
            todo.push_back({t->id, {topic_name{n}, partition_id{static_cast<std::int32_t>(i)}}, t->cfg.delete_retention_ms, p.begin, p.end,
                            t->compacted});
        }
      }
    }
    const std::int64_t now = clock_->now_ms();
    std::uint64_t removed = 0;
    for (const auto& w : todo) {
      NF_TRY_ASSIGN(auto n, compact_partition(w.id, w.tp, w.begin, w.end, now - w.delete_retention_ms));
      if (n == 0) continue;
      removed += n;
      w.removed->inc(static_cast<double>(n));
      log_->info("compaction removed {} records of {} below offset {}", n, to_string(w.tp), w.end);
    }
    return removed;
  }

  // One pass of the cleaner over [begin, end) of a compacted partition, in bounded memory (as
  // Kafka's cleaner bounds its offset map). First, from where the last pass stopped, the offset of
  // each key's latest record, until the map holds opts_.compaction_max_keys keys or 64 MiB of
  // keys; then, over [begin, where the map stopped), it removes every record that a later record of
  // a mapped key supersedes, and tombstones (empty values) written before `tombstones_before` that
  // are their key's latest (every older record of the key goes in the same pass, so a key never
  // comes back). The next pass maps on from there, and starts at the beginning again once a pass
  // reached the end, so every record and tombstone is seen in turn. The last record of the range
  // stays, so a reader that waits for the partition's last offset still gets it. Records appended
  // meanwhile lie past `end`: a later pass sees them.
  result<std::uint64_t> compact_partition(std::uint32_t id, const topic_partition& tp, std::int64_t begin, std::int64_t end,
                                          std::int64_t tombstones_before) {
    const auto each = [&](std::int64_t from, std::int64_t to, const std::function<bool(const message&)>& fn) -> result<void> {
      rocksdb::ReadOptions ro;
      const std::string upper = log_key(id, tp.partition.get(), to);
      rocksdb::Slice upper_slice(upper);
      ro.iterate_upper_bound = &upper_slice;
      ro.fill_cache = false;
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, logcf_));
      for (it->Seek(log_key(id, tp.partition.get(), from)); it->Valid(); it->Next()) {
        if (it->key().size() != 16) return error{errc::corruption, "corrupt log key in " + to_string(tp)};
        message m;
        m.off = offset{static_cast<std::int64_t>(get_be64(it->key().data() + 8))};
        NF_TRY(decode_record(it->value(), m, [&] { return to_string(tp) + "@" + std::to_string(m.off.get()); }));
        if (!fn(m)) break;
      }
      return store::check(it->status(), "compacting " + to_string(tp));
    };
    std::int64_t& cursor = compact_cursor_[tp];
    if (cursor < begin || cursor >= end) cursor = begin;
    std::unordered_map<std::string, std::int64_t> latest;
    std::size_t key_bytes = 0;
    std::int64_t mapped_to = end;
    NF_TRY(each(cursor, end, [&](const message& m) {
      auto it = latest.find(m.key);
      if (it != latest.end()) {
        it->second = m.off.get();
        return true;
      }
      if (latest.size() >= opts_.compaction_max_keys || key_bytes + m.key.size() > kCompactionMaxKeyBytes) {
        mapped_to = m.off.get();
        return false;
      }
      key_bytes += m.key.size();
      latest.emplace(m.key, m.off.get());
      return true;
    }));
    cursor = mapped_to >= end ? begin : mapped_to;
    rocksdb::WriteBatch wb;
    std::uint64_t removed = 0;
    rocksdb::WriteOptions wo;
    wo.sync = opts_.sync;
    std::optional<error> failed;
    const auto flush = [&] {
      if (wb.Count() == 0 || failed) return;
      if (auto s = db_->Write(wo, &wb); !s.ok()) failed = store::to_error(s, "compacting " + to_string(tp));
      wb.Clear();
    };
    NF_TRY(each(begin, mapped_to, [&](const message& m) {
      if (m.off.get() >= end - 1) return true;
      auto it = latest.find(m.key);
      if (it == latest.end()) return true;  // not mapped in this pass
      const bool superseded = it->second > m.off.get();
      const bool expired_tombstone = it->second == m.off.get() && m.value.empty() && m.timestamp_ms < tombstones_before;
      if (!superseded && !expired_tombstone) return true;
      (void)wb.Delete(logcf_, log_key(id, tp.partition.get(), m.off.get()));
      ++removed;
      if (wb.Count() >= 10'000) flush();
      return true;
    }));
    flush();
    if (failed) return *failed;
    return removed;
  }

  bool replaced() const override { return replaced_; }

  // The store's identity (RocksDB's IDENTITY file), or "" when it cannot be read.
  std::string read_identity() const {
    std::string id;
    if (!rocksdb::ReadFileToString(rocksdb::Env::Default(), opts_.path + "/IDENTITY", &id).ok()) return {};
    while (!id.empty() && (id.back() == '\n' || id.back() == '\r' || id.back() == ' ')) id.pop_back();
    return id;
  }

  result<void> catch_up() override {
    if (!opts_.read_only) return ok();
    // A secondary instance that catches up with another store's files (the path's log was set
    // aside and rebuilt, as `region recover` does) trips RocksDB's own assertions and takes the
    // process down: check the store's identity first, and stop reading once it changed.
    {
      std::lock_guard lk(identity_mu_);
      // A store without an IDENTITY file at the open (a restored backup, say) cannot be told
      // from another: such a reader is never called replaced.
      if (!replaced_ && !identity_.empty()) {
        const auto now = read_identity();
        if (now != identity_) {
          replaced_by_ = now.empty() ? std::string("none") : now;
          replaced_ = true;
          log_->warn("the log at {} was replaced since this reader opened it (store {}, now {}); it reads nothing more", opts_.path,
                     identity_, replaced_by_);
        }
      }
      if (replaced_)
        return error{errc::unavailable, "the log at '" + opts_.path + "' was replaced since this reader opened it (store " + identity_ +
                                            ", now " + replaced_by_ + "): open it again"};
    }
    auto s = db_->TryCatchUpWithPrimary();
    if (!s.ok()) return store::to_error(s, "cannot catch up with the owner of '" + opts_.path + "'");
    std::lock_guard lk(mu_);
    NF_TRY(load_topics_locked());
    wake_all_locked();
    return ok();
  }

  // ---- used by consumers ----

  struct fetch_plan {
    topic_partition tp;
    std::uint32_t id;
    std::int64_t from, to;
    bool compact = false;  // gaps are records the cleaner removed
  };

  // Reads [from, to) of one partition, at most `max` records. Returns the offset to read next:
  // after the last record read, or `to` when the range is exhausted (on a compacted topic a range
  // may hold no record at all).
  result<std::int64_t> read_range(const fetch_plan& f, std::size_t max, std::vector<message>& out) {
    rocksdb::ReadOptions ro;
    const std::string upper = log_key(f.id, f.tp.partition.get(), f.to);
    rocksdb::Slice upper_slice(upper);
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, logcf_));
    std::int64_t expect = f.from;
    std::size_t n = 0;
    out.reserve(out.size() + static_cast<std::size_t>(std::min<std::int64_t>(f.to - f.from, static_cast<std::int64_t>(max))));
    for (it->Seek(log_key(f.id, f.tp.partition.get(), f.from)); it->Valid() && n < max; it->Next(), ++n) {
      const auto k = it->key();
      if (k.size() != 16) return error{errc::corruption, "corrupt log key in " + to_string(f.tp)};
      const auto off = static_cast<std::int64_t>(get_be64(k.data() + 8));
      if (off != expect && !f.compact) {
        // A gap can only come from retention racing this read; anything else is corruption.
        std::lock_guard lk(mu_);
        auto p = find_partition_locked(f.tp);
        if (!p || off > (*p)->begin)
          return error{errc::corruption, "log of " + to_string(f.tp) + " jumps from offset " + std::to_string(expect) +
                                             " to " + std::to_string(off)};
      }
      message& m = out.emplace_back();
      m.topic = f.tp.topic;
      m.partition = f.tp.partition;
      m.off = offset{off};
      auto decoded = decode_record(it->value(), m, [&] { return to_string(f.tp) + "@" + std::to_string(off); });
      if (!decoded) {
        out.pop_back();
        return std::move(decoded).error();
      }
      expect = off + 1;
    }
    if (!it->status().ok()) return store::to_error(it->status(), "reading " + to_string(f.tp));
    return n < max ? f.to : expect;
  }

  std::mutex compact_mu_;                            // held by compact(): one cleaner at a time
  std::map<topic_partition, std::int64_t> compact_cursor_;  // where the cleaner's next map starts, per partition
  std::mutex mu_;
  std::condition_variable data_cv_;   // read-only consumers: new topics, wakeups
  std::vector<sleeper*> sleepers_;    // consumers waiting for appends to the topics they read
  metrics::counter* poll_wakeups_ = &metrics::registry::global().get_counter(
      "nf_bus_poll_wakeups_total", "Times a consumer waiting in poll woke up (data, a changed plan, a wakeup or its timeout)");
  // With mu_ held: every waiting consumer re-plans (new topics, group changes, wakeups, stop).
  void wake_all_locked() {
    for (auto* sl : sleepers_) sl->cv.notify_one();
    data_cv_.notify_all();
  }
  std::uint64_t generation_ = 0;      // bumps when topics or group membership change
  std::map<std::string, std::map<std::uint64_t, group_member>> groups_;
  std::uint64_t next_member_id_ = 1;
  bool stopping_ = false;
  std::map<std::string, std::unique_ptr<topic_state>> topics_;

  result<partition_state*> find_partition_locked(const topic_partition& tp) {
    NF_TRY_ASSIGN(auto* t, find_topic_locked(tp.topic));
    if (tp.partition.get() < 0 || tp.partition.get() >= t->cfg.partitions)
      return error{errc::not_found, "topic '" + tp.topic.get() + "' has no partition " + std::to_string(tp.partition.get())};
    return &t->parts[static_cast<std::size_t>(tp.partition.get())];
  }

  result<topic_state*> find_topic_locked(const topic_name& name) {
    auto it = topics_.find(name.get());
    if (it == topics_.end()) return error{errc::not_found, "unknown topic '" + name.get() + "'"};
    return it->second.get();
  }

  result<void> write_committed(const std::string& group, const std::vector<std::pair<topic_partition, offset>>& positions) {
    NF_TRY(writable());
    rocksdb::WriteBatch wb;
    for (const auto& [tp, off] : positions) {
      std::string v;
      put_be64(v, static_cast<std::uint64_t>(off.get()));
      (void)wb.Put(meta_, meta_group_key(group, tp), v);
    }
    rocksdb::WriteOptions wo;
    wo.sync = opts_.sync;
    auto s = db_->Write(wo, &wb);
    if (!s.ok()) return store::to_error(s, "cannot commit offsets of group '" + group + "'");
    return ok();
  }

  bool read_only() const { return opts_.read_only; }

 private:
  // With mu_ held: checks the request's partitions and queues it for the next group.
  result<void> enqueue_locked(append_request& req, const topic_name& topic) {
    NF_TRY_ASSIGN(req.topic, find_topic_locked(topic));
    for (const auto& r : req.records) {
      if (r.partition && (r.partition->get() < 0 || r.partition->get() >= req.topic->cfg.partitions))
        return error{errc::invalid_argument, "partition " + std::to_string(r.partition->get()) + " out of range for topic '" +
                                                 topic.get() + "' with " + std::to_string(req.topic->cfg.partitions) + " partitions"};
      if (req.topic->cfg.compact && r.key.empty())
        return error{errc::invalid_argument, "topic '" + topic.get() + "' is compacted: every record needs a key"};
      if (!r.expected_version) continue;
      if (!req.topic->cfg.key_versions)
        return error{errc::invalid_argument, "topic '" + topic.get() + "' does not track key versions, so an append cannot expect one; "
                                             "create the topic with key versions"};
      if (r.key.empty()) return error{errc::invalid_argument, "an expected version needs a key (topic '" + topic.get() + "')"};
      if (*r.expected_version < 0)
        return error{errc::invalid_argument, "expected version " + std::to_string(*r.expected_version) + " of key '" + r.key +
                                             "' is negative (0 is no stream)"};
    }
    pending_.push_back(&req);
    if (gathering_) gather_cv_.notify_one();
    return ok();
  }

  // The committer thread: leads every group whose first request is an append_async (a waiting
  // append() leads its own). Ends at stop once nothing queued is left.
  void commit_queued() {
    std::unique_lock lk(mu_);
    for (;;) {
      const auto queued_first = [&] { return !writer_active_ && !pending_.empty() && pending_.front()->finished; };
      committer_cv_.wait(lk, [&] { return queued_first() || (stopping_ && std::none_of(pending_.begin(), pending_.end(), [](auto* r) { return bool(r->finished); })); });
      if (queued_first()) {
        lead_group(lk);
        continue;
      }
      return;
    }
  }

  result<void> writable() const {
    if (opts_.read_only)
      return error{errc::unsupported, "the bus at '" + opts_.path + "' is open read-only; writes need the owning process"};
    return ok();
  }

  void attach_metrics(topic_state& t) {
    t.appended = &metrics::registry::global().get_counter("nf_bus_appended_events_total",
                                                           "Events appended to the bus, per topic", {{"topic", t.name}});
    t.compacted = &metrics::registry::global().get_counter("nf_bus_compacted_records_total",
                                                            "Records of compacted topics the cleaner removed, per topic", {{"topic", t.name}});
  }

  // The meta of the first record in [off, end); false when there is none.
  result<bool> read_meta_from(std::uint32_t id, const topic_partition& tp, std::int64_t off, std::int64_t end, record_meta& m,
                              std::int64_t* found_at = nullptr) {
    rocksdb::ReadOptions ro;
    const std::string upper = log_key(id, tp.partition.get(), end);
    rocksdb::Slice upper_slice(upper);
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, logcf_));
    it->Seek(log_key(id, tp.partition.get(), off));
    if (!it->Valid()) {
      if (!it->status().ok()) return store::to_error(it->status(), "reading " + to_string(tp));
      return false;
    }
    const auto at = static_cast<std::int64_t>(get_be64(it->key().data() + 8));
    NF_TRY(decode_meta(it->value(), m, [&] { return to_string(tp) + "@" + std::to_string(at); }));
    if (found_at) *found_at = at;
    return true;
  }

  result<void> read_meta(std::uint32_t id, const topic_partition& tp, std::int64_t off, record_meta& m) {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), logcf_, log_key(id, tp.partition.get(), off), &v);
    if (!s.ok()) return store::to_error(s, "reading " + to_string(tp) + "@" + std::to_string(off));
    return decode_meta(v, m, [&] { return to_string(tp) + "@" + std::to_string(off); });
  }

  // Called with mu_ held and no writer active: becomes the leader for every pending request.
  void lead_group(std::unique_lock<std::mutex>& lk) {
    writer_active_ = true;
    // Others were appending with the last group: give them a moment to join this one, as long as
    // they keep coming (PostgreSQL's commit_delay, MySQL's binlog_group_commit_sync_delay). The
    // appenders of the last two groups are the ones to wait for: n concurrent appenders settle in
    // two halves that alternate (one writes while the other gathers) unless a group waits for the
    // half that is still on its way back.
    const std::size_t expected = last_group_appends_ + prev_group_appends_;
    if (opts_.sync && opts_.group_commit_wait_us > 0 && last_group_appends_ > 1 && pending_.size() < expected) {
      const auto wait = std::chrono::microseconds(opts_.group_commit_wait_us);
      const auto gap = std::max(std::chrono::microseconds(20), wait / 4);
      const auto until = std::chrono::steady_clock::now() + wait;
      gathering_ = true;
      while (!stopping_ && pending_.size() < expected) {
        const auto before = pending_.size();
        const auto now = std::chrono::steady_clock::now();
        if (now >= until) break;
        gather_cv_.wait_until(lk, std::min(until, now + gap), [&] { return stopping_ || pending_.size() > before; });
        if (pending_.size() == before) break;  // a pause: nobody else is coming soon
      }
      gathering_ = false;
    }
    prev_group_appends_ = last_group_appends_;
    last_group_appends_ = pending_.size();
    std::vector<append_request*> group;
    group.swap(pending_);
    // Remember partition state so a failed write can be rolled back.
    std::map<std::pair<topic_state*, std::size_t>, partition_state> saved;
    const std::int64_t now = clock_->now_ms();
    rocksdb::WriteBatch wb;
    std::string value;
    std::unordered_map<std::string, std::int64_t> versions;  // key versions as this group leaves them
    std::vector<std::int64_t> after;                          // of the request's records
    for (auto* req : group) {
      auto* t = req->topic;
      after.clear();
      if (t->cfg.key_versions) {
        if (auto checked = check_versions(*req, versions, after); !checked) {
          req->err = std::move(checked).error();  // nothing of this request is written; the others go on
          continue;
        }
        for (std::size_t i = 0; i < req->records.size(); ++i) {
          if (req->records[i].key.empty()) continue;
          std::string v;
          put_be64(v, static_cast<std::uint64_t>(after[i]));
          (void)wb.Put(meta_, meta_version_key(t->id, req->records[i].key), v);
        }
      }
      req->results.reserve(req->records.size());
      for (const auto& r : req->records) {
        std::size_t pi;
        if (r.partition) pi = static_cast<std::size_t>(r.partition->get());
        else if (!r.key.empty()) pi = static_cast<std::size_t>(partition_for_key(r.key, t->cfg.partitions).get());
        else pi = static_cast<std::size_t>(t->round_robin++ % static_cast<std::uint64_t>(t->cfg.partitions));
        auto& p = t->parts[pi];
        saved.try_emplace({t, pi}, p);
        const std::int64_t ts = r.timestamp_ms > 0 ? r.timestamp_ms : now;
        p.max_ts = std::max(p.max_ts, ts);
        encode_record(value, r, ts, p.max_ts, p.next_pos);
        p.next_pos += static_cast<std::int64_t>(record_size(r));
        (void)wb.Put(logcf_, log_key(t->id, static_cast<std::int32_t>(pi), p.next), value);
        const std::size_t ri = req->results.size();
        req->results.push_back({partition_id{static_cast<std::int32_t>(pi)}, offset{p.next}, ts, after.empty() ? 0 : after[ri]});
        ++p.next;
      }
    }
    lk.unlock();
    rocksdb::WriteOptions wo;
    wo.sync = opts_.sync;
    // After a failed write (a full disk) the store takes no writes until it is resumed; try that
    // first, at most every 100 ms, so appends work again as soon as space is freed.
    rocksdb::Status s = resume_if_needed();
    const auto write_start = std::chrono::steady_clock::now();
    if (s.ok()) s = db_->Write(wo, &wb);
    write_seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - write_start).count());
    group_size_->observe(static_cast<double>(group.size()));
    if (!s.ok() && !needs_resume_) last_write_error_ = s;
    if (!s.ok()) needs_resume_ = true;
    lk.lock();
    write_groups_->inc();
    if (s.ok()) {
      for (auto& [key, before] : saved) key.first->parts[key.second].end = key.first->parts[key.second].next;
      // What the group wrote is what the store now holds: the cache stays exact (bounded by a reset).
      if (version_cache_.size() + versions.size() > kVersionCacheEntries) version_cache_.clear();
      for (auto& [k, v] : versions) version_cache_[k] = v;
      for (auto* req : group)
        if (!req->err) req->topic->appended->inc(req->records.size());
      // Only consumers reading a topic this group wrote wake up.
      for (auto* sl : sleepers_) {
        const bool reads = std::any_of(saved.begin(), saved.end(), [&](const auto& kv) {
          return std::find(sl->topics.begin(), sl->topics.end(), kv.first.first->id) != sl->topics.end();
        });
        if (reads) sl->cv.notify_one();
      }
    } else {
      for (auto& [key, before] : saved) key.first->parts[key.second] = before;
      auto e = s.IsNoSpace() ? error{errc::no_space, "the disk holding the bus data directory '" + opts_.path +
                                                         "' is full; nothing was written (" + s.ToString() + ")"}
                             : store::to_error(s, "append failed; nothing was written");
      for (auto* req : group) {
        req->err = e;
        req->results.clear();
      }
      log_->error("append of {} requests failed: {}", group.size(), s.ToString());
    }
    writer_active_ = false;
    std::vector<std::unique_ptr<append_request>> queued;
    for (auto* req : group) {
      if (req->finished) {
        queued.emplace_back(req);
        continue;
      }
      req->done = true;
      req->cv.notify_one();
    }
    // The first appender waiting leads the next group (the committer, for a queued one).
    if (!pending_.empty()) {
      if (pending_.front()->finished) committer_cv_.notify_one();
      else pending_.front()->cv.notify_one();
    }
    if (queued.empty()) return;
    lk.unlock();
    const auto now_steady = std::chrono::steady_clock::now();
    for (auto& req : queued) {
      append_seconds_->observe(std::chrono::duration<double>(now_steady - req->started).count());
      nf::log::guarded("bus-append-done", [&] {
        if (req->err) req->finished(*req->err);
        else req->finished(std::move(req->results));
      });
    }
    queued.clear();
    lk.lock();
  }

  // On the group leader, with mu_ held: the version of every keyed record of `req` after it, in
  // `after` (0 for records without a key), or the first expectation that does not hold. Reads
  // versions from `versions` (earlier requests of this group) or the store; a request that holds
  // adds its versions to `versions`.
  result<void> check_versions(const append_request& req, std::unordered_map<std::string, std::int64_t>& versions,
                              std::vector<std::int64_t>& after) {
    std::unordered_map<std::string, std::int64_t> mine;
    after.reserve(req.records.size());
    for (const auto& r : req.records) {
      if (r.key.empty()) {
        after.push_back(0);
        continue;
      }
      auto k = meta_version_key(req.topic->id, r.key);
      std::int64_t current = 0;
      if (auto m = mine.find(k); m != mine.end()) current = m->second;
      else if (auto g = versions.find(k); g != versions.end()) current = g->second;
      else if (auto c = version_cache_.find(k); c != version_cache_.end()) current = c->second;
      else {
        std::string v;
        auto s = db_->Get(rocksdb::ReadOptions(), meta_, k, &v);
        if (s.ok() && v.size() == 8) current = static_cast<std::int64_t>(get_be64(v.data()));
        else if (s.ok()) return error{errc::corruption, "the version of key '" + r.key + "' on topic '" + req.topic->name + "' is damaged"};
        else if (!s.IsNotFound()) return store::to_error(s, "cannot read the version of key '" + r.key + "' on topic '" + req.topic->name + "'");
      }
      if (r.expected_version && *r.expected_version != current)
        return error{errc::wrong_expected_version,
                     "key '" + r.key + "' on topic '" + req.topic->name + "' is at version " + std::to_string(current) +
                         (current == kNoStream ? " (no stream)" : "") + ", not the expected " + std::to_string(*r.expected_version) +
                         (*r.expected_version == kNoStream ? " (no stream)" : "") + "; nothing of the append was written"};
      mine[std::move(k)] = current + 1;
      after.push_back(current + 1);
    }
    for (auto& [k, v] : mine) versions[k] = v;
    return ok();
  }

  result<void> load_topics_locked() {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, "next_topic_id", &v);
    if (s.ok()) next_topic_id_ = static_cast<std::uint32_t>(std::stoul(v));
    else if (!s.IsNotFound()) return store::to_error(s, "cannot read topic catalogue");
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    const std::string prefix("topic\x00", 6);
    bool changed = false;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string name = it->key().ToString().substr(prefix.size());
      auto& slot = topics_[name];
      if (!slot) {
        nlohmann::json j = nlohmann::json::parse(it->value().ToString(), nullptr, false);
        if (j.is_discarded() || !j.contains("id") || !j.contains("partitions"))
          return error{errc::corruption, "corrupt catalogue entry for topic '" + name + "'"};
        slot = std::make_unique<topic_state>();
        slot->name = name;
        slot->id = j["id"].get<std::uint32_t>();
        slot->cfg.partitions = j["partitions"].get<std::int32_t>();
        slot->cfg.retention_ms = j.value("retention_ms", std::int64_t{-1});
        slot->cfg.retention_bytes = j.value("retention_bytes", std::int64_t{-1});
        slot->cfg.key_versions = j.value("key_versions", false);
        slot->cfg.compact = j.value("compact", false);
        slot->cfg.delete_retention_ms = j.value("delete_retention_ms", std::int64_t{86'400'000});
        slot->parts.resize(static_cast<std::size_t>(slot->cfg.partitions));
        attach_metrics(*slot);
        changed = true;
      }
      NF_TRY(recover_partitions(*slot));
    }
    if (!it->status().ok()) return store::to_error(it->status(), "cannot read topic catalogue");
    if (changed) ++generation_;
    return ok();
  }

  // Rebuilds begin/end/max_ts/next_pos of each partition from what is stored.
  result<void> recover_partitions(topic_state& t) {
    for (std::size_t i = 0; i < t.parts.size(); ++i) {
      auto& p = t.parts[i];
      const auto part = static_cast<std::int32_t>(i);
      std::string v;
      auto s = db_->Get(rocksdb::ReadOptions(), meta_, meta_begin_key(t.id, part), &v);
      std::int64_t begin = 0;
      if (s.ok() && v.size() == 8) begin = static_cast<std::int64_t>(get_be64(v.data()));
      else if (!s.ok() && !s.IsNotFound()) return store::to_error(s, "cannot read begin offset of " + t.name);
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), logcf_));
      it->SeekForPrev(log_key(t.id, part, std::numeric_limits<std::int64_t>::max()));
      const std::string prefix = log_key(t.id, part, 0).substr(0, 8);
      if (it->Valid() && it->key().starts_with(prefix)) {
        const auto off = static_cast<std::int64_t>(get_be64(it->key().data() + 8));
        message m;
        record_meta meta{};
        const std::string where = t.name + "/" + std::to_string(i) + "@" + std::to_string(off);
        const auto at = [&] { return where; };
        NF_TRY(decode_meta(it->value(), meta, at));
        NF_TRY(decode_record(it->value(), m, at));
        record r{m.key, m.value, 0, m.headers, std::nullopt};
        p.end = p.next = off + 1;
        p.max_ts = meta.max_ts;
        p.next_pos = meta.pos + static_cast<std::int64_t>(record_size(r));
      } else if (!it->status().ok()) {
        return store::to_error(it->status(), "cannot scan " + t.name);
      } else {
        p.end = p.next = std::max(p.next, begin);
      }
      p.begin = std::max(begin, p.begin);
    }
    return ok();
  }

  // Runs on the group leader only (one at a time).
  rocksdb::Status resume_if_needed() {
    if (!needs_resume_) return rocksdb::Status::OK();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_resume_ < std::chrono::milliseconds(100)) return last_resume_status_;
    last_resume_ = now;
    last_resume_status_ = db_->Resume();
    // Busy: RocksDB's own recovery from a full disk is under way (it polls for free space and
    // resumes by itself); until then the write fails as the first one did.
    if (last_resume_status_.IsBusy()) last_resume_status_ = last_write_error_;
    if (last_resume_status_.ok()) {
      needs_resume_ = false;
      log_->info("the bus store at {} takes writes again", opts_.path);
    }
    return last_resume_status_;
  }

  void retention_loop() {
    std::unique_lock lk(mu_);
    while (!stopping_) {
      retention_cv_.wait_for(lk, std::chrono::milliseconds(opts_.retention_check_ms));
      if (stopping_) break;
      lk.unlock();
      auto r = enforce_retention();
      if (!r) log_->error("retention sweep failed: {}", describe(r.error()));
      auto c = compact();
      if (!c) log_->error("compaction failed: {}", describe(c.error()));
      lk.lock();
    }
  }

  embedded_options opts_;
  const nf::clock* clock_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<owner_lock> lock_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* logcf_ = nullptr;
  std::string secondary_path_;
  std::string identity_;                 // read-only: the store's identity at the open
  std::mutex identity_mu_;               // guards replaced_by_ and the check
  std::atomic<bool> replaced_{false};    // read-only: the path holds another store now
  std::string replaced_by_;              // its identity, once replaced_
  std::string cluster_id_;  // see cluster_id()
  std::uint32_t next_topic_id_ = 1;
  std::vector<append_request*> pending_;
  // Key versions (meta_version_key -> version) as the store holds them, for the group leader's
  // checks; written only after a group's write succeeded. Guarded by mu_.
  static constexpr std::size_t kVersionCacheEntries = 200'000;
  std::unordered_map<std::string, std::int64_t> version_cache_;
  std::condition_variable committer_cv_;  // a queued append is first in line, or stop
  std::thread committer_;                 // started by the first append_async
  bool writer_active_ = false;
  bool gathering_ = false;               // the leader waits for more appends (group_commit_wait_us)
  std::size_t last_group_appends_ = 0;   // appends the last group carried
  std::size_t prev_group_appends_ = 0;   // and the one before
  std::condition_variable gather_cv_;
  // Write failures: the group leader resumes the store before the next write.
  bool needs_resume_ = false;
  std::chrono::steady_clock::time_point last_resume_{};
  rocksdb::Status last_resume_status_;
  rocksdb::Status last_write_error_;
  metrics::counter* write_groups_ = &metrics::registry::global().get_counter(
      "nf_bus_write_groups_total", "RocksDB writes (one fsync each in sync mode) that carried one or more appends");
  metrics::histogram* write_seconds_ = &metrics::registry::global().get_histogram(
      "nf_bus_write_seconds", "Time of one group commit's RocksDB write (and its fsync in sync mode)");
  metrics::histogram* append_seconds_ = &metrics::registry::global().get_histogram(
      "nf_bus_append_seconds", "Time of one append call, from its arrival to its group's write (and fsync) done");
  metrics::histogram* group_size_ = &metrics::registry::global().get_histogram(
      "nf_bus_write_group_appends", "Appends (requests to append) that one group commit carried", {},
      {1, 2, 4, 8, 16, 32, 64, 128, 256});
  std::condition_variable retention_cv_;
  std::thread retention_thread_;
};

// ---- consumers --------------------------------------------------------------------------------

class embedded_consumer final : public consumer {
 public:
  embedded_consumer(embedded_bus_impl& bus, consumer_options opts) : bus_(bus), opts_(std::move(opts)) {
    if (!opts_.group.empty()) {
      std::lock_guard lk(bus_.mu_);
      member_id_ = bus_.next_member_id_++;
      bus_.groups_[opts_.group][member_id_] = group_member{member_id_, opts_.subscriptions};
      ++bus_.generation_;
      bus_.wake_all_locked();
    }
  }

  ~embedded_consumer() override {
    if (!opts_.group.empty()) {
      std::lock_guard lk(bus_.mu_);
      auto& g = bus_.groups_[opts_.group];
      g.erase(member_id_);
      if (g.empty()) bus_.groups_.erase(opts_.group);
      ++bus_.generation_;
      bus_.wake_all_locked();
    }
  }

  result<std::vector<message>> poll(std::chrono::milliseconds timeout, std::size_t max_messages) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<message> out;
    for (;;) {
      std::vector<embedded_bus_impl::fetch_plan> plan;
      {
        std::unique_lock lk(bus_.mu_);
        for (;;) {
          if (wakeup_.exchange(false) || bus_.stopping_) return out;
          if (!opts_.group.empty() && seen_generation_ != bus_.generation_) NF_TRY(rebalance_locked());
          if (!paused_) plan = plan_locked();
          if (!plan.empty()) break;
          if (bus_.read_only()) break;  // another process writes: catch up below
          // Sleep until an append to a topic we read (or anything that changes the plan).
          sleeper_.topics.clear();
          {
            std::lock_guard plk(mu_);
            for (const auto& [tp, pos] : positions_)
              if (auto t = bus_.topics_.find(tp.topic.get()); t != bus_.topics_.end()) sleeper_.topics.push_back(t->second->id);
          }
          bus_.sleepers_.push_back(&sleeper_);
          const auto woke = sleeper_.cv.wait_until(lk, deadline);
          bus_.sleepers_.erase(std::find(bus_.sleepers_.begin(), bus_.sleepers_.end(), &sleeper_));
          bus_.poll_wakeups_->inc();
          if (woke == std::cv_status::timeout) {
            if (!opts_.group.empty() && seen_generation_ != bus_.generation_) continue;
            if (!paused_) plan = plan_locked();
            if (plan.empty()) return out;
            break;
          }
        }
      }
      if (plan.empty()) {
        // Read-only: the owner is another process, so there is nothing to wait on but time.
        if (std::chrono::steady_clock::now() >= deadline) return out;
        std::unique_lock lk(bus_.mu_);
        bus_.data_cv_.wait_until(lk, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
        lk.unlock();
        NF_TRY(bus_.catch_up());
        continue;
      }
      std::size_t budget = max_messages;
      for (const auto& f : plan) {
        if (budget == 0) break;
        const std::size_t before = out.size();
        NF_TRY_ASSIGN(const auto next, bus_.read_range(f, budget, out));
        const std::size_t got = out.size() - before;
        budget -= got;
        if (next > f.from) {  // records read, or (compacted topics) a range the cleaner emptied
          std::lock_guard lk(mu_);
          auto it = positions_.find(f.tp);
          // The assignment may have changed while reading; keep positions of owned partitions only.
          if (it != positions_.end() && it->second == f.from) {
            it->second = next;
            consumed_[f.tp] = it->second;
          } else {
            out.resize(before);
            budget += got;
          }
        }
      }
      if (!out.empty()) return out;
      if (std::chrono::steady_clock::now() >= deadline) return out;
    }
  }

  result<void> commit() override {
    std::vector<std::pair<topic_partition, offset>> pos;
    {
      std::lock_guard lk(mu_);
      for (const auto& [tp, off] : consumed_) pos.emplace_back(tp, offset{off});
    }
    if (pos.empty()) return ok();
    return commit(pos);
  }

  result<void> commit(const std::vector<std::pair<topic_partition, offset>>& positions) override {
    if (opts_.group.empty()) return error{errc::invalid_argument, "a consumer without a group cannot commit"};
    return bus_.write_committed(opts_.group, positions);
  }

  result<void> assign(const std::vector<std::pair<topic_partition, offset>>& positions) override {
    if (!opts_.group.empty()) return error{errc::invalid_argument, "group consumers get partitions from their group; use a consumer without a group to assign"};
    std::lock_guard blk(bus_.mu_);
    for (const auto& [tp, off] : positions) NF_TRY(bus_.find_partition_locked(tp));
    std::lock_guard lk(mu_);
    positions_.clear();
    for (const auto& [tp, off] : positions) positions_[tp] = off.get();
    return ok();
  }

  result<void> seek(const topic_partition& tp, offset off) override {
    std::lock_guard lk(mu_);
    auto it = positions_.find(tp);
    if (it == positions_.end()) return error{errc::invalid_argument, to_string(tp) + " is not assigned to this consumer"};
    it->second = off.get();
    return ok();
  }

  std::vector<topic_partition> assignment() override {
    std::unique_lock blk(bus_.mu_);
    if (!opts_.group.empty() && seen_generation_ != bus_.generation_)
      if (auto r = rebalance_locked(); !r) {
        // The previous assignment stands; the next poll tries again (and returns the error).
        nf::log::get("bus")->error("consumer group {}: rebalance failed: {}", opts_.group, r.error().message);
        metrics::registry::global().get_counter("nf_bus_rebalance_errors_total", "Consumer group rebalances that failed").inc();
      }
    std::lock_guard lk(mu_);
    std::vector<topic_partition> out;
    for (const auto& [tp, off] : positions_) out.push_back(tp);
    return out;
  }

  void pause() override {
    std::lock_guard blk(bus_.mu_);
    paused_ = true;
  }
  void resume() override {
    std::lock_guard blk(bus_.mu_);
    paused_ = false;
    bus_.wake_all_locked();
  }
  void wakeup() override {
    std::lock_guard blk(bus_.mu_);
    wakeup_ = true;
    bus_.wake_all_locked();
  }

 private:
  // With bus_.mu_ held: partitions that have data past our position.
  std::vector<embedded_bus_impl::fetch_plan> plan_locked() {
    std::vector<embedded_bus_impl::fetch_plan> plan;
    std::lock_guard lk(mu_);
    for (auto& [tp, pos] : positions_) {
      auto t = bus_.topics_.find(tp.topic.get());
      if (t == bus_.topics_.end()) continue;
      const auto& p = t->second->parts[static_cast<std::size_t>(tp.partition.get())];
      if (pos < p.begin) pos = p.begin;  // retention removed what we had not read yet
      if (pos < p.end) plan.push_back({tp, t->second->id, pos, p.end, t->second->cfg.compact});
    }
    return plan;
  }

  // With bus_.mu_ held: recompute this member's share of the group's partitions. Each topic's
  // partitions are dealt round-robin to the members subscribed to it, ordered by member id.
  result<void> rebalance_locked() {
    seen_generation_ = bus_.generation_;
    const auto& members = bus_.groups_[opts_.group];
    std::set<topic_partition> mine;
    for (const auto& [name, t] : bus_.topics_) {
      std::vector<std::uint64_t> subs;
      for (const auto& [id, m] : members)
        if (subscribed_by(m.subscriptions, name)) subs.push_back(id);
      if (subs.empty()) continue;
      for (std::int32_t p = 0; p < t->cfg.partitions; ++p)
        if (subs[static_cast<std::size_t>(p) % subs.size()] == member_id_) mine.insert({topic_name{name}, partition_id{p}});
    }
    std::lock_guard lk(mu_);
    for (auto it = positions_.begin(); it != positions_.end();) {
      if (!mine.count(it->first)) {
        consumed_.erase(it->first);
        it = positions_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& tp : mine) {
      if (positions_.count(tp)) continue;
      auto c = bus_.committed(opts_.group, tp);
      if (!c) return std::move(c).error();
      const auto& p = bus_.topics_.at(tp.topic.get())->parts[static_cast<std::size_t>(tp.partition.get())];
      std::int64_t start;
      if (c.value()) start = std::max(c.value()->get(), p.begin);
      else start = opts_.reset == reset_policy::earliest ? p.begin : p.end;
      positions_[tp] = start;
    }
    return ok();
  }

  embedded_bus_impl& bus_;
  consumer_options opts_;
  std::uint64_t member_id_ = 0;
  std::uint64_t seen_generation_ = ~0ull;
  bool paused_ = false;        // guarded by bus_.mu_
  std::atomic<bool> wakeup_{false};
  embedded_bus_impl::sleeper sleeper_;  // registered with the bus while poll waits
  std::mutex mu_;              // positions_ and consumed_; taken after bus_.mu_
  std::map<topic_partition, std::int64_t> positions_;
  std::map<topic_partition, std::int64_t> consumed_;
};

result<std::unique_ptr<consumer>> embedded_bus_impl::make_consumer(const consumer_options& opts) {
  if (opts.group.empty() && !opts.subscriptions.empty())
    return error{errc::invalid_argument, "subscriptions need a consumer group; a consumer without a group uses assign()"};
  for (const auto& s : opts.subscriptions) {
    if (!is_pattern(s)) NF_TRY(validate_topic_name(s));
  }
  return std::unique_ptr<consumer>(std::make_unique<embedded_consumer>(*this, opts));
}

}  // namespace

result<std::unique_ptr<embedded_bus>> open_embedded(const embedded_options& opts) {
  if (opts.path.empty()) return error{errc::invalid_argument, "embedded bus needs a directory"};
  auto bus = std::make_unique<embedded_bus_impl>(opts);
  NF_TRY(bus->open());
  return std::unique_ptr<embedded_bus>(std::move(bus));
}

}  // namespace nf::bus
