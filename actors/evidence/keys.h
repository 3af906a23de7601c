// Where the evidence feature keeps its files: the tree-head signing key and the vault.
#pragma once

#include <memory>
#include <string>

#include "core/config/config.h"
#include "core/merkle/tree_head.h"

namespace nf::evidence {

result<std::string> signing_key_path(const config::config& cfg);
std::string blob_dir(const config::config& cfg);
// The tree-head key of this data dir, created (mode 0600) on first use.
result<std::shared_ptr<merkle::signer>> load_signer(const config::config& cfg);

}  // namespace nf::evidence
