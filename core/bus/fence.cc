#include "core/bus/fence.h"

#include <charconv>

namespace nf::bus {

fence_verdict judge(const message& m, std::optional<std::int64_t>& latest) {
  if (m.find_header(kClaimHeader)) {
    latest = m.off.get();
    return fence_verdict::claim;
  }
  const std::string* e = m.find_header(kEpochHeader);
  if (!e) return fence_verdict::plain;
  std::int64_t epoch = -1;
  const auto [end, ec] = std::from_chars(e->data(), e->data() + e->size(), epoch);
  // An epoch must name an earlier offset of this partition.
  if (ec != std::errc() || end != e->data() + e->size() || epoch < 0 || epoch >= m.off.get()) return fence_verdict::stale;
  if (!latest) {
    latest = epoch;
    return fence_verdict::current;
  }
  return epoch == *latest ? fence_verdict::current : fence_verdict::stale;
}

void stamp_epoch(record& r, std::int64_t epoch) {
  std::erase_if(r.headers, [](const header& h) { return h.name == kEpochHeader || h.name == kClaimHeader; });
  r.headers.push_back({kEpochHeader, std::to_string(epoch)});
}

}  // namespace nf::bus
