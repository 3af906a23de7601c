// Events a read model cannot fold (a required field missing, no earlier event to fold onto) are
// kept, never folded with empty fields and never skipped in silence: stored with the reason under
// <prefix><topic>/<partition>/<offset, 20 digits> as {type, eventId, topic, partition, offset,
// reason}, logged, and counted in nf_projection_rejected_events_total{projection}.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/bus/bus.h"
#include "core/projection/projection.h"

namespace nf::projection {

result<void> keep_rejected(state_writer& w, std::string_view projection, std::string_view prefix, const bus::message& m,
                           const std::string& type, const std::string& event_id, const std::string& reason);

}  // namespace nf::projection
