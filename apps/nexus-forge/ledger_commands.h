// The evidence ledger from the command line: key and vault locations, `ledger verify`, and the
// ledger side of `replay --verify`. Both audits read evidence.ledger from the bus itself
// (read-only, beside a running server) and recompute everything: they trust neither the
// projection store nor the server.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/bus/bus.h"
#include "core/config/config.h"
#include "core/merkle/merkle.h"
#include "core/merkle/tree_head.h"
#include "actors/evidence/audit.h"
#include "actors/evidence/keys.h"

namespace nf::cli {

using evidence::ledger_audit;
using evidence::ledger_problem;

using evidence::blob_dir;
using evidence::load_signer;
using evidence::signing_key_path;

struct ledger_verify_args {
  std::string public_key;  // PEM file; empty: derived from the data dir's signing key
  bool json = false;
  bool quiet = false;
};
int ledger_verify(const ledger_verify_args& a, const config::config& cfg);

// What `ledger verify` checks, without printing: the ledger recomputed from evidence.ledger,
// every leaf against its event in the log, every vault blob re-hashed. Problems are sorted with
// the first bad leaf first.
struct ledger_check {
  std::unique_ptr<ledger_audit> audit;
  std::uint64_t sources_checked = 0, sources_gone = 0, blobs_checked = 0;
};
result<ledger_check> check_ledger(const config::config& cfg, bus::event_bus& bus, const std::string& public_key_pem, bool progress);

// The public key to verify with: the file given, else the data dir's signing key (never created here).
result<std::string> verification_key(const std::string& public_key_file, const config::config& cfg);

}  // namespace nf::cli
