// Backups of one RocksDB database with RocksDB's BackupEngine: table files are shared between the
// backups of one engine directory (named by their checksum), so a second backup into the same
// directory copies only the files that are new; live write-ahead logs are copied too, so a backup
// holds every write acknowledged before it started. Verification re-reads every file against the
// checksum recorded when it was copied.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace rocksdb {
class DB;
}

namespace nf::store {

// Told the bytes copied so far (in steps of a few MiB).
using copy_progress = std::function<void(std::uint64_t bytes)>;

struct db_backup {
  std::uint32_t id = 0;          // the engine's backup id
  std::int64_t timestamp = 0;    // unix seconds
  std::uint64_t size = 0;        // bytes of every file the backup references
  std::uint32_t files = 0;
  std::string metadata;          // what the caller attached
};

// A new backup of `db` into `engine_dir` (created if missing), with `metadata` attached.
result<db_backup> backup_db(rocksdb::DB& db, const std::string& engine_dir, const std::string& metadata, const copy_progress& progress = {});
// The backups in `engine_dir`, oldest first; not_found when it holds no backup engine.
result<std::vector<db_backup>> list_db_backups(const std::string& engine_dir);
// corruption naming the file when a file of backup `id` is missing, has another size, or fails its checksum.
result<void> verify_db_backup(const std::string& engine_dir, std::uint32_t id);
// Deletes backup `id` of `engine_dir` (its shared files only when no other backup uses them).
result<void> delete_db_backup(const std::string& engine_dir, std::uint32_t id);
// Restores backup `id` into `target` (which must not hold a database). RocksDB reports no
// progress while it restores; callers report per database.
result<void> restore_db(const std::string& engine_dir, std::uint32_t id, const std::string& target);

}  // namespace nf::store
