// The missions feature's event types, declared in the registry at start-up (see core/event/types.h).
#pragma once

#include "core/event/types.h"

namespace nf::missions {

void register_events(event::type_registry& reg);

// MissionPrompt v1 -> v2 (mission.prompted, mission.prompt_requested): v2 always carries
// createdAt; a v1 prompt without it gets the envelope's occurredAt.
result<void> prompt_v1_to_v2(events::Envelope& env);

}  // namespace nf::missions
