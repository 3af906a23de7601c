// The evidence ledger over HTTP (internal to the gateway library).
//
//   POST /ledger/record            {data (base64) | json, kind, missionId?, artifactId?}: stores the
//                                  blob in the vault, appends evidence.record_submitted, waits for its
//                                  leaf -> 201 {leaf_index, leaf_hash, sha256, eventId, size}
//   PUT  /evidence/blobs/{sha256}  artifact content; the body must hash to the name
//   GET  /evidence/blobs/{sha256}  the blob, verified against its name on every read
//   GET  /ledger/tree-head         the latest signed head
//   GET  /ledger/entries/{index}   leaf data (base64), leaf hash and where the event came from
//   GET  /ledger/proof/inclusion?leaf_hash=|index=[&tree_size=]   audit path
//   GET  /ledger/proof/consistency?first=[&second=]                consistency proof
//   GET  /ledger/search?missionId=|artifactId=[&limit=]            leaf indices
//   GET  /ledger/public-key        PEM, key id and algorithm
// Permissions: ledger:read for GET, ledger:write for POST and PUT. A tenant sees the entries,
// inclusion proofs and search results of its own events only (another tenant's leaf answers 404);
// tree heads, consistency proofs and the public key are the same for everyone (they hold hashes
// only). Records are stamped with the caller's tenant and held to its quotas.
// Proofs are served for trees up to the latest signed head (tree_size defaults to it), so every
// proof can be checked against a signature. Hashes are hex; audit paths are arrays.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "actors/evidence/vault.h"
#include "actors/gateway/gateway.h"
#include "actors/gateway/http_util.h"
#include "actors/tenancy/directory.h"
#include "projections/ledger/ledger.h"

namespace nf::gateway {

class ledger_api {
 public:
  ledger_api(bus::event_bus& bus, projection::store& store, const ledger_options& o, const nf::clock& clk, std::string region,
             std::chrono::milliseconds wait);
  ~ledger_api();
  // What a route asks of the caller: `need(permission)` and `quota(route)` give nullopt to go
  // ahead or the refusal to answer with.
  using check_fn = std::function<std::optional<response>(std::string_view)>;
  using quota_fn = std::function<std::optional<response>(const std::string&)>;
  // nullopt when the target is not one of the ledger's routes.
  std::optional<response> handle(const target& t, const request& req, std::string& route, const tenancy::context& who,
                                 const check_fn& need, const quota_fn& quota);
  bool caught_up() const { return opts_.feed == nullptr || opts_.feed->caught_up(); }

 private:
  response record(const tenancy::context& who, const request& req);
  void warm();  // loads the ledger's node cache (on its own thread)
  response put_blob(const tenancy::context& who, const std::string& name, const request& req);
  response get_blob(const tenancy::context& who, const std::string& name, const request& req);
  response tree_head(const request& req);
  response entry(const tenancy::context& who, const std::string& index, const request& req);
  response inclusion(const tenancy::context& who, const target& t, const request& req);
  response consistency(const target& t, const request& req);
  response search(const tenancy::context& who, const target& t, const request& req);
  response public_key(const request& req);
  // The latest head's size, or an error answer.
  std::optional<std::uint64_t> head_size(std::optional<response>& err, const request& req);

  bus::event_bus& bus_;
  ledger_options opts_;
  ledger::ledger_view view_;
  ledger::node_cache cache_;
  evidence::vault vault_;
  const nf::clock& clk_;
  std::string region_;
  std::chrono::milliseconds wait_;
  std::string key_id_hex_;
  std::thread warm_;  // loads the node cache at start; proofs are served meanwhile
};

}  // namespace nf::gateway
