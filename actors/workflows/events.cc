#include "actors/workflows/events.h"

#include "actors/workflows/engine.h"
#include "workflows.pb.h"

namespace nf::workflows {

void register_events(event::type_registry& reg) {
  reg.add(kDefined, events::WorkflowDefined::descriptor(), "workflows");
  reg.add(kTemplateDefined, events::WorkflowDefined::descriptor(), "workflows");
  for (const char* t : {kRunRequested, kRunStarted}) reg.add(t, events::RunStart::descriptor(), "workflows");
  for (const char* t : {kCancelRequested, kApprovalGiven, kStepRequested, kContinueRequested, kTimerDue, kNodeResult})
    reg.add(t, events::RunCommand::descriptor(), "workflows");
  for (const char* t : {kNodeScheduled, kNodeStarted, kNodeWaiting, kNodeCompleted, kNodeFailed, kNodeSkipped, kRetryScheduled, kTimerSet, kTimerFired,
                        kRunPaused, kRunResumed})
    reg.add(t, events::NodeStep::descriptor(), "workflows");
  for (const char* t : {kRunCompleted, kRunFailed, kRunCancelled}) reg.add(t, events::RunEnded::descriptor(), "workflows");
  reg.add(kRefused, events::RunRefused::descriptor(), "workflows");
  for (const char* t : {kScheduleRequested, kScheduleCreated}) reg.add(t, events::ScheduleSpec::descriptor(), "workflows");
  for (const char* t : {kScheduleDue, kScheduleDeleteRequested, kScheduleRunDone, kScheduleFired, kScheduleSkipped, kScheduleBuffered, kScheduleRunEnded,
                        kScheduleDeleted})
    reg.add(t, events::ScheduleStep::descriptor(), "workflows");
  for (const char* t : {kSlotRequested, kSlotReleased, kAdmitRun, kSlotGranted, kSlotQueued, kSlotFreed}) reg.add(t, events::SlotStep::descriptor(), "workflows");
  reg.add(kRunAdmitted, events::NodeStep::descriptor(), "workflows");
  for (const char* t : {kTriggerDefined, kTriggerDeleted}) reg.add(t, events::TriggerDefined::descriptor(), "workflows");
}

}  // namespace nf::workflows
