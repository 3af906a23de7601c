// The missions feature's event types: the four contracts of the product specification.
#include "actors/missions/events.h"

#include "missions.pb.h"

namespace nf::missions {

void register_events(event::type_registry& reg) {
  reg.add("mission.prompted", events::MissionPrompt::descriptor(), "missions");
  reg.add("mission.prompt_requested", events::MissionPrompt::descriptor(), "missions");
  reg.add("mission.prompt_declined", events::PromptDeclined::descriptor(), "missions");
  reg.add("mission.artifact_recorded", events::ArtifactEvidence::descriptor(), "missions");
  reg.add("mission.validation_reported", events::ValidationReport::descriptor(), "missions");
  for (const char* t : {"agent.spawned", "agent.escalated", "agent.retired"}) reg.add(t, events::AgentLifecycleEvent::descriptor(), "missions");
  for (const char* t : {"mission.accepted", "mission.started", "mission.validated", "mission.failed"})
    reg.add(t, events::MissionStatusChanged::descriptor(), "missions");
}

}  // namespace nf::missions
