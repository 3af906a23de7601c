// Backup and restore of an instance's data directory, consistent and point-in-time, whether the
// instance runs or not:
//   <dir>/FORMAT                   "nexus-forge-backup/1": what marks a backup directory
//   <dir>/projections/             RocksDB backup engine of the read models' store
//   <dir>/bus/                     RocksDB backup engine of the embedded bus (absent on Kafka)
//   <dir>/files/<sha256>           every other file of the data dir (vault blobs, signing key,
//                                  instance files), stored once by content
//   <dir>/manifests/<id>.json      one per backup, written last: a backup without one never
//                                  finished and is not listed
// Order makes it consistent: the read models first, then the bus, then the files. A read model
// then never holds a position the restored bus lacks (it catches up on start), and every vault
// blob an event of the restored bus names was stored before that event was appended. Both
// RocksDB engines share table files between backups, and files are stored by content, so a
// second backup into the same directory copies only what is new.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/http/routes.h"
#include "core/projection/projection.h"

namespace nf::feature {

struct backup_progress {
  std::string step;            // "projections", "bus", "files", "verify"
  std::uint64_t bytes = 0;     // copied (or read) so far in this step
  std::uint64_t files = 0;     // files done so far in this step ("files" and "verify")
  std::uint64_t files_total = 0;
};
using backup_progress_fn = std::function<void(const backup_progress&)>;

struct backup_sources {
  projection::store& store;
  bus::event_bus& bus;         // its RocksDB is backed up when it is the embedded bus
  std::string data_dir;
};

// Creates a backup in `dir` (made if missing; an existing directory must be a backup directory
// or empty). Returns its manifest: {id, createdAt, format, busKind, bus: {backupId, bytes,
// files} | null, projections: {backupId, bytes, files}, files: [{path, sha256, bytes, mode}],
// bytes (of everything the backup references), bytesCopied (new in this backup), fileCount}.
result<nlohmann::json> create_backup(const backup_sources& src, const std::string& dir, const nf::clock& clk,
                                     const backup_progress_fn& progress = {});
// invalid_argument when `dir` cannot take a backup of `data_dir`: inside it, or an existing
// directory that is neither empty nor a backup directory.
result<void> check_backup_target(const std::string& dir, const std::string& data_dir);
// A manifest as read from a backup directory (outside input: a backup may have been damaged or
// tampered with): errc::corruption naming the first field that is not what create_backup writes.
// Paths are relative without '..', hashes 64 lowercase hex digits, modes at most 0777.
result<nlohmann::json> parse_manifest(std::string_view text);
// Every finished backup's manifest, oldest first. invalid_argument when `dir` is not a backup directory.
result<std::vector<nlohmann::json>> list_backups(const std::string& dir);
// Re-reads every file of backup `id` (the latest when unset) against its checksum.
// {id, ok, problems: [..], filesChecked, bytesChecked}; `ok` false names each damaged file.
result<nlohmann::json> verify_backup(const std::string& dir, std::optional<std::uint32_t> id, const backup_progress_fn& progress = {});
// Restores backup `id` (the latest when unset) into `data_dir`, which must be missing or empty
// (with `force`, what it holds is removed first); errc::locked when a running process owns it.
// Checks every file before it is written. Returns {id, dataDir, bytes, fileCount}.
result<nlohmann::json> restore_backup(const std::string& dir, std::optional<std::uint32_t> id, const std::string& data_dir, bool force,
                                      const backup_progress_fn& progress = {});

// A running server's backups: POST /backups {"dir"} starts one on a thread of its own (202; 409
// while one runs); GET /backups/current reports {state: idle|running|done|failed, step, bytes,
// files, filesTotal, startedAt, finishedAt, manifest | error}. Platform admin only.
class backup_ops {
 public:
  backup_ops(backup_sources src, const nf::clock& clk);
  ~backup_ops();  // waits for a running backup
  backup_ops(const backup_ops&) = delete;
  backup_ops& operator=(const backup_ops&) = delete;
  result<nlohmann::json> start(const std::string& dir);
  nlohmann::json current();
  void add_routes(http::route_table& t);

 private:
  backup_sources src_;
  const nf::clock& clk_;
  std::mutex mu_;
  nlohmann::json state_ = {{"state", "idle"}};
  std::thread thread_;
};

}  // namespace nf::feature
