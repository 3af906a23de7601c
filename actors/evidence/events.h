// The evidence feature's event types, declared in the registry at start-up (see core/event/types.h).
#pragma once

#include "core/event/types.h"

namespace nf::evidence {

void register_events(event::type_registry& reg);

}  // namespace nf::evidence
