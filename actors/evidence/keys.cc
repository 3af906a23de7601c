// The evidence feature's key and vault locations.
#include "actors/evidence/keys.h"

#include "core/store/vault.h"

#include <filesystem>

#include "actors/evidence/settings.h"

namespace nf::evidence {

result<std::string> signing_key_path(const config::config& cfg) {
  NF_TRY_ASSIGN(const auto s, ledger_settings_of(cfg));
  return s.signing_key.empty() ? cfg.data_dir + "/ledger/tree-head.key" : s.signing_key;
}

std::string blob_dir(const config::config& cfg) { return store::vault_dir(cfg.data_dir, cfg.vault_dir); }

result<std::shared_ptr<merkle::signer>> load_signer(const config::config& cfg) {
  NF_TRY_ASSIGN(const auto path, signing_key_path(cfg));
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return error{errc::io_error, "cannot create the directory of '" + path + "': " + ec.message()};
  NF_TRY_ASSIGN(auto s, merkle::signer::load_or_create(path));
  return std::shared_ptr<merkle::signer>(std::move(s));
}

}  // namespace nf::evidence
