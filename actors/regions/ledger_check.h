// The evidence ledger as a region holds it, read from its own log (evidence.ledger, the
// evidence feature's event contract): the last signed tree head, and the proof that the
// region's ledger extends another region's head (what a failover must show before it promotes).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/merkle/merkle.h"

namespace nf::regions {

inline constexpr const char* kEvidenceLedgerTopic = "evidence.ledger";
inline constexpr const char* kLeafAppendedType = "evidence.leaf_appended";
inline constexpr const char* kTreeHeadType = "evidence.tree_head";

struct tree_head_seen {
  std::uint64_t size = 0;
  merkle::hash root{};
};

// Follows a region's evidence.ledger forward and keeps its last signed tree head (for the
// heartbeat: each call reads only what was appended since the last).
class tree_head_tracker {
 public:
  explicit tree_head_tracker(bus::event_bus& b) : bus_(b) {}
  result<std::optional<tree_head_seen>> latest();

 private:
  bus::event_bus& bus_;
  std::unique_ptr<bus::consumer> reader_;
  std::int64_t next_ = 0;
  std::optional<tree_head_seen> last_;
};

// The last tree head in a region's evidence.ledger (nullopt: none signed, or no ledger).
result<std::optional<tree_head_seen>> last_tree_head(bus::event_bus& b);

// That `b`'s ledger extends `head`: its leaves' first head.size hash to head.root, and the
// consistency proof from there to all its leaves verifies. Errors name what is wrong:
//   conflict "... holds N leaves; ... signed a head of M: leaves N to M-1 are missing"
//   corruption          "... the first M leaves hash to R', not the signed root R"
struct extension {
  std::uint64_t size = 0;            // b's leaves
  merkle::hash root{};
  std::vector<merkle::hash> proof;   // from head.size to size
};
result<extension> prove_extends(bus::event_bus& b, const tree_head_seen& head, const std::string& region, const std::string& head_region);

}  // namespace nf::regions
