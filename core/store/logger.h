// RocksDB's own log lines go through our logger to stderr, never to a LOG file in the data
// directory: a LOG file on a full disk would fail, and RocksDB's file logger asserts on the
// write after a failed one, which would abort the process instead of reporting the full disk.
#pragma once

#include <memory>
#include <string>

#include <rocksdb/env.h>

namespace nf::store {

// Warnings and errors of the RocksDB instance `name` (e.g. "bus", "projections").
std::shared_ptr<rocksdb::Logger> make_logger(const std::string& name);

}  // namespace nf::store
