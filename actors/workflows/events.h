// The workflow engine's event types (events/workflows.proto), declared in the registry.
#pragma once

#include "core/event/types.h"

namespace nf::workflows {
void register_events(event::type_registry& reg);
}
