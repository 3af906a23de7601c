// RocksDB helpers: the one place where rocksdb::Status becomes an nf::error.
#pragma once

#include <string>

#include <rocksdb/status.h>

#include "core/base/result.h"

namespace nf::store {

// Maps a non-OK status to an error whose message starts with `context`.
error to_error(const rocksdb::Status& s, const std::string& context);

inline result<void> check(const rocksdb::Status& s, const std::string& context) {
  if (s.ok()) return ok();
  return to_error(s, context);
}

}  // namespace nf::store
