// A scratch key-value store for one long computation whose sets outgrow memory (the ledger audit
// over 10^7 leaves): RocksDB in a fresh temporary directory, without a write-ahead log, removed
// when the store is destroyed. Puts are buffered into large write batches; reads and scans see
// every put before them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace nf::store {

class scratch {
 public:
  // A new store in a new directory under `parent` (default: the system's temporary directory,
  // $TMPDIR when set).
  static result<std::unique_ptr<scratch>> open(const std::string& parent = {});
  ~scratch();
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;

  // Buffered; a failure to write is reported by the next flush(), get() or scan().
  void put(std::string_view key, std::string_view value);
  result<void> flush();
  result<std::optional<std::string>> get(std::string_view key);
  // Every key starting with `prefix`, in key order, until fn returns false.
  result<void> scan(std::string_view prefix, const std::function<bool(std::string_view key, std::string_view value)>& fn);

  const std::string& dir() const { return dir_; }

 private:
  struct impl;
  explicit scratch(std::unique_ptr<impl> i, std::string dir);
  std::unique_ptr<impl> impl_;
  std::string dir_;
};

// A Bloom filter over strings, sized for `expected` members at about a 1% false-positive rate
// (10 bits each, at least 64 KiB, at most 128 MiB): "maybe" or "certainly not".
class bloom {
 public:
  explicit bloom(std::uint64_t expected);
  void add(std::string_view s);
  bool may_contain(std::string_view s) const;
  std::uint64_t bytes() const { return bits_.size() * sizeof(std::uint64_t); }

 private:
  std::vector<std::uint64_t> bits_;
  std::uint64_t nbits_;
};

}  // namespace nf::store
