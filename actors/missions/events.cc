// The missions feature's event types: the four contracts of the product specification.
#include "actors/missions/events.h"

#include <google/protobuf/util/time_util.h>

#include "envelope.pb.h"
#include "missions.pb.h"

namespace nf::missions {

result<void> prompt_v1_to_v2(events::Envelope& env) {
  events::MissionPrompt p;
  if (!env.payload().UnpackTo(&p)) return error{errc::corruption, "the payload is not a MissionPrompt"};
  if (p.has_created_at()) return ok();
  *p.mutable_created_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(env.occurred_at());
  env.mutable_payload()->PackFrom(p);
  return ok();
}

void register_events(event::type_registry& reg) {
  // MissionPrompt v2 always carries createdAt; v1 prompts could lack it (the time the platform
  // took the prompt stands in for it).
  reg.add("mission.prompted", events::MissionPrompt::descriptor(), "missions", 2);
  reg.add("mission.prompt_requested", events::MissionPrompt::descriptor(), "missions", 2);
  reg.add_upcaster("mission.prompted", 1, prompt_v1_to_v2);
  reg.add_upcaster("mission.prompt_requested", 1, prompt_v1_to_v2);
  reg.add("mission.prompt_declined", events::PromptDeclined::descriptor(), "missions");
  reg.add("mission.artifact_recorded", events::ArtifactEvidence::descriptor(), "missions");
  reg.add("mission.validation_reported", events::ValidationReport::descriptor(), "missions");
  for (const char* t : {"agent.spawned", "agent.escalated", "agent.retired"}) reg.add(t, events::AgentLifecycleEvent::descriptor(), "missions");
  for (const char* t : {"mission.accepted", "mission.started", "mission.validated", "mission.failed"})
    reg.add(t, events::MissionStatusChanged::descriptor(), "missions");
}

}  // namespace nf::missions
