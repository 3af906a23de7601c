// Events a read model cannot fold (a required field missing, no earlier event to fold onto) are
// kept, never folded with empty fields and never skipped in silence: stored with the reason under
// <prefix><topic>/<partition>/<offset, 20 digits> as {type, eventId, topic, partition, offset,
// reason}, logged, and counted in nf_projection_rejected_events_total{projection}.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/projection/projection.h"

namespace nf::projection {

result<void> keep_rejected(state_writer& w, std::string_view projection, std::string_view prefix, const bus::message& m,
                           const std::string& type, const std::string& event_id, const std::string& reason);

// The kept events under `prefix`, in key order, at most `limit` (what GET /projections shows).
result<std::vector<nlohmann::json>> read_rejected(store& s, const projection& p, std::string_view prefix, std::size_t limit);

}  // namespace nf::projection
