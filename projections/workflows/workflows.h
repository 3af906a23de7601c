// The workflows read model, folded from workflow.definitions (every version of every definition)
// and workflow.runs (every step of every run). A run's document is a pure fold of its events
// (fold_run); the engine applies the same fold to its own copy, so what it decides from and what
// GET /runs/{id} shows never differ. Key layout and invariants: README.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/projection/projection.h"

namespace nf::events {
class Envelope;
}

namespace nf::workflows {

inline constexpr const char* kDefinitionsTopic = "workflow.definitions";
inline constexpr const char* kRunsTopic = "workflow.runs";
// Topics of the contracts other features publish that the model reads or waits on.
inline constexpr const char* kMarketplaceTopic = "marketplace.agents";       // installs (for agent_invoke)
inline constexpr const char* kAgentInstalledType = "marketplace.agent_installed";
inline constexpr const char* kMissionLifecycleTopic = "mission.lifecycle";   // mission.validated | mission.failed
inline constexpr const char* kAgentTasksTopic = "agent.tasks";               // agent.task_requested
inline constexpr const char* kAgentResultsTopic = "agent.results";           // agent.task_completed | agent.task_failed

// On workflow.definitions (WorkflowDefined), keyed by "<tenant>/<workflow id>".
inline constexpr const char* kDefined = "workflow.defined";
// On workflow.runs, keyed by the run id.
inline constexpr const char* kRunStarted = "workflow.run_started";        // RunStart
inline constexpr const char* kNodeScheduled = "workflow.node_scheduled";  // NodeStep ...
inline constexpr const char* kNodeStarted = "workflow.node_started";
inline constexpr const char* kNodeWaiting = "workflow.node_waiting";
inline constexpr const char* kNodeCompleted = "workflow.node_completed";
inline constexpr const char* kNodeFailed = "workflow.node_failed";
inline constexpr const char* kNodeSkipped = "workflow.node_skipped";
inline constexpr const char* kRetryScheduled = "workflow.retry_scheduled";
inline constexpr const char* kTimerSet = "workflow.timer_set";
inline constexpr const char* kTimerFired = "workflow.timer_fired";
inline constexpr const char* kRunPaused = "workflow.run_paused";
inline constexpr const char* kRunResumed = "workflow.run_resumed";      // ... NodeStep
inline constexpr const char* kRunCompleted = "workflow.run_completed";  // RunEnded ...
inline constexpr const char* kRunFailed = "workflow.run_failed";
inline constexpr const char* kRunCancelled = "workflow.run_cancelled";  // ... RunEnded
inline constexpr const char* kRefused = "workflow.command_refused";     // RunRefused
// Schedules, on workflow.runs keyed by the schedule id.
inline constexpr const char* kScheduleCreated = "workflow.schedule_created";      // ScheduleSpec
inline constexpr const char* kScheduleFired = "workflow.schedule_fired";          // ScheduleStep ...
inline constexpr const char* kScheduleSkipped = "workflow.schedule_skipped";
inline constexpr const char* kScheduleBuffered = "workflow.schedule_buffered";
inline constexpr const char* kScheduleRunEnded = "workflow.schedule_run_ended";
inline constexpr const char* kScheduleDeleted = "workflow.schedule_deleted";      // ... ScheduleStep
// Concurrency slots, on workflow.runs keyed by the slot id.
inline constexpr const char* kSlotGranted = "workflow.slot_granted";    // SlotStep ...
inline constexpr const char* kSlotQueued = "workflow.slot_queued";
inline constexpr const char* kSlotFreed = "workflow.slot_freed";        // ... SlotStep
// On a run: one of the slots it waits for was granted (SlotStep).
inline constexpr const char* kRunAdmitted = "workflow.run_admitted";
bool is_slot_event(const std::string& type);
result<bool> fold_slot(nlohmann::json& doc, const events::Envelope& env, std::string* why);

// Triggers, on workflow.definitions keyed by "<tenant>/<workflow id>".
inline constexpr const char* kTriggerDefined = "workflow.trigger_defined";        // TriggerDefined
inline constexpr const char* kTriggerDeleted = "workflow.trigger_deleted";
// A tenant's own template version (WorkflowDefined: workflow_id is the template's name), on
// workflow.definitions keyed by "<tenant>/template:<name>".
inline constexpr const char* kTemplateDefined = "workflow.template_defined";

bool is_schedule_event(const std::string& type);
// Folds one schedule event into the schedule's document (null before schedule_created).
result<bool> fold_schedule(nlohmann::json& doc, const events::Envelope& env, std::int64_t partition, std::string* why);

bool run_ended(const std::string& status);
// The topic whose event ends a waiting node (its `wait`), or "" for waits that end otherwise.
std::string wait_topic(const nlohmann::json& wait);

// Folds one workflow.runs event into a run's document (null before run_started). Returns false
// for an event the document cannot take (a step of a run that has not started, a second start),
// which the read model keeps as rejected; the document is then unchanged.
result<bool> fold_run(nlohmann::json& doc, const events::Envelope& env, std::int64_t partition, std::string* why);

class workflows_projection final : public projection::projection {
 public:
  std::string name() const override { return "workflows"; }
  // The marketplace's topic as a pattern: it may not exist (the feature off), and a pattern waits for it.
  std::vector<std::string> topics() const override { return {kDefinitionsTopic, kRunsTopic, std::string(kMarketplaceTopic) + "*"}; }
  result<void> apply(const bus::message& m, ::nf::projection::state_writer& w) override;
  bool reads_while_folding() const override { return true; }
  bool counts_key_versions() const override { return true; }
};

struct run_query {
  std::string tenant;
  std::string workflow;          // empty: any
  std::string status;            // empty: any
  std::int64_t started_after = 0;
  std::vector<std::pair<std::string, std::string>> attributes;  // all must match
  std::string after;             // a page token: the last run id of the previous page
  std::size_t limit = 100;
};

class workflows_view {
 public:
  workflows_view(::nf::projection::store& store, const workflows_projection& proj) : store_(store), proj_(proj) {}
  // {workflowId, version, document, digest, definedBy, definedAt}
  result<std::optional<nlohmann::json>> definition(const std::string& tenant, const std::string& id, std::int64_t version) const;
  result<std::optional<std::int64_t>> latest_version(const std::string& tenant, const std::string& id) const;
  // The key version of the definition stream (for expected_version on append).
  result<std::int64_t> definition_stream_version(const std::string& tenant, const std::string& id) const;
  // Every workflow of a tenant: {workflowId, latestVersion, name, versions}.
  result<std::vector<nlohmann::json>> definitions(const std::string& tenant) const;
  result<std::optional<nlohmann::json>> run(const std::string& run_id) const;
  // Events of a run from sequence `after` (exclusive), at most `limit`.
  result<std::vector<nlohmann::json>> history(const std::string& run_id, std::int64_t after, std::size_t limit) const;
  // Matching runs, newest first, and the next page token (empty on the last page).
  result<std::pair<std::vector<nlohmann::json>, std::string>> runs(const run_query& q) const;
  // Timers of the partition due at `now_ms`: fn(run id, node, attempt, timer, at) until it returns false.
  result<void> due_timers(std::int64_t partition, std::int64_t now_ms,
                          const std::function<bool(const std::string&, const std::string&, int, const std::string&, std::int64_t)>& fn) const;
  // Schedules of the partition due at `now_ms`: fn(schedule id, due) until it returns false.
  result<void> due_schedules(std::int64_t partition, std::int64_t now_ms, const std::function<bool(const std::string&, std::int64_t)>& fn) const;
  result<std::optional<nlohmann::json>> schedule(const std::string& schedule_id) const;
  result<std::vector<nlohmann::json>> schedules(const std::string& tenant, const std::string& workflow) const;
  // Every trigger not deleted: {triggerId, tenantId, workflowId, topic, type, filter, inputs, version}.
  result<std::vector<nlohmann::json>> triggers() const;
  // Runs waiting for an event on `topic`: {runId, node, attempt, tenantId, wait}.
  result<std::vector<nlohmann::json>> event_waits(const std::string& topic) const;
  result<std::optional<nlohmann::json>> slot(const std::string& slot_id) const;
  // Whether the tenant installed the marketplace agent.
  result<bool> installed(const std::string& tenant, const std::string& agent) const;
  // A tenant's template: the given version, or the latest when 0.
  result<std::optional<nlohmann::json>> tenant_template(const std::string& tenant, const std::string& name, std::int64_t version) const;
  // Every template of a tenant, latest versions.
  result<std::vector<nlohmann::json>> tenant_templates(const std::string& tenant) const;
  // Pending timers in all partitions.
  result<std::uint64_t> pending_timers() const;
  // Per node: {node, executions, failures, p50Ms, p95Ms}.
  result<nlohmann::json> metrics(const std::string& tenant, const std::string& workflow) const;
  result<std::vector<nlohmann::json>> rejected(std::size_t limit = 1000) const;

 private:
  ::nf::projection::store& store_;
  const workflows_projection& proj_;
};

}  // namespace nf::workflows
