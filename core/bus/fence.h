// Fencing single writers by log order. A partition that one owner at a time may write (the
// output of a decision actor, the evidence ledger) carries two kinds of marked records:
//   claim    header nf-claim (the owner's name): "from this offset on, I write here"
//   fenced   header nf-epoch (the offset of the writer's claim in this partition)
// A fenced record counts only when its epoch is the latest claim before it in the partition.
// So after a new owner claims, anything a deposed owner still appends is refused by every
// reader that applies this rule (projections, the new owner), on either bus, without broker
// support. Records with neither header are not fenced.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/bus/bus.h"

namespace nf::bus {

inline constexpr const char* kClaimHeader = "nf-claim";
inline constexpr const char* kEpochHeader = "nf-epoch";

enum class fence_verdict {
  plain,     // not fenced: counts
  claim,     // a claim: the partition's new epoch is its offset
  current,   // written under the latest claim: counts
  stale,     // written under an older claim (or a claim that is not one): refused
};

// The latest claim of a partition and the rule above. `latest` is nullopt until a claim is seen.
// A fenced record whose epoch names no claim seen (the claim is below where reading began) is
// taken as current and its epoch as the latest claim.
fence_verdict judge(const message& m, std::optional<std::int64_t>& latest);

// The rule for a reader that starts inside a partition, past its latest claim (a command
// gateway reading outcomes from the end, a mirror link resuming at its checkpoint). Until it sees
// a claim it cannot know the latest one, so it infers it from the epochs it reads: claims come in
// log order, so a record whose epoch is below one already read was written after a newer claim
// (stale), and a higher epoch names a newer claim (current, and now the latest). Once a claim is
// read the rule is judge()'s. Only a deposed owner's record read before any current one can be
// taken as current.
class fence_tracker {
 public:
  fence_verdict judge(const message& m);
  std::optional<std::int64_t> latest() const { return latest_; }

 private:
  std::optional<std::int64_t> latest_;
  bool inferred_ = false;  // latest_ came from an epoch, not from a claim read
};

// Marks a record as written under the claim at `epoch`.
void stamp_epoch(record& r, std::int64_t epoch);

}  // namespace nf::bus
