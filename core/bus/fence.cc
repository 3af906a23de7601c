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

fence_verdict fence_tracker::judge(const message& m) {
  if (!inferred_ || m.find_header(kClaimHeader)) {
    const bool had = latest_.has_value();
    const auto v = bus::judge(m, latest_);
    if (v == fence_verdict::claim) inferred_ = false;
    else if (v == fence_verdict::current && !had) inferred_ = true;
    return v;
  }
  // Inferred: an epoch at or above the latest one inferred is current.
  std::optional<std::int64_t> alone;
  if (bus::judge(m, alone) == fence_verdict::stale) return fence_verdict::stale;  // malformed, or not an earlier offset
  if (!alone) return fence_verdict::plain;
  if (*alone < *latest_) return fence_verdict::stale;
  latest_ = *alone;
  return fence_verdict::current;
}

void stamp_epoch(record& r, std::int64_t epoch) {
  std::erase_if(r.headers, [](const header& h) { return h.name == kEpochHeader || h.name == kClaimHeader; });
  r.headers.push_back({kEpochHeader, std::to_string(epoch)});
}

}  // namespace nf::bus
