// The scratch store and the Bloom filter.
#include "core/store/scratch.h"

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "core/store/logger.h"
#include "core/store/status.h"

namespace nf::store {
namespace fs = std::filesystem;

namespace {
constexpr std::size_t kBatchBytes = 4 << 20;  // puts written per RocksDB write
}

struct scratch::impl {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteBatch batch;
  std::optional<error> failed;
};

result<std::unique_ptr<scratch>> scratch::open(const std::string& parent) {
  std::error_code ec;
  const fs::path base = parent.empty() ? fs::temp_directory_path(ec) : fs::path(parent);
  if (ec) return error{errc::io_error, "no temporary directory: " + ec.message()};
  std::string tmpl = (base / "nf-scratch-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return error{errc::io_error, "cannot create a scratch directory under " + base.string() + ": " + std::strerror(errno)};
  rocksdb::Options o;
  o.create_if_missing = true;
  o.info_log = make_logger("scratch");
  o.write_buffer_size = 32 << 20;
  o.max_write_buffer_number = 2;
  o.target_file_size_base = 64 << 20;
  o.max_open_files = 256;
  rocksdb::BlockBasedTableOptions t;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  t.cache_index_and_filter_blocks = true;  // bounded by the block cache, not by the data's size
  t.block_cache = rocksdb::NewLRUCache(16 << 20);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(o, tmpl, &raw);
  if (!s.ok()) {
    fs::remove_all(tmpl, ec);
    return to_error(s, "opening a scratch store in " + tmpl);
  }
  auto i = std::make_unique<impl>();
  i->db.reset(raw);
  return std::unique_ptr<scratch>(new scratch(std::move(i), tmpl));
}

scratch::scratch(std::unique_ptr<impl> i, std::string dir) : impl_(std::move(i)), dir_(std::move(dir)) {}

scratch::~scratch() {
  impl_->db.reset();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void scratch::put(std::string_view key, std::string_view value) {
  impl_->batch.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
  if (impl_->batch.GetDataSize() >= kBatchBytes) (void)flush();
}

result<void> scratch::flush() {
  if (impl_->batch.Count() > 0) {
    rocksdb::WriteOptions wo;
    wo.disableWAL = true;
    auto s = impl_->db->Write(wo, &impl_->batch);
    impl_->batch.Clear();
    if (!s.ok() && !impl_->failed) impl_->failed = to_error(s, "writing the scratch store in " + dir_);
  }
  if (impl_->failed) return *impl_->failed;
  return ok();
}

result<std::optional<std::string>> scratch::get(std::string_view key) {
  NF_TRY(flush());
  std::string v;
  auto s = impl_->db->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &v);
  if (s.IsNotFound()) return std::optional<std::string>{};
  NF_TRY(check(s, "reading the scratch store in " + dir_));
  return std::optional<std::string>{std::move(v)};
}

result<void> scratch::scan(std::string_view prefix, const std::function<bool(std::string_view, std::string_view)>& fn) {
  NF_TRY(flush());
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));
  const rocksdb::Slice p(prefix.data(), prefix.size());
  for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next())
    if (!fn(std::string_view(it->key().data(), it->key().size()), std::string_view(it->value().data(), it->value().size()))) break;
  return check(it->status(), "scanning the scratch store in " + dir_);
}

namespace {
// FNV-1a and a second, independent mix of it: the two hashes of double hashing.
std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}
std::uint64_t mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
constexpr int kHashes = 7;
}  // namespace

bloom::bloom(std::uint64_t expected) {
  std::uint64_t bits = expected * 10;
  bits = std::max<std::uint64_t>(bits, std::uint64_t{64} << 13);
  bits = std::min<std::uint64_t>(bits, std::uint64_t{128} << 23);
  bits_.assign((bits + 63) / 64, 0);
  nbits_ = bits_.size() * 64;
}

void bloom::add(std::string_view s) {
  const auto h1 = fnv1a(s), h2 = mix(h1) | 1;
  for (int i = 0; i < kHashes; ++i) {
    const auto b = (h1 + static_cast<std::uint64_t>(i) * h2) % nbits_;
    bits_[b / 64] |= std::uint64_t{1} << (b % 64);
  }
}

bool bloom::may_contain(std::string_view s) const {
  const auto h1 = fnv1a(s), h2 = mix(h1) | 1;
  for (int i = 0; i < kHashes; ++i) {
    const auto b = (h1 + static_cast<std::uint64_t>(i) * h2) % nbits_;
    if (!(bits_[b / 64] & (std::uint64_t{1} << (b % 64)))) return false;
  }
  return true;
}

}  // namespace nf::store
