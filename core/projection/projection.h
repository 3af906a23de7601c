// Projections: read models folded from the bus into RocksDB with exactly-once effect.
//
// Contract:
//  - apply() folds one event into state through a state_writer. It must be deterministic: the
//    same events in the same order give the same bytes.
//  - store::apply(batch) is atomic and safe to retry: the state changes of every event in the
//    batch and the consumed offsets are committed in ONE RocksDB WriteBatch; events below the
//    committed offsets are skipped. A crash between batches loses nothing and applies nothing
//    twice.
//  - store::last_applied() returns the consumed offsets (the next offset to read per partition).
//  - Fenced partitions (core/bus/fence.h): claims are not passed to apply(), and a record written
//    under a claim older than the partition's latest is refused (counted, logged, never applied).
//  - store::rebuild() replays from offset 0 into a fresh column family and swaps it in
//    atomically; readers keep using the old one until the swap.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/base/types.h"
#include "core/bus/bus.h"
#include "core/store/backup.h"

namespace nf::projection {

// Keys starting with these two bytes are reserved for the framework (consumed offsets).
inline constexpr std::string_view kReservedPrefix = "\xff\xff";

class state_writer {
 public:
  virtual ~state_writer() = default;
  // Sees earlier writes of the same batch.
  virtual result<std::optional<std::string>> get(std::string_view key) = 0;
  virtual result<void> put(std::string_view key, std::string_view value) = 0;
  virtual result<void> del(std::string_view key) = 0;
};

// A consistent snapshot of a projection's committed state.
class state_reader {
 public:
  virtual ~state_reader() = default;
  virtual result<std::optional<std::string>> get(std::string_view key) = 0;
  // Calls fn for each key with the prefix, in key order, until fn returns false.
  virtual result<void> scan(std::string_view prefix,
                            const std::function<bool(std::string_view key, std::string_view value)>& fn) = 0;
  // The greatest key with `prefix` that is <= `key`, with its value (nullopt when none): a
  // lookup of the range a position falls in (keys that end in padded numbers).
  virtual result<std::optional<std::pair<std::string, std::string>>> floor(std::string_view prefix, std::string_view key) = 0;
};

class projection {
 public:
  virtual ~projection() = default;
  virtual std::string name() const = 0;
  // Topic names, or patterns with '*' (a pattern also takes topics created later).
  virtual std::vector<std::string> topics() const = 0;
  // An error aborts the batch: nothing of it is committed.
  virtual result<void> apply(const bus::message& m, state_writer& w) = 0;
  // True for projections whose apply() reads state (a storage hint: lookups of absent keys get
  // a memtable filter).
  virtual bool reads_while_folding() const { return false; }
  // True: the framework counts, per topic and key, every record it consumes with that key (claims
  // and refused records included), in the same WriteBatch as the state. That is the bus's key
  // version (core/bus/bus.h) as of the applied position, which documents serve as their ETag.
  // Read it with key_version_key() through a reader or get_many().
  virtual bool counts_key_versions() const { return false; }
};

// The framework's key holding the version of `key` on `topic` (counts_key_versions()).
std::string key_version_key(std::string_view topic, std::string_view key);
// Its value as a number; 0 (no stream) when absent.
result<std::int64_t> parse_key_version(const std::optional<std::string>& value);

struct store_options {
  std::string path;
  bool sync = false;  // the WAL makes batches atomic across process crashes; sync adds power-loss safety
};

struct rebuild_progress {
  std::uint64_t applied = 0;
  std::uint64_t total = 0;  // events to replay, as known when the rebuild started
};

class store {
 public:
  static result<std::unique_ptr<store>> open(const store_options& opts);
  virtual ~store() = default;

  // Makes the projection known to the store (creates its column family on first use).
  virtual result<void> attach(projection& p) = 0;
  // Applies events in order; returns how many were consumed: applied, or claims and records
  // refused by fencing (already-applied ones are skipped and not counted).
  virtual result<std::size_t> apply(projection& p, std::span<const bus::message> batch) = 0;
  virtual result<std::map<topic_partition, offset>> last_applied(const projection& p) = 0;
  // The latest owner claim the projection read in a fenced partition (core/bus/fence.h): records
  // written under an older claim were refused, not applied.
  virtual result<std::optional<offset>> latest_claim(const projection& p, const topic_partition& tp) = 0;
  virtual result<std::unique_ptr<state_reader>> reader(const projection& p) = 0;
  // Point reads of a few keys from one consistent view (RocksDB MultiGet), without a snapshot:
  // cheaper than a reader for a request that needs two or three keys.
  virtual result<std::vector<std::optional<std::string>>> get_many(const projection& p, std::span<const std::string> keys) = 0;
  // The projection's generation: 0 at first, one more at each rebuild.
  virtual result<std::uint64_t> generation(const projection& p) = 0;
  // SHA-256 over every key and value of the state (offsets excluded), hex.
  // `progress`, when given, is told how many keys were read so far, every 65,536 keys.
  virtual result<std::string> digest(const projection& p, const std::function<void(std::uint64_t keys)>& progress = {}) = 0;
  // Reads every block of every table file back and checks its checksum.
  virtual result<void> verify_checksums() = 0;
  // A backup of the whole store (every projection, every generation, the offsets) into a RocksDB
  // backup engine directory (core/store/backup.h), while applies go on.
  virtual result<nf::store::db_backup> backup(const std::string& engine_dir, const std::string& metadata,
                                              const nf::store::copy_progress& progress = {}) = 0;
  // Replays all events of the projection's topics into a fresh column family and swaps it in.
  virtual result<std::uint64_t> rebuild(projection& p, bus::event_bus& bus,
                                        const std::function<void(const rebuild_progress&)>& progress = {}) = 0;
};

struct runner_options {
  std::size_t batch_size = 512;
  // A feed that applied a small batch (under a quarter of batch_size) waits this long before its
  // next poll, so the next batch carries more: one store write per batch instead of one per
  // group commit (Kafka's fetch.max.wait.ms). For read models nobody waits on per request (usage,
  // the client-id index); 0 for those that answer read-your-writes.
  std::chrono::milliseconds linger{0};
};

// Feeds a projection from the bus: reads from its committed offsets and applies in batches.
class runner {
 public:
  runner(store& s, projection& p, bus::event_bus& bus, runner_options o = {});
  ~runner();
  // Applies what one poll returns (waiting up to `timeout`); returns how many were applied.
  result<std::size_t> step(std::chrono::milliseconds timeout);
  // Applies until every partition has reached the end offset seen at the start of the call.
  result<std::uint64_t> catch_up();
  // Events between the committed offsets and the end of every partition.
  result<std::uint64_t> lag();
  // corruption when a committed position is beyond the end of its partition on the bus (the
  // bus lost records the projection had applied): new appends would reuse those offsets, so the
  // projection must be rebuilt, never resumed.
  result<void> verify_positions();

 private:
  result<void> ensure_consumer();
  store& store_;
  projection& proj_;
  bus::event_bus& bus_;
  runner_options opts_;
  std::unique_ptr<bus::consumer> consumer_;
  // Projections over topic patterns: topics matched so far, and when that was last checked.
  std::size_t matched_ = 0;
  std::chrono::steady_clock::time_point checked_{};
};

// Keeps a projection applied on a background thread and lets callers wait for a position, so a
// writer can answer only after its own event is visible (read-your-writes).
class feed {
 public:
  feed(store& s, projection& p, bus::event_bus& bus, runner_options o = {});
  ~feed();
  // Called on the feed's thread at start and after every batch it commits, before waiters are
  // told of the new positions (so state derived in the callback is visible to them). Set before start().
  void on_applied(std::function<void()> fn);
  result<void> start();
  void stop();
  // True once the projection has reached the end of every partition at least once.
  bool caught_up() const;
  // Waits until the event at (tp, off) is applied; false on timeout.
  bool wait_applied(const topic_partition& tp, offset off, std::chrono::milliseconds timeout);
  std::uint64_t lag() const;
  // Whether its projection reads `topic`.
  bool consumes(std::string_view topic) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace nf::projection
