// The evidence feature's section of the config file: "ledger".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/config.h"

namespace nf::evidence {

struct ledger_settings {
  std::string signing_key;                        // Ed25519 PEM; empty: <data_dir>/ledger/tree-head.key (created 0600)
  std::int64_t head_every_leaves = 1000;          // sign a tree head after this many new leaves...
  std::int64_t head_every_ms = 1000;              // ...or this long after the first unsigned leaf
  std::vector<std::string> topics;                // topics recorded besides mission.artifacts/validations/evidence.records
  std::int64_t max_record_bytes = 8 << 20;        // largest evidence blob accepted over HTTP
};

// The "ledger" section of `c` (defaults when absent); errors name the key.
result<ledger_settings> ledger_settings_of(const config::config& c);
// The check registered for the section (run when the config is loaded).
result<void> check_ledger_section(const std::string& json_text);

}  // namespace nf::evidence
