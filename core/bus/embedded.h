// The embedded bus: a durable, partitioned log stored in RocksDB under one directory.
//
// Layout: column family "log" holds records keyed by (topic id, partition, offset), big-endian so
// RocksDB order is offset order; the default column family holds topics, begin offsets (after
// retention) and committed group offsets.
//
// Ownership: one process opens the directory for writing and holds an flock on OWNER; a second
// writer gets errc::locked naming the owner. Any number of readers may open it read-only (a
// RocksDB secondary instance) alongside the owner and see new data after catch_up().
//
// Durability: an acknowledged append is in the write-ahead log (fsynced in sync mode). Opening
// tolerates only a torn last record (what a crash leaves); corruption anywhere else in a WAL
// fails the open naming the file, never drops records silently. A clean close flushes the
// memtables, so afterwards no record lives only in a WAL. A full disk fails appends with
// errc::no_space (nothing of the batch is acknowledged); reads go on, and the next append after
// space was freed resumes the store (DB::Resume) and succeeds.
#pragma once

#include <memory>
#include <string>

#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/store/backup.h"

namespace rocksdb {
class Env;
}

namespace nf::bus {

// How an open treats a damaged write-ahead log.
enum class wal_recovery {
  strict,          // a torn last record (a crash) is dropped; any other damage fails the open
  point_in_time,   // `doctor --repair`: keep everything before the first damaged record, drop the rest
  skip_damaged,    // salvage (on a copy): skip damaged records, keep what follows them
};

struct embedded_options {
  std::string path;                            // directory of the log; created if missing
  bool sync = true;                            // true: fsync before an append returns; concurrent
                                               // appenders share one fsync (group commit)
  std::size_t max_event_bytes = 1 << 20;       // key + value + headers of one record
  bool read_only = false;                      // open as a secondary reader next to a running owner
  std::int64_t retention_check_ms = 60'000;    // period of the retention sweep; 0 disables the thread
  // With sync: the longest a group's leader waits for more appends while they keep arriving (a
  // gap of a quarter of it ends the wait), when the group before carried more than one append.
  // Appends from many connections then share one fsync instead of alternating in two halves.
  // 0: write as soon as the previous write ends.
  std::int64_t group_commit_wait_us = 400;
  const nf::clock* clock = nullptr;            // null: the system clock
  std::shared_ptr<rocksdb::Env> env;           // null: the default; tests pass a fault-injecting one
  wal_recovery recovery = wal_recovery::strict;
  // Keys one pass of the compacted-topic cleaner maps at most (and 64 MiB of them): its memory
  // stays bounded however many keys a topic has; a larger topic is cleaned over several passes.
  std::size_t compaction_max_keys = 1'000'000;
};

// What verify() found.
struct verify_report {
  std::uint64_t records = 0;              // log records read and decoded
  std::vector<std::string> problems;      // empty when everything checks out
};

class embedded_bus : public event_bus {
 public:
  // Deletes records older than each topic's retention_ms, and the oldest records beyond its
  // retention_bytes per partition. Returns how many records were removed.
  virtual result<std::uint64_t> enforce_retention() = 0;
  // The cleaner of compacted topics (topic_config::compact), as Kafka's log cleaner: removes every
  // record that a later record of the same key supersedes, and tombstones older than
  // delete_retention_ms, never a partition's last record. Offsets never change; readers step over
  // the gaps. Runs with the retention sweep; returns how many records were removed.
  virtual result<std::uint64_t> compact() = 0;
  // Read-only instances: pick up what the owner has written since the last call. errc::unavailable
  // once the log was replaced under this reader (another store at the path, as `region recover`
  // leaves): it does not read the new store's files as if they were the old one's.
  virtual result<void> catch_up() = 0;
  // Read-only instances: whether catch_up() found the log replaced since the open. Such a reader
  // reads nothing more; open the path again.
  virtual bool replaced() const = 0;
  // Reads everything back: the checksum of every block of every table file, every log record
  // (decoded), and the offsets of every partition (dense from begin to end, except where the
  // cleaner removed records of a compacted topic).
  virtual result<verify_report> verify() = 0;
  // Committed group offsets beyond the end of their partition (after records were lost) are
  // set back to the end, so a consumer does not skip the offsets appended next. Returns what
  // was changed, one line each.
  virtual result<std::vector<std::string>> clamp_committed_offsets() = 0;
  // A backup of the whole log (topics, records, group offsets, key versions) into a RocksDB
  // backup engine directory (core/store/backup.h), live write-ahead log included: it holds every
  // append acknowledged before it started. Appends go on meanwhile.
  virtual result<nf::store::db_backup> backup(const std::string& engine_dir, const std::string& metadata,
                                              const nf::store::copy_progress& progress = {}) = 0;
};

result<std::unique_ptr<embedded_bus>> open_embedded(const embedded_options& opts);

}  // namespace nf::bus
