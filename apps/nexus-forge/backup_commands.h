// `nexus-forge backup create|list|verify` and `nexus-forge restore`: consistent point-in-time
// backups of a data directory (core/feature/backup.h). `backup create --server URL` asks a running
// server to back itself up (the directory is on its machine) and follows its progress; without
// --server it backs up a stopped data dir.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/config/config.h"

namespace nf::cli {

struct backup_args {
  std::string dir;                   // the backup directory
  std::string server, key;
  std::optional<std::uint32_t> id;   // verify / restore: the backup (default: the latest)
  std::string data_dir;              // restore: the target
  bool force = false;                // restore: replace what the target holds
  bool json = false;
  bool quiet = false;
};

int backup_create(const backup_args& a, const config::config* cfg);
int backup_list(const backup_args& a);
int backup_verify(const backup_args& a);
int backup_restore(const backup_args& a);

}  // namespace nf::cli
