// The evidence feature's command line: `nexus-forge ledger verify`, and the ledger checks that the
// application's `replay --verify` and `doctor` use (this header is public: see README.md). Every
// check reads evidence.ledger from the bus itself (read-only, beside a running server) and
// recomputes everything: it trusts neither the projection store nor the server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/evidence/audit.h"
#include "core/bus/bus.h"
#include "core/config/config.h"
#include "core/feature/feature.h"

namespace nf::evidence {

struct ledger_verify_args {
  std::string config;
  std::string public_key;  // PEM file; empty: derived from the data dir's signing key
  bool json = false;
  bool quiet = false;
  std::string scratch_dir;  // empty: the temporary directory
};
int ledger_verify(const ledger_verify_args& a, const config::config& cfg);

// What `ledger verify` checks, without printing: the ledger recomputed from evidence.ledger,
// every leaf against its event in the log, every vault blob re-hashed. Problems are sorted with
// the first bad leaf first.
struct ledger_check {
  std::unique_ptr<ledger_audit> audit;
  std::uint64_t sources_checked = 0, sources_gone = 0, blobs_checked = 0;
};
// Memory stays flat however long the ledger is: the per-leaf sets live in a scratch RocksDB under
// `scratch_parent` (default: the temporary directory) for the duration of the check.
result<ledger_check> check_ledger(const config::config& cfg, bus::event_bus& bus, const std::string& public_key_pem, bool progress,
                                  const std::string& scratch_parent = {});

// The public key to verify with: the file given, else the data dir's signing key (never created here).
result<std::string> verification_key(const std::string& public_key_file, const config::config& cfg);

// `replay --verify`: the ledger recomputed once, then each replayed event that the ledger records
// (artifacts, validations, vault records) checked: recorded, unchanged, and proved by an inclusion
// proof against the latest signed head.
class replay_verifier {
 public:
  static result<std::unique_ptr<replay_verifier>> open(bus::event_bus& bus, const config::config& cfg,
                                                       const std::string& public_key_file, bool progress);
  // null for an event the ledger does not record; else {"ok", "index", "treeSize"|"pending"|"reason", ...}.
  nlohmann::json check(const bus::message& m);
  const ledger_audit& audit() const { return *audit_; }
  std::uint64_t verified() const { return verified_; }
  std::uint64_t pending() const { return pending_; }
  std::uint64_t failed() const { return failed_; }

 private:
  explicit replay_verifier(std::unique_ptr<ledger_audit> a) : audit_(std::move(a)) {}
  std::unique_ptr<ledger_audit> audit_;
  std::uint64_t verified_ = 0, pending_ = 0, failed_ = 0;
};

// Adds `ledger verify` to `app`; `args` outlives the parse.
void add_commands(CLI::App& app, ledger_verify_args& args, const feature::command_context& ctx,
                  std::vector<feature::feature::command>& out);

}  // namespace nf::evidence
