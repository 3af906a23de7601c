// The vault: blobs stored content-addressed by SHA-256 under a directory
// (<dir>/<first two hex digits>/<64 hex digits>), written to a temporary file, fsynced and
// renamed into place, so a blob is either absent or whole. Every read recomputes the hash: a
// blob whose bytes no longer match its name is reported as corrupt, never served.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/base/types.h"

namespace nf::store {

// The vault shared by the features that store blobs (evidence uploads, marketplace packages):
// `configured` (the config's vault_dir) when set, else the data dir's. The default path predates
// the marketplace and stays, so existing data dirs keep their blobs.
inline std::string vault_dir(std::string_view data_dir, std::string_view configured = {}) {
  return configured.empty() ? std::string(data_dir) + "/evidence/blobs" : std::string(configured);
}

class vault {
 public:
  explicit vault(std::string dir) : dir_(std::move(dir)) {}
  // Stores the bytes; returns their SHA-256 in hex. Storing a blob that is already there is a no-op.
  result<std::string> put(std::string_view bytes);
  // Stores the bytes only if their SHA-256 is `sha256_hex` (invalid_argument otherwise).
  result<void> put_expected(const std::string& sha256_hex, std::string_view bytes);
  // The blob's bytes, verified: not_found when absent, corruption when they do not hash to the name.
  result<std::string> get(const std::string& sha256_hex) const;
  bool contains(const std::string& sha256_hex) const;
  // Calls fn for every stored blob name (in no particular order) until it returns false.
  result<void> each(const std::function<bool(const std::string& sha256_hex)>& fn) const;
  const std::string& dir() const { return dir_; }

  // Tenants a blob was stored for: a blob is content-addressed and shared, but a tenant may read
  // only the blobs it stored itself (whoever else stored the same bytes).
  result<void> add_owner(const std::string& sha256_hex, const tenant_id& tenant);
  bool owned_by(const std::string& sha256_hex, const tenant_id& tenant) const;

  // Lowercase 64-hex-digit names only.
  static bool valid_name(std::string_view sha256_hex);

 private:
  std::string path_of(const std::string& sha256_hex) const;
  std::string owner_path(const std::string& sha256_hex, const std::string& tenant) const;
  std::string dir_;
};

}  // namespace nf::store
