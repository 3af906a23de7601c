// BackupEngine wrappers (see backup.h).
#include "core/store/backup.h"

#include <filesystem>
#include <memory>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

#include "core/store/status.h"

namespace nf::store {
namespace {

namespace fs = std::filesystem;
constexpr std::uint64_t kProgressStep = 4 << 20;

rocksdb::BackupEngineOptions engine_options(const std::string& dir) {
  rocksdb::BackupEngineOptions o(dir);
  o.share_table_files = true;
  o.share_files_with_checksum = true;  // shared files named by checksum and size: never two files of one name
  o.sync = true;
  o.max_background_operations = 2;
  o.callback_trigger_interval_size = kProgressStep;
  return o;
}

db_backup from_info(const rocksdb::BackupInfo& i) {
  return db_backup{i.backup_id, i.timestamp, i.size, i.number_files, i.app_metadata};
}

// Opens a read-only engine on a directory that must already hold one.
result<std::unique_ptr<rocksdb::BackupEngineReadOnly>> open_read_only(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(fs::path(dir) / "meta", ec))
    return error{errc::not_found, "'" + dir + "' holds no backups (no RocksDB backup engine there)"};
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  auto s = rocksdb::BackupEngineReadOnly::Open(rocksdb::Env::Default(), engine_options(dir), &raw);
  if (!s.ok()) return to_error(s, "cannot open the backups in '" + dir + "'");
  return std::unique_ptr<rocksdb::BackupEngineReadOnly>(raw);
}

}  // namespace

result<db_backup> backup_db(rocksdb::DB& db, const std::string& engine_dir, const std::string& metadata, const copy_progress& progress) {
  std::error_code ec;
  fs::create_directories(engine_dir, ec);
  if (ec) return error{errc::io_error, "cannot create '" + engine_dir + "': " + ec.message()};
  rocksdb::BackupEngine* raw = nullptr;
  auto s = rocksdb::BackupEngine::Open(rocksdb::Env::Default(), engine_options(engine_dir), &raw);
  if (!s.ok()) return to_error(s, "cannot open the backups in '" + engine_dir + "'");
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  rocksdb::CreateBackupOptions co;
  co.flush_before_backup = false;  // the live WAL is copied: every acknowledged write is in the backup
  std::uint64_t copied = 0;
  if (progress)
    co.progress_callback = [&] {
      copied += kProgressStep;
      try {
        progress(copied);
      } catch (...) {  // RocksDB callbacks must not throw
      }
    };
  rocksdb::BackupID id = 0;
  s = engine->CreateNewBackupWithMetadata(co, &db, metadata, &id);
  if (!s.ok()) return to_error(s, "backup into '" + engine_dir + "' failed");
  rocksdb::BackupInfo info;
  if (auto got = engine->GetBackupInfo(id, &info); !got.ok())
    return to_error(got, "cannot read backup " + std::to_string(id) + " in '" + engine_dir + "'");
  return from_info(info);
}

result<std::vector<db_backup>> list_db_backups(const std::string& engine_dir) {
  NF_TRY_ASSIGN(auto engine, open_read_only(engine_dir));
  std::vector<rocksdb::BackupInfo> infos;
  engine->GetBackupInfo(&infos);
  std::vector<db_backup> out;
  for (const auto& i : infos) out.push_back(from_info(i));
  return out;
}

result<void> verify_db_backup(const std::string& engine_dir, std::uint32_t id) {
  NF_TRY_ASSIGN(auto engine, open_read_only(engine_dir));
  auto s = engine->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (s.IsNotFound()) return error{errc::not_found, "'" + engine_dir + "' has no backup " + std::to_string(id) + ": " + s.ToString()};
  if (!s.ok()) return error{errc::corruption, "backup " + std::to_string(id) + " in '" + engine_dir + "' is damaged: " + s.ToString()};
  return ok();
}

result<void> delete_db_backup(const std::string& engine_dir, std::uint32_t id) {
  rocksdb::BackupEngine* raw = nullptr;
  auto s = rocksdb::BackupEngine::Open(rocksdb::Env::Default(), engine_options(engine_dir), &raw);
  if (!s.ok()) return to_error(s, "cannot open the backups in '" + engine_dir + "'");
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  if (auto d = engine->DeleteBackup(id); !d.ok()) return to_error(d, "cannot delete backup " + std::to_string(id) + " in '" + engine_dir + "'");
  return ok();
}

result<void> restore_db(const std::string& engine_dir, std::uint32_t id, const std::string& target) {
  NF_TRY_ASSIGN(auto engine, open_read_only(engine_dir));
  std::error_code ec;
  if (fs::exists(fs::path(target) / "CURRENT", ec))
    return error{errc::already_exists, "'" + target + "' already holds a database; restore into an empty directory"};
  auto s = engine->RestoreDBFromBackup(rocksdb::RestoreOptions(), id, target, target);
  if (!s.ok()) return to_error(s, "restoring backup " + std::to_string(id) + " from '" + engine_dir + "' into '" + target + "' failed");
  return ok();
}

}  // namespace nf::store
