// The workflow engine. A run's state is its document, a pure fold of its events
// (projections/workflows: fold_run). Deciding is pure too: run_decider looks at the definition
// and the document and emits the next events, each folded into the document at once, so the
// next decision sees it. The engine actor owns the partitions of commands.workflows its group
// gives it and is the single writer of the same partitions of workflow.runs (fenced,
// core/command/owner.h): whatever instance restarts or takes over a partition decides from the
// same folded state, so a run resumes exactly where its log ends.
//
// In:  commands.workflows  workflow.run_requested (RunStart), cancel_requested, approval_given,
//                          step_requested, continue_requested, timer_due, node_result (RunCommand)
// Out: workflow.runs       run and node steps (projections/workflows/workflows.h), and
//                          workflow.command_refused for a command the run's state does not allow.
// Timers are rows of the read model; tick() turns the due ones of owned partitions into
// timer_due commands, and the run's state decides whether a timer still counts (once only).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <google/protobuf/message.h>
#include <nlohmann/json.hpp>

#include "actors/workflows/definition.h"
#include "core/actor/actor.h"
#include "core/command/owner.h"
#include "projections/workflows/workflows.h"

namespace nf::events {
class Envelope;
class RunStart;
}

namespace nf::workflows {

inline constexpr const char* kCommands = "commands.workflows";
inline constexpr const char* kRunRequested = "workflow.run_requested";     // RunStart
inline constexpr const char* kCancelRequested = "workflow.cancel_requested";  // RunCommand ...
inline constexpr const char* kApprovalGiven = "workflow.approval_given";
inline constexpr const char* kStepRequested = "workflow.step_requested";
inline constexpr const char* kContinueRequested = "workflow.continue_requested";
inline constexpr const char* kTimerDue = "workflow.timer_due";
inline constexpr const char* kNodeResult = "workflow.node_result";        // ... RunCommand
inline constexpr const char* kScheduleRequested = "workflow.schedule_requested";         // ScheduleSpec
inline constexpr const char* kScheduleDue = "workflow.schedule_due";                     // ScheduleStep ...
inline constexpr const char* kScheduleDeleteRequested = "workflow.schedule_delete_requested";
inline constexpr const char* kScheduleRunDone = "workflow.schedule_run_done";           // ... ScheduleStep
inline constexpr const char* kSlotRequested = "workflow.slot_requested";  // SlotStep ...
inline constexpr const char* kSlotReleased = "workflow.slot_released";
inline constexpr const char* kAdmitRun = "workflow.admit_run";            // ... SlotStep, to the run
// Concurrency slot ids start with this (slt-q-<tenant>, slt-k-<tenant>-<workflow>-<key digest>).
inline constexpr const char* kSlotPrefix = "slt-";
// A run started with the tenant's concurrentRuns `limit` (from the caller, or as a schedule or
// trigger recorded it) holds the tenant's slot while it runs; nullopt or < 0: unlimited, no slot.
// A child run holds none: it runs under its parent's (a slot of its own could wait forever on
// the parent that waits for it).
void add_tenant_slot(events::RunStart& s, const std::string& tenant, std::optional<std::int64_t> limit);
// Schedule ids start with this, so a key on workflow.runs says which document it is.
inline constexpr const char* kSchedulePrefix = "sch-";
// A fire time this much behind the clock counts as missed (catch-up after downtime).
inline constexpr std::int64_t kLateFireMs = 60'000;

// What a waiting node asks of the world. The engine actor implements it; tests record it.
class effects {
 public:
  virtual ~effects() = default;
  // An emit_event node: appends the event, returns {eventId, topic, partition, offset}.
  virtual result<nlohmann::json> emit_event(const nlohmann::json& doc, const std::string& node, const nlohmann::json& wait) = 0;
  // Starts a wait that completes later with a node_result command (a child run, an HTTP request).
  // errc::unsupported (or any error) fails the node with the message.
  virtual result<void> start_wait(const nlohmann::json& doc, const std::string& node, int attempt, const nlohmann::json& wait) = 0;
  // A run that ended and has a parent (or a schedule): tell the parent's node (or the schedule).
  virtual void notify_parent(const nlohmann::json& doc) = 0;
};

// Decides a run's next events. `emit` must fold each event into `doc` before it returns.
class run_decider {
 public:
  using emit_fn = std::function<result<void>(const char* type, const google::protobuf::Message& payload)>;
  run_decider(const definition& def, nlohmann::json& doc, std::int64_t now_ms, emit_fn emit, effects& fx)
      : def_(def), doc_(doc), now_(now_ms), emit_(std::move(emit)), fx_(fx) {}

  // Runs every node that can run now, in topological order, until the run waits, pauses or ends.
  result<void> advance();
  // A timer came due: counts only when the node still has it (once).
  result<void> timer_due(const std::string& node, int attempt, const std::string& timer);
  // A waiting node's result arrived (a child run, an HTTP response).
  result<void> node_result(const std::string& node, int attempt, const nlohmann::json* output, const std::string& code, const std::string& message);
  // An approval: errc::conflict when no node (or not `node`) waits for one.
  result<void> approve(const std::string& node, bool approved, const std::string& by, const std::string& comment);
  result<void> cancel(const std::string& by, const std::string& reason);
  // Debugging: errc::conflict when the run is not paused.
  result<void> resume(bool step);

 private:
  nlohmann::json scope() const;
  result<void> emit_step(const node_spec& spec, const char* type, const nlohmann::json& inputs);
  result<void> emit_started(const node_spec& spec, int attempt);
  result<void> run_attempt(const node_spec& spec, int attempt, nlohmann::json& scope);
  result<void> on_failure(const node_spec& spec, int attempt, const std::string& code, const std::string& message, bool retryable);
  result<void> complete(const node_spec& spec, int attempt, const nlohmann::json& output, const nlohmann::json& vars, const std::string& by);
  result<void> finish_if_done(const nlohmann::json& scope);
  result<void> end_run(const char* type, const std::string& node, const std::string& code, const std::string& message);

  const definition& def_;
  nlohmann::json& doc_;
  std::int64_t now_;
  emit_fn emit_;
  effects& fx_;
};

// The scope expressions see for a run's document: {inputs, vars, nodes, run} and each input and
// variable by its own name.
nlohmann::json run_scope(const nlohmann::json& doc);

// Compiled definitions by tenant, id and version (versions are immutable), read from the model.
class definition_cache {
 public:
  explicit definition_cache(workflows_view view) : view_(view) {}
  // errc::not_found when the version is not in the read model (yet).
  result<std::shared_ptr<const definition>> get(const std::string& tenant, const std::string& id, std::int64_t version);
  compile_env env_for(const std::string& tenant) const;

 private:
  workflows_view view_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const definition>> cache_;
};

struct engine_options {
  std::vector<std::string> emit_topics{"mission.*", "app.*"};  // emit_event may write these
  std::vector<std::string> http_allow;                          // http_request may call these hosts ("host" or "host:port")
  std::chrono::milliseconds timer_period{10};
  std::chrono::milliseconds timer_retry{5000};  // a timer_due not yet decided is asked again after this
};

class engine final : public ::nf::actor::actor, private effects {
 public:
  engine(command::single_writer& writer, workflows_view view, definition_cache& defs, bus::event_bus& bus, engine_options opts);
  ~engine() override;
  std::string name() const override { return "workflow_engine"; }
  std::vector<std::string> subscriptions() const override { return {kCommands}; }
  result<void> handle(const bus::message& m, ::nf::actor::context& ctx) override;
  result<void> flush() override;
  void on_restart() override;
  std::chrono::milliseconds tick_period() const override { return opts_.timer_period; }
  result<void> tick(::nf::actor::context& ctx) override;
  // Due timers and schedules go before new runs waiting in the mailbox: their time is now.
  int priority(const bus::message& m) const override;

 private:
  struct cached {
    nlohmann::json doc;
    std::int64_t last_offset = -1;
    std::size_t in_flight = 0;
    std::int32_t partition = 0;
  };
  result<cached*> load(const std::string& run_id, std::int32_t partition);
  using emit_fn = std::function<result<void>(const char*, const google::protobuf::Message&)>;
  result<void> handle_slot(const events::Envelope& cmd, cached& c, ::nf::actor::context& ctx, const emit_fn& emit);
  result<void> handle_schedule(const events::Envelope& cmd, cached& c, ::nf::actor::context& ctx, const emit_fn& emit,
                               const std::function<result<void>(const char*, const std::string&)>& refuse);
  void evict_applied();

  result<nlohmann::json> emit_event(const nlohmann::json& doc, const std::string& node, const nlohmann::json& wait) override;
  result<void> start_wait(const nlohmann::json& doc, const std::string& node, int attempt, const nlohmann::json& wait) override;
  void notify_parent(const nlohmann::json& doc) override;

  command::single_writer& writer_;
  workflows_view view_;
  definition_cache& defs_;
  bus::event_bus& bus_;
  engine_options opts_;
  std::mutex mu_;
  std::unordered_map<std::string, cached> runs_;
  std::size_t evict_at_ = 1024;
  std::map<std::int32_t, std::int64_t> epochs_;
  std::map<std::string, std::chrono::steady_clock::time_point> asked_;  // timer keys asked for
  // Pending timers of the partitions this instance owns, in due order: read from the read model
  // when a partition is gained and again every few seconds (which also picks up those another
  // owner set), and added to as this instance sets them; a due entry is asked for and dropped.
  struct timer_ref {
    std::string run, node, timer;
    int attempt = 0;
    auto operator<=>(const timer_ref&) const = default;
  };
  struct partition_timers {
    std::set<std::pair<std::int64_t, timer_ref>> due;
    std::chrono::steady_clock::time_point loaded{};
    bool ever_loaded = false;
    int loads = 0;
  };
  std::mutex timers_mu_;
  std::map<std::int32_t, partition_timers> timers_;
  ::nf::actor::context* ctx_ = nullptr;  // the handler's, while it runs
  std::int32_t partitions_ = 0;

  void post(std::function<void()> job);
  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> workers_;
  std::size_t busy_ = 0;
  bool stopping_ = false;
};

}  // namespace nf::workflows
