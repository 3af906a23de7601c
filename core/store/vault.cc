// The vault on the file system.
#include "core/store/vault.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "core/base/hex.h"
#include "core/merkle/merkle.h"

namespace nf::store {
namespace fs = std::filesystem;

namespace {

// errno after a failed write: a full disk is its own error (HTTP 507), the rest are I/O errors.
errc io_code(int err) { return err == ENOSPC || err == EDQUOT ? errc::no_space : errc::io_error; }

result<void> write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const auto n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return error{io_code(errno), "cannot write '" + path + "': " + std::strerror(errno)};
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return ok();
}

result<void> fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return error{errc::io_error, "cannot open '" + path + "': " + std::strerror(errno)};
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return error{io_code(errno), "cannot fsync '" + path + "': " + std::strerror(errno)};
  return ok();
}

std::string hex_of(std::string_view bytes) {
  const auto h = merkle::sha256(bytes);
  return to_hex(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

}  // namespace

bool vault::valid_name(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string vault::path_of(const std::string& sha) const { return dir_ + "/" + sha.substr(0, 2) + "/" + sha; }

result<std::string> vault::put(std::string_view bytes) {
  const auto sha = hex_of(bytes);
  NF_TRY(put_expected(sha, bytes));
  return sha;
}

result<void> vault::put_expected(const std::string& sha, std::string_view bytes) {
  if (!valid_name(sha)) return error{errc::invalid_argument, "a blob name is 64 lowercase hex digits"};
  const auto actual = hex_of(bytes);
  if (actual != sha) return error{errc::invalid_argument, "the body's SHA-256 is " + actual + ", not " + sha};
  const auto final_path = path_of(sha);
  if (contains(sha)) {
    // Already there: keep it only if it is intact, else replace it with these (verified) bytes.
    if (get(sha)) return ok();
  }
  const auto shard = dir_ + "/" + sha.substr(0, 2);
  std::error_code ec;
  fs::create_directories(shard, ec);
  if (ec) return error{io_code(ec.value()), "cannot create '" + shard + "': " + ec.message()};
  const auto tmp = shard + "/." + sha + "." + std::to_string(std::random_device{}()) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return error{io_code(errno), "cannot create '" + tmp + "': " + std::strerror(errno)};
  auto w = write_all(fd, bytes, tmp);
  const bool synced = w && ::fsync(fd) == 0;
  const int sync_errno = errno;
  ::close(fd);
  if (!w || !synced) {
    fs::remove(tmp, ec);
    return w ? error{io_code(sync_errno), "cannot fsync '" + tmp + "'"} : w.error();
  }
  fs::rename(tmp, final_path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return error{errc::io_error, "cannot move a blob into '" + final_path + "'"};
  }
  return fsync_path(shard, O_RDONLY | O_DIRECTORY);
}

result<std::string> vault::get(const std::string& sha) const {
  if (!valid_name(sha)) return error{errc::invalid_argument, "a blob name is 64 lowercase hex digits"};
  std::ifstream in(path_of(sha), std::ios::binary);
  if (!in) return error{errc::not_found, "no blob " + sha};
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return error{errc::io_error, "cannot read blob " + sha};
  if (hex_of(bytes) != sha) return error{errc::corruption, "blob " + sha + " is corrupt: its bytes hash to " + hex_of(bytes)};
  return bytes;
}

bool vault::contains(const std::string& sha) const {
  std::error_code ec;
  return valid_name(sha) && fs::is_regular_file(path_of(sha), ec);
}

result<void> vault::each(const std::function<bool(const std::string&)>& fn) const {
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return ok();
  for (fs::recursive_directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const auto name = it->path().filename().string();
    if (!valid_name(name)) continue;  // temporary files of writes in progress
    if (!fn(name)) return ok();
  }
  if (ec) return error{errc::io_error, "cannot list '" + dir_ + "': " + ec.message()};
  return ok();
}

// Owners are empty marker files <dir>.owners/<sha256>/<tenant>: a tenant id is a DNS label, so
// it is a safe file name, and the markers stay out of the blob tree that each() walks.
std::string vault::owner_path(const std::string& sha, const std::string& tenant) const {
  return dir_ + ".owners/" + sha + "/" + tenant;
}

result<void> vault::add_owner(const std::string& sha, const tenant_id& owner) {
  const std::string& tenant = owner.get();
  if (!valid_name(sha)) return error{errc::invalid_argument, "a blob name is 64 lowercase hex digits"};
  if (tenant.empty() || tenant.find('/') != std::string::npos || tenant[0] == '.')
    return error{errc::invalid_argument, "an owner is a tenant id"};
  const auto path = owner_path(sha, tenant);
  std::error_code ec;
  if (fs::exists(path, ec)) return ok();
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return error{errc::io_error, "cannot create '" + fs::path(path).parent_path().string() + "': " + ec.message()};
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return error{errno == ENOSPC ? errc::no_space : errc::io_error, "cannot create '" + path + "': " + std::strerror(errno)};
  ::close(fd);
  return ok();
}

bool vault::owned_by(const std::string& sha, const tenant_id& owner) const {
  const std::string& tenant = owner.get();
  if (!valid_name(sha) || tenant.empty() || tenant.find('/') != std::string::npos || tenant[0] == '.') return false;
  std::error_code ec;
  return fs::exists(owner_path(sha, tenant), ec);
}

}  // namespace nf::store
