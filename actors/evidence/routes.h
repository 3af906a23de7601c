// The evidence ledger over HTTP: the evidence feature's routes.
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

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "core/store/vault.h"
#include "core/base/clock.h"
#include "core/bus/bus.h"
#include "core/http/routes.h"
#include "projections/ledger/ledger.h"

namespace nf::evidence {

namespace perm {
inline constexpr http::permission read{"ledger:read"};
inline constexpr http::permission write{"ledger:write"};
}  // namespace perm

struct route_options {
  ledger::ledger_projection* proj = nullptr;   // required
  std::string public_key_pem;                  // of the key that signs tree heads
  std::string blob_dir;                        // the evidence vault
  std::size_t max_record_bytes = 8 << 20;
  std::string region = "local";
  std::chrono::milliseconds wait{5'000};       // how long POST /ledger/record waits for its leaf
};

class routes {
 public:
  routes(bus::event_bus& bus, projection::store& store, route_options o, const nf::clock& clk);
  ~routes();
  void add_to(http::route_table& t);

 private:
  using request = http::request;
  using response = http::response;
  response record(const http::route_context& rc, const http::caller& who, const request& req);
  void warm();  // loads the ledger's node cache (on its own thread)
  response put_blob(const http::caller& who, const std::string& name, const request& req);
  response get_blob(const http::caller& who, const std::string& name, const request& req);
  response tree_head(const request& req);
  response entry(const http::caller& who, const std::string& index, const request& req);
  response inclusion(const http::caller& who, const http::target& t, const request& req);
  response consistency(const http::target& t, const request& req);
  response search(const http::caller& who, const http::target& t, const request& req);
  response public_key(const request& req);
  // The latest head's size, or an error answer.
  std::optional<std::uint64_t> head_size(std::optional<response>& err, const request& req);

  bus::event_bus& bus_;
  route_options opts_;
  ledger::node_cache cache_;
  ledger::ledger_view view_;
  store::vault vault_;
  const nf::clock& clk_;
  std::string key_id_hex_;
  std::thread warm_;  // loads the node cache at start; proofs are served meanwhile
};

}  // namespace nf::evidence
