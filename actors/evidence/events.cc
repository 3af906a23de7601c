// The evidence feature's event types.
#include "actors/evidence/events.h"

#include "ledger.pb.h"

namespace nf::evidence {

void register_events(event::type_registry& reg) {
  reg.add("evidence.leaf_appended", events::LedgerLeaf::descriptor(), "evidence");
  reg.add("evidence.record_requested", events::LedgerLeaf::descriptor(), "evidence");
  reg.add("evidence.tree_head", events::TreeHead::descriptor(), "evidence");
  reg.add("evidence.record_submitted", events::EvidenceRecord::descriptor(), "evidence");
}

}  // namespace nf::evidence
